from __future__ import annotations

import pytest

from tests.reports.helpers import make_world


@pytest.fixture
async def world(app):
    """Two branches with secretaries and members (the bot's clock is the suite's TEST_NOW)."""
    async with app.sessionmaker() as session:
        created = await make_world(session)
        await session.commit()
    return created

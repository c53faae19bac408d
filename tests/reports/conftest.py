from __future__ import annotations

from datetime import datetime

import pytest

from tests.reports.helpers import make_world


@pytest.fixture
async def world(app):
    """Two branches with secretaries and members; the bot's clock fixed at 20 November 2026, 10:00 local."""
    app.extras["clock"] = lambda: datetime(2026, 11, 20, 10, 0, tzinfo=app.settings.tz)
    async with app.sessionmaker() as session:
        created = await make_world(session)
        await session.commit()
    return created

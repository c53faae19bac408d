from __future__ import annotations

import pytest

from tests.talks.helpers import make_world


@pytest.fixture
async def world(app):
    async with app.sessionmaker() as session:
        created = await make_world(session, app.local_now().date())
        await session.commit()
    return created

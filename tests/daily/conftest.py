"""Fixtures for delivery and daily tests: a fake Bot API server and a bot talking to it."""
from __future__ import annotations

import pytest
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode

from bot.delivery import counts_by_status
from bot.services import outbox
from bot.simulator import FakeTelegramServer
from bot.simulator.harness import make_bot
from storage.db import create_sessionmaker
from tests.support.waiting import wait_until


@pytest.fixture
async def server():
    async with FakeTelegramServer() as fake:
        yield fake


@pytest.fixture
async def api_bot(server):
    bot = make_bot(server, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    yield bot
    await bot.session.close()


@pytest.fixture
def sessionmaker(engine):
    return create_sessionmaker(engine)


async def wait_drained(sessionmaker, timeout: float = 20.0) -> None:
    """Wait (condition, with a timeout) until no delivery is pending, claimed or being sent."""

    async def drained() -> bool:
        async with sessionmaker() as session:
            return await outbox.pending_count(session) == 0

    async def still_pending() -> str:
        async with sessionmaker() as session:
            return f"deliveries still pending: {await counts_by_status(session)}"

    await wait_until(drained, timeout, interval=0.05, message=still_pending)

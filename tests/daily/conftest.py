"""Fixtures for delivery and daily tests: a fake Bot API server and a bot talking to it."""
from __future__ import annotations

import asyncio

import pytest
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode

from bot.services import outbox
from bot.simulator import FakeTelegramServer
from bot.simulator.harness import make_bot
from storage.db import create_sessionmaker


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
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with sessionmaker() as session:
            if await outbox.pending_count(session) == 0:
                return
        if loop.time() > deadline:
            from bot.delivery import counts_by_status

            async with sessionmaker() as session:
                counts = await counts_by_status(session)
            raise AssertionError(f"deliveries still pending after {timeout:.0f} s: {counts}")
        await asyncio.sleep(0.05)

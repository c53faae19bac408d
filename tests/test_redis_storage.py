"""Scaled out, FSM state lives in Redis (REDIS_URL): the join form works there and survives a restart."""
from __future__ import annotations

import os
import uuid

import pytest

from tests.conftest import IN_CI

REDIS_URL = os.environ.get("FIELDMATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_storage():
    from aiogram.fsm.storage.base import DefaultKeyBuilder
    from aiogram.fsm.storage.redis import RedisStorage
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except Exception as exc:  # noqa: BLE001
        await redis.aclose()
        if IN_CI:
            pytest.fail(f"CI requires Redis at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} not reachable: {exc}")
    prefix = f"fm-test-{uuid.uuid4().hex[:8]}"
    storage = RedisStorage(redis, key_builder=DefaultKeyBuilder(prefix=prefix, with_destiny=True))
    yield storage
    async for key in redis.scan_iter(f"{prefix}:*"):
        await redis.delete(key)
    await storage.close()


@pytest.mark.redis
async def test_join_form_state_lives_in_redis_across_dispatchers(app, redis_storage):
    from bot.app import build_dispatcher
    from tests.support.harness import Harness
    from tests.support.mocked_bot import MockedBot
    from tests.test_handlers_join import make_invite

    code = await make_invite(app)
    first = Harness(build_dispatcher(app, storage=redis_storage), MockedBot())
    await first.send(1001, f"/start {code}")
    second = Harness(build_dispatcher(app, storage=redis_storage), MockedBot())
    confirm = await second.send(1001, "李海波")
    assert "李海波" in confirm[0] and "余山供电所" in confirm[0]
    welcome = await second.press(1001, second.button_data("确认"))
    assert any("欢迎" in text for text in welcome)

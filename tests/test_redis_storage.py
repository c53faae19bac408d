"""Scaled out, FSM state lives in Redis (REDIS_URL): the join form works there and survives a restart."""
from __future__ import annotations

import pytest


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

"""Webhook delivery, blocking, server errors, flood limits and call statistics."""

from __future__ import annotations

import pytest
from aiogram.client.default import DefaultBotProperties
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.simulator import Faults, SimDriver, SimUser
from bot.simulator.fake_api import call_stats
from bot.simulator.harness import make_bot

from .conftest import build_dispatcher

LI = SimUser(id=1001, first_name="海波")


async def test_webhook_delivery_with_secret(server):
    bot = make_bot(server, default=DefaultBotProperties(parse_mode="HTML"))
    dp = build_dispatcher()
    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token="s3cret").register(app, path="/hook")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook")
        driver = SimDriver(server, quiet=0.1, timeout=5)
        await driver.send(LI, "/start hook")
        await driver.wait_for(LI.id, "start=hook")
        await driver.send(LI, "/menu")
        await driver.press(LI, "已学习")
        await driver.wait_for(LI.id, lambda m: m.edited and "✅" in m.text)
        # getUpdates is refused while a webhook is set, like Telegram
        from aiogram.exceptions import TelegramConflictError
        with pytest.raises(TelegramConflictError):
            await bot.get_updates()
        await bot.delete_webhook()
        # a wrong secret is rejected by aiogram's handler: the server keeps retrying, not acking
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="wrong")
        uid = server.push_text(LI, "x")
        await server.wait_for(lambda: server.webhook_last_error is not None, 5)
        assert not server.is_acked(uid)
        await bot.delete_webhook(drop_pending_updates=True)
        assert server.is_acked(uid)
    finally:
        await runner.cleanup()
        await bot.session.close()


async def test_block_user_and_server_error(bot_env):
    server, driver, bot = bot_env
    server.add_user(LI)
    uid = server.block_user(LI)
    await server.wait_acked(uid, 5)
    assert server.all_updates[-1]["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(LI.id, "hi")
    server.block_user(LI, blocked=False)
    server.faults = Faults(server_error_calls={1}, latency=0.01)
    with pytest.raises(TelegramServerError):
        await bot.send_message(LI.id, "hi")
    await bot.send_message(LI.id, "hi again")


async def test_flood_limits_and_stats(bot_env):
    server, driver, bot = bot_env
    users = [server.add_user(SimUser(id=3000 + i, first_name=f"u{i}")) for i in range(5)]
    server.faults = Faults(per_chat_per_second=1, global_per_second=100)
    await bot.send_message(users[0].id, "a")
    with pytest.raises(TelegramRetryAfter) as exc:
        await bot.send_message(users[0].id, "b")
    assert exc.value.retry_after == 1
    for u in users[1:]:
        await bot.send_message(u.id, "a")
    stats = call_stats(server.calls)
    assert stats.total == 6 and stats.ok == 5 and stats.by_outcome == {"ok": 5, "429": 1}
    assert stats.duplicates == []
    server.faults = Faults()
    await bot.send_message(users[1].id, "a")
    stats = call_stats(server.calls)
    assert stats.duplicates == [(users[1].id, "a")]
    assert users[1].id in stats.min_gap_per_chat

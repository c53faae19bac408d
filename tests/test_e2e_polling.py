"""End to end: the real polling loop against the local fake Telegram server."""
from __future__ import annotations

from bot.app import build_bot, build_dispatcher
from bot.simulator.driver import SimDriver
from bot.simulator.fake_api import FakeTelegramServer, SimUser
from bot.simulator.harness import polling
from tests.test_handlers_join import make_invite


async def test_menus_per_role_join_help_and_language_over_real_polling(app):
    async with FakeTelegramServer() as server:
        dp = build_dispatcher(app, background=False)
        async with polling(server, dp, bot=build_bot(app.settings, server.base_url)):
            driver = SimDriver(server)
            default_menu = [c["command"] for c in server.get_commands()]
            assert "help" in default_menu and "branch" not in default_menu
            assert [c["command"] for c in server.get_commands(language_code="en")] == default_menu

            secretary = SimUser(id=2001, first_name="书记")
            code = await make_invite(app, role="secretary")
            await step(driver, driver.send(secretary, f"/start {code}"), 2001, "姓名")
            await step(driver, driver.send(secretary, "张书记"), 2001, "确认")
            await step(driver, driver.press(secretary, "确认"), 2001, "欢迎您，张书记")
            staff_menu = [c["command"] for c in server.get_commands({"type": "chat", "chat_id": 2001})]
            assert "members" in staff_menu and "branch" not in staff_menu

            help_reply = await step(driver, driver.send(secretary, "❔ 帮助"), 2001, "/members")
            assert "/branch" not in help_reply.text
            await step(driver, driver.send(secretary, "/language"), 2001, "请选择语言")
            await step(driver, driver.press(secretary, "English"), 2001, "What I can do")


async def step(driver, action, chat_id, expect):
    """Act, then wait (condition based, not on the quiet window) for the answer containing `expect`."""
    since = driver.mark()
    await action
    return await driver.wait_for(chat_id, expect, since=since)

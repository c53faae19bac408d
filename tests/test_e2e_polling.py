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
            await driver.send(secretary, f"/start {code}")
            await driver.send(secretary, "张书记")
            welcome = await driver.press(secretary, "确认")
            assert any("欢迎您，张书记" in m.text for m in welcome)
            staff_menu = [c["command"] for c in server.get_commands({"type": "chat", "chat_id": 2001})]
            assert "members" in staff_menu and "branch" not in staff_menu

            help_reply = await driver.send(secretary, "❔ 帮助")
            assert "/members" in help_reply[-1].text and "/branch" not in help_reply[-1].text
            await driver.send(secretary, "/language")
            english = await driver.press(secretary, "English")
            assert any("What I can do" in m.text for m in english)

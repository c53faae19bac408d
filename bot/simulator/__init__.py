"""Local Telegram simulation: a fake Bot API server, a conversation driver, YAML scripts and
an interactive terminal. Independent of the rest of fieldmate (works for any aiogram bot).

    from bot.simulator import FakeTelegramServer, SimDriver, SimUser
    from bot.simulator.harness import make_bot, polling

    async with FakeTelegramServer() as server:                 # listens on 127.0.0.1:<free port>
        bot = make_bot(server)                                 # Bot with TelegramAPIServer.from_base(...)
        async with polling(server, dispatcher, bot):           # real dp.start_polling in a task
            driver = SimDriver(server)
            li = SimUser(id=1001, first_name="海波")
            replies = await driver.send(li, "/start")          # -> list[BotMessage]
            await driver.press(li, "已学习")                    # inline button by text
            await driver.wait_for(li.id, lambda m: "✅" in m.text)

Modules: ``fake_api`` (a package: server, models, faults, transport, methods, stats), ``driver`` (SimDriver, BotMessage),
``harness`` (make_bot, polling), ``script`` (YAML conversation scripts), ``repl`` (terminal),
``html`` (Telegram HTML parsing).
"""

from .driver import BotMessage, Button, ExpectationTimeout, SimDriver
from .fake_api import (
    APIError, CallRecord, CallStats, FakeTelegramServer, Faults, SimChat, SimUser, StoredMessage, call_stats,
)

__all__ = [
    "APIError", "BotMessage", "Button", "CallRecord", "CallStats", "ExpectationTimeout", "FakeTelegramServer",
    "Faults", "SimChat", "SimDriver", "SimUser", "StoredMessage", "call_stats",
]

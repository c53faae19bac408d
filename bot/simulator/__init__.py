"""Local Telegram simulation: a fake Bot API server, a conversation driver, YAML scripts and
an interactive terminal. Independent of the rest of fieldmate (works for any aiogram bot)."""

from .driver import BotMessage, Button, ExpectationTimeout, SimDriver
from .fake_api import APIError, CallRecord, FakeTelegramServer, Faults, SimChat, SimUser, StoredMessage

__all__ = [
    "APIError", "BotMessage", "Button", "CallRecord", "ExpectationTimeout", "FakeTelegramServer",
    "Faults", "SimChat", "SimDriver", "SimUser", "StoredMessage",
]

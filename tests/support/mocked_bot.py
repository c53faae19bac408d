"""A Bot whose session records API calls and answers them with plausible results, for feed_update tests.

Modelled on aiogram's own tests/mocked_bot.py (not shipped in the wheel)."""
from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, Message, User

BOT_USER = User(id=42, is_bot=True, first_name="安全先锋助手", username="fieldmate_bot")


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []
        self._ids = itertools.count(1000)
        self.answered_callbacks: set[str] = set()
        self.stale_file_ids: set[str] = set()  # ids Telegram no longer serves ("wrong file identifier")
        self.before_call: Callable[[TelegramMethod[Any]], Awaitable[None]] | None = None  # a test's probe

    async def make_request(self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None) -> TelegramType:
        name = type(method).__name__
        if self.before_call is not None:
            await self.before_call(method)
        if name == "AnswerCallbackQuery":  # like Telegram: a callback query can be answered once
            if method.callback_query_id in self.answered_callbacks:
                raise TelegramBadRequest(method=method, message="Bad Request: query is too old and response "
                                                               "timeout expired or query ID is invalid")
            self.answered_callbacks.add(method.callback_query_id)
        self.calls.append(method)
        sent_ids = [getattr(method, "photo", None)] + [getattr(m, "media", None) for m in getattr(method, "media", None) or []]
        if any(isinstance(file_id, str) and file_id in self.stale_file_ids for file_id in sent_ids):
            raise TelegramBadRequest(method=method, message="Bad Request: wrong file identifier/HTTP URL specified")
        if name == "GetMe":
            return BOT_USER  # type: ignore[return-value]
        if name in ("SendMessage", "EditMessageText", "SendPhoto", "SendDocument", "EditMessageReplyMarkup"):
            chat_id = getattr(method, "chat_id", None) or 0
            return Message(  # type: ignore[return-value]
                message_id=getattr(method, "message_id", None) or next(self._ids),
                date=datetime.now(),
                chat=Chat(id=int(chat_id), type="private"),
                from_user=BOT_USER,
                text=getattr(method, "text", None),
            )
        return True  # type: ignore[return-value]

    async def stream_content(self, *args: Any, **kwargs: Any):  # pragma: no cover - not used by handlers
        yield b""

    async def close(self) -> None:
        return None


class MockedBot(Bot):
    session: RecordingSession

    def __init__(self) -> None:
        super().__init__("42:TEST", session=RecordingSession(), default=DefaultBotProperties(parse_mode=ParseMode.HTML))
        self._me = BOT_USER

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Texts the bot sent or edited (optionally to one chat), in order; alerts included."""
        out = []
        for call in self.session.calls:
            text = getattr(call, "text", None)
            if text is None:
                continue
            if chat_id is not None and getattr(call, "chat_id", chat_id) != chat_id:
                continue
            out.append(text)
        return out

    def clear(self) -> None:
        self.session.calls.clear()

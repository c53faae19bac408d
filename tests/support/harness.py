"""Drive the real Dispatcher with synthetic updates (Dispatcher.feed_update) and read what the bot sent."""
from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from aiogram import Dispatcher
from aiogram.types import (
    CallbackQuery,
    Chat,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)

from tests.support.mocked_bot import MockedBot

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


class Harness:
    def __init__(self, dp: Dispatcher, bot: MockedBot) -> None:
        self.dp = dp
        self.bot = bot

    @staticmethod
    def user(user_id: int, first_name: str = "用户") -> User:
        return User(id=user_id, is_bot=False, first_name=first_name, language_code="zh-hans")

    async def send(self, user_id: int, text: str | None = None, *, chat_id: int | None = None,
                   chat_type: str = "private", **message_fields: Any) -> list[str]:
        """Feed one message; return the texts the bot sent in reply (alerts included)."""
        chat = Chat(id=chat_id or user_id, type=chat_type, title=None if chat_type == "private" else "班组群")
        message = Message(message_id=next(_message_ids), date=datetime.now(), chat=chat,
                          from_user=self.user(user_id), text=text, **message_fields)
        return await self._feed(Update(update_id=next(_update_ids), message=message))

    async def press(self, user_id: int, callback_data: str, message_text: str = "…", *, chat_id: int | None = None,
                    chat_type: str = "private") -> list[str]:
        """Feed a callback query as if the user pressed an inline button carrying `callback_data` (on a message
        in their private chat, or in the group `chat_id`)."""
        chat = Chat(id=chat_id or user_id, type=chat_type, title=None if chat_type == "private" else "班组群")
        message = Message(message_id=next(_message_ids), date=datetime.now(), chat=chat, text=message_text)
        query = CallbackQuery(id=str(next(_update_ids)), from_user=self.user(user_id), chat_instance="x",
                              data=callback_data, message=message)
        return await self._feed(Update(update_id=next(_update_ids), callback_query=query))

    async def _feed(self, update: Update) -> list[str]:
        before = len(self.bot.session.calls)
        await self.dp.feed_update(self.bot, update)
        return [call.text for call in self.bot.session.calls[before:] if getattr(call, "text", None)]

    def last_keyboard(self) -> InlineKeyboardMarkup | None:
        for call in reversed(self.bot.session.calls):
            markup = getattr(call, "reply_markup", None)
            if isinstance(markup, InlineKeyboardMarkup):
                return markup
        return None

    def button_data(self, text_part: str) -> str:
        markup = self.last_keyboard()
        assert markup is not None, "the bot sent no inline keyboard"
        for row in markup.inline_keyboard:
            for button in row:
                if text_part in button.text:
                    return button.callback_data
        raise AssertionError(f"no button containing {text_part!r}")

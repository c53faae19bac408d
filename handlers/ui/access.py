"""Filters that authorize the current actor (resolved by bot.middlewares.ActorMiddleware)."""
from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, TelegramObject

from bot.services.membership import Actor


class IsMember(Filter):
    """An active member (admins count as members)."""

    async def __call__(self, event: TelegramObject, actor: Actor | None = None, **_: Any) -> bool:
        return actor is not None and actor.is_member


class IsNotMember(Filter):
    async def __call__(self, event: TelegramObject, actor: Actor | None = None, **_: Any) -> bool:
        return actor is None or not actor.is_member


class IsStaff(Filter):
    """A secretary (of their own branch) or an admin."""

    async def __call__(self, event: TelegramObject, actor: Actor | None = None, **_: Any) -> bool:
        return actor is not None and (actor.is_admin or actor.is_secretary)


class IsAdmin(Filter):
    async def __call__(self, event: TelegramObject, actor: Actor | None = None, **_: Any) -> bool:
        return actor is not None and actor.is_admin


class InPrivateChat(Filter):
    """The message, or the message a pressed button sits on, is in a private chat with the bot. A button
    without a message (inline mode) does not count as private."""

    async def __call__(self, event: TelegramObject, **_: Any) -> bool:
        message = event.message if isinstance(event, CallbackQuery) else event
        chat = getattr(message, "chat", None)  # also on an InaccessibleMessage (an old or deleted one)
        return chat is not None and chat.type == "private"

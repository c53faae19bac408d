"""Outer middlewares: one DB session per update, the current actor, and the actor's language."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18nMiddleware
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.fsm_storage import update_session
from bot.services.membership import Actor, ensure_admin_member, member_by_telegram_id
from storage.models import Role

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
LOCALE_KEY = "actor_locale"  # the member's chosen language, copied when the actor is resolved


# The update's session and the task handling the update, for CommitBeforeReply. The task is kept because a
# task the handler starts inherits this context, and must never commit the handler's session from outside.
_replying_update: ContextVar[tuple[AsyncSession, asyncio.Task[Any] | None] | None] = ContextVar(
    "replying_update", default=None
)


class DbSessionMiddleware(BaseMiddleware):
    """Opens a session for the update and commits only if the handler finished without error; what the
    handler wrote is also committed before each of its calls to Telegram (CommitBeforeReply)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        CommitBeforeReply.install(data.get("bot"))
        async with self.sessionmaker() as session:
            data["session"] = session
            token = update_session.set(session)
            replying = _replying_update.set((session, asyncio.current_task()))
            try:
                result = await handler(event, data)
            except Exception:
                await session.rollback()
                raise
            finally:
                _replying_update.reset(replying)
                update_session.reset(token)
            await session.commit()
            return result


class CommitBeforeReply(BaseRequestMiddleware):
    """Commits the update's transaction before the handler tells Telegram anything.

    A reply such as 「已通过」 sent before the commit is a race: the user (or the member the reviewer just
    answered) can act on it at once and still read the old state from another update. So whatever a handler
    has written is durable by the time anyone can see a message about it. A handler that fails after
    replying keeps what it had announced; its later writes roll back."""

    @classmethod
    def install(cls, bot: Bot | None) -> None:
        """Once per bot: the first update through the dispatcher adds the middleware to that bot's session."""
        if bot is None or any(isinstance(m, cls) for m in bot.session.middleware):
            return
        bot.session.middleware(cls())

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Any:
        replying = _replying_update.get()
        if replying is not None:
            session, task = replying
            if task is asyncio.current_task() and session.in_transaction() and not _is_read_only(method):
                await session.commit()
        return await make_request(bot, method)


def _is_read_only(method: TelegramMethod[Any]) -> bool:
    """getMe, getFile, getChatMember…: reading from Telegram tells the user nothing."""
    return method.__api_method__.startswith("get")


class ActorMiddleware(BaseMiddleware):
    """Resolves who is asking once per update; handlers and filters authorize against `actor`."""

    def __init__(self, admin_ids: set[int]) -> None:
        self.admin_ids = admin_ids

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is not None and not user.is_bot:
            session: AsyncSession = data["session"]
            member = await member_by_telegram_id(session, user.id)
            configured_admin = user.id in self.admin_ids
            if configured_admin and member is None:
                member = await ensure_admin_member(session, user.id, user.full_name)
            is_admin = configured_admin or bool(member and member.active and member.role == Role.ADMIN)
            data["actor"] = Actor(telegram_id=user.id, member=member, is_admin=is_admin)
            # A plain copy for the language middleware: after a failed handler the transaction is rolled back
            # and `member` can no longer load its attributes, yet the apology must still be in their language.
            data[LOCALE_KEY] = member.locale if member else None
        return await handler(event, data)


class ActorI18nMiddleware(I18nMiddleware):
    """The member's chosen language, else the deployment default (not Telegram's client language:
    most field phones run English UIs while their users expect Chinese)."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        locale = data.get(LOCALE_KEY)
        return locale if locale in self.i18n.available_locales else self.i18n.default_locale

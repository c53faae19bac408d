"""Outer middlewares: one DB session per update and its commit, the current actor, and the actor's language."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18nMiddleware
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.fsm_storage import update_session
from bot.services.membership import Actor, ensure_admin_member, member_by_telegram_id
from storage.models import Role
from storage.side_reads import SideReads

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
SLOT_KEY = "update_slot"  # the update's UpdateSlot, in the handler data (a handler takes it as `update_slot`)


class UpdateSlot:
    """The place one update holds among those worked on at once (UpdateSlots)."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots
        self.held = True

    async def step_aside(self) -> None:
        """Before a long wait for something slow and shared (a question queued for the knowledge engine's
        workers): end the update's transaction, so no pooled connection waits with it (nothing is written before
        such a wait), and give the slot to the next update. The update then finishes outside the bound: what is
        left after the wait (store the answer, reply) is short, and taking the slot back could wait behind the
        very updates it let in."""
        session = update_session.get()
        if session is not None:
            await commit_if_open(session)
        self.free()

    def free(self) -> None:
        if self.held:
            self.held = False
            self._slots.release()


class UpdateSlots(BaseMiddleware):
    """At most `size` updates are worked on at once, but an update that steps aside (UpdateSlot.step_aside) no
    longer counts.

    aiogram bounds the updates in flight itself (start_polling's tasks_concurrency_limit), and a question waiting
    for one of the knowledge engine's workers held one of those places: a burst of questions at the pre-shift
    meeting filled all of them, and every /help, join and acknowledgement behind them waited for the questions
    (profile of a 500-user run under CPU contention). aiogram's limit is now this one plus the questions allowed
    to wait (settings.max_questions_waiting, bot/app.py polling_options); this is the bound on work."""

    def __init__(self, size: int) -> None:
        self._slots = asyncio.Semaphore(size)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        await self._slots.acquire()
        slot = data[SLOT_KEY] = UpdateSlot(self._slots)
        try:
            return await handler(event, data)
        finally:
            slot.free()
LOCALE_KEY = "actor_locale"  # the member's chosen language, copied when the actor is resolved


class DbSessionMiddleware(BaseMiddleware):
    """One DB session per update. Registered before aiogram's FSM middleware, so the chat's state is read
    through this session too (not a second session and transaction for every update); it connects lazily, at
    the first query, which comes inside the chat's lock. CommitMiddleware ends the transaction."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        CommitBeforeTelling.install(data.get("bot"))
        async with self.sessionmaker() as session:
            data["session"] = session
            session.info[_OWNER] = asyncio.current_task()
            token = update_session.set(session)
            try:
                return await handler(event, data)
            finally:
                update_session.reset(token)


_OWNER = "fieldmate_update_task"  # the task handling the update, in its session's info


async def commit_before_telling() -> None:
    """Commit what the update has stored so far, if this is the update's own task (called before every Bot API
    call by CommitBeforeTelling).

    What the user is told is then stored before they read it (their next update, or the secretary's /review,
    sees it), and a SQLite write transaction no longer stays open across the HTTP call to Telegram: under
    load that call took long, and every other update's write waited for it. A failure later in the handler
    rolls back only what came after the last message; the user still gets the apology."""
    session = update_session.get()
    if session is None or session.info.get(_OWNER) is not asyncio.current_task():
        return  # no update, or a helper task of one (e.g. "typing…"): never touch the session from there
    await commit_if_open(session)


async def commit_if_open(session: AsyncSession) -> None:
    """Commit unless there is nothing to: `AsyncSession.commit` otherwise begins a transaction only to end it."""
    if session.in_transaction() or session.new or session.dirty or session.deleted:
        await session.commit()


class CommitBeforeTelling(BaseRequestMiddleware):
    """Request middleware: an update's changes are committed before the bot tells the user anything
    (commit_before_telling)."""

    @classmethod
    def install(cls, bot: Bot | None) -> None:
        """On the bot's session, once: the first update through the dispatcher adds it to whichever bot
        carries it (build_bot's, the simulator's, the tests'), so no path can reply before committing."""
        if bot is not None and not any(isinstance(m, cls) for m in bot.session.middleware):
            bot.session.middleware(cls())

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        await commit_before_telling()
        return await make_request(bot, method)


class CommitMiddleware(BaseMiddleware):
    """Commits the update's session only if the handler finished without error (rolls back otherwise), inside
    the chat's lock (after the FSM middleware): the chat's next update sees everything this one stored."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        session: AsyncSession = data["session"]
        try:
            result = await handler(event, data)
        except Exception:
            await session.rollback()
            raise
        await commit_if_open(session)
        return result


class ActorMiddleware(BaseMiddleware):
    """Resolves who is asking once per update; handlers and filters authorize against `actor`."""

    def __init__(self, admin_ids: set[int], side_reads: SideReads | None = None) -> None:
        self.admin_ids = admin_ids
        self.side_reads = side_reads

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is not None and not user.is_bot:
            session: AsyncSession = data["session"]
            member = (await self.side_reads.member(session, user.id) if self.side_reads is not None
                      else await member_by_telegram_id(session, user.id))
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

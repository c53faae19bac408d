"""Composition root: builds the database, translations, Bot and Dispatcher from one Settings object."""
from __future__ import annotations

import logging
from collections.abc import Awaitable

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.commands import set_default_commands, set_staff_commands
from bot.config import Settings
from bot.context import App
from bot.features import build_menu, build_routers, digest_sections, install_errors
from bot.hot_path import inline_magic_filters
from bot.i18n import DOMAIN, compile_catalogs
from bot.middlewares import (
    UpdateSlots,
    ActorI18nMiddleware,
    ActorMiddleware,
    CommitMiddleware,
    DbSessionMiddleware,
)
from bot.telegram_api import JsonBodySession, PinResponseModels
from handlers.ui.menu import Menu
from storage.db import create_engine, create_sessionmaker, sqlite_file
from storage.migrate import upgrade
from storage.side_reads import SideReads

log = logging.getLogger("fieldmate")
SIMULATOR_TOKEN = "123456789:SIMULATOR-fieldmate-local-token-000"


async def create_app(settings: Settings, migrate: bool = True, engine: AsyncEngine | None = None) -> App:
    engine = engine or create_engine(settings.database_url, **pool_options(settings))
    if migrate:
        await upgrade(engine)
    i18n = I18n(path=compile_catalogs(), default_locale=settings.default_locale, domain=DOMAIN)
    return App(settings=settings, engine=engine, sessionmaker=create_sessionmaker(engine), i18n=i18n,
               digest_sections=digest_sections(), side_reads=SideReads.for_engine(engine))


def pool_options(settings: Settings) -> dict:
    """A SQLite file keeps a connection per update in flight plus a few for the sender and the scheduler, and
    room for bursts (connections are cheap there: a thread each; writes take turns anyway). With half as many
    kept, a burst of 32 updates opened and closed a connection (and its thread) for every eighth update.
    PostgreSQL keeps SQLAlchemy's defaults: the server's connection limit is shared by the fleet."""
    if sqlite_file(settings.database_url) is None:
        return {}
    return {"pool_size": settings.max_updates_in_flight + 4, "max_overflow": settings.max_updates_in_flight}


def polling_options(settings: Settings) -> dict:
    """How `start_polling` runs updates: as tasks, `max_updates_in_flight` worked on at a time (UpdateSlots) and
    up to `max_questions_waiting` more waiting for the knowledge engine."""
    return {"tasks_concurrency_limit": settings.max_updates_in_flight + settings.max_questions_waiting}


def build_bot(settings: Settings, api_base: str | None = None) -> Bot:
    base = api_base or settings.telegram_api_base
    session = JsonBodySession(api=TelegramAPIServer.from_base(base)) if base else JsonBodySession()
    session.middleware(PinResponseModels())  # aiogram rebuilt a response model per call under load otherwise
    token = settings.bot_token.get_secret_value() if settings.bot_token else SIMULATOR_TOKEN
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def build_event_isolation(app: App) -> BaseEventIsolation:
    """One chat's updates are handled one after another (a photo album arrives as several updates at
    once and must not race on the same form); across processes through Redis when scaled out."""
    if app.settings.redis_url:
        from aiogram.fsm.storage.redis import RedisEventIsolation

        return RedisEventIsolation.from_url(app.settings.redis_url)
    return SimpleEventIsolation()


def build_dispatcher(app: App, storage: BaseStorage | None = None, background: bool = True) -> Dispatcher:
    """All routers and middlewares; with `background`, starting polling also starts the knowledge
    engine, the delivery sender and the scheduler (tests that drive updates directly leave it off)."""
    # disable_fsm: aiogram would register its FSM middleware first; it is registered below, inside the session
    dp = Dispatcher(storage=storage or app.form_storage(), events_isolation=build_event_isolation(app), disable_fsm=True)
    dp["app"] = app
    dp["settings"] = app.settings
    dp["menu"] = build_menu()
    install_errors()
    dp.update.outer_middleware(UpdateSlots(app.settings.max_updates_in_flight))
    dp.update.outer_middleware(DbSessionMiddleware(app.sessionmaker))
    dp.update.outer_middleware(dp.fsm)  # the chat's lock, then its state read through the update's session
    dp.update.outer_middleware(CommitMiddleware())
    dp.update.outer_middleware(ActorMiddleware(set(app.settings.admin_ids), app.side_reads))
    ActorI18nMiddleware(app.i18n).setup(dp)
    dp.include_routers(*build_routers())
    inline_magic_filters(dp)
    dp.errors.register(report_error)
    dp.startup.register(on_startup)
    if background:
        dp.startup.register(start_background)
        dp.shutdown.register(stop_background)
    return dp


async def on_startup(bot: Bot, app: App, menu: Menu) -> None:
    from sqlalchemy import select

    from storage.models import Member

    await set_default_commands(bot, app.i18n, menu)
    async with app.sessionmaker() as session:
        staff = (await session.scalars(select(Member).where(Member.role != "member", Member.active.is_(True)))).all()
    await set_staff_commands(bot, app.i18n, staff, app.settings.admin_ids, menu)


async def start_background(bot: Bot, app: App) -> None:
    from bot.lifecycle import start_background as start

    await start(app, bot)


async def stop_background(app: App) -> None:
    from bot.lifecycle import stop_background as stop

    await stop(app)


async def report_error(event: ErrorEvent, bot: Bot) -> bool:
    """Log the real cause once for operators; the user gets a short apology in their language (never a
    traceback), and a pressed button always stops spinning. A callback query can be answered only once: when
    the handler had already answered it, the apology comes as a message instead."""
    update = event.update
    log.error("update %s failed", update.update_id, exc_info=event.exception)
    apology = _("Sorry, something went wrong. Please try again.")
    query = update.callback_query
    if query is not None and await _apologise(query.answer(apology, show_alert=True)):
        return True
    message = update.message or (query.message if query else None)
    if message is not None:
        await _apologise(bot.send_message(message.chat.id, apology))
    return True


async def _apologise(call: Awaitable[object]) -> bool:
    try:
        await call
    except Exception as error:  # noqa: BLE001 - the apology failing must not hide the original error
        log.warning("could not send the apology: %s", error)
        return False
    return True

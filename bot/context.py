"""What the running bot holds, typed: built once by the composition root (bot/app.py) and injected into
handlers (dispatcher workflow_data "app") and jobs. Everything a handler or job needs is a named field here;
the background parts (knowledge engine, delivery, scheduler) are None until `lifecycle` starts them."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from aiogram.fsm.storage.base import BaseStorage
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.fsm_storage import SqlStorage, TrackedRedisStorage
from bot.services.daily import ClauseSource
from bot.services.digest import DigestSection
from bot.services.item_rules import EngineRuleLookup, RuleLookup
from storage.side_reads import SideReads

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.delivery.turn import TurnTakingSender
    from bot.knowledge_engine import KnowledgeEngine


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    i18n: I18n
    clock: Clock = field(default_factory=Clock)
    fsm_storage: BaseStorage | None = None
    knowledge: KnowledgeEngine | None = None  # set once the index is open (answers wait for it)
    knowledge_task: asyncio.Task[None] | None = None  # opening/syncing the index in the background
    daily_clause_source: ClauseSource | None = None  # regulation clauses as daily items, from the engine
    delivery: TurnTakingSender | None = None
    scheduler: AsyncIOScheduler | None = None
    daily_files_signature: tuple[tuple[str, int, int], ...] | None = None  # knowledge/daily/*.yaml as last loaded
    digest_sections: tuple[DigestSection, ...] = ()  # every feature's digest section (bot/features.py)
    kb_pending: tuple[tuple[str, int, int], ...] | None = None  # knowledge files waiting to sync, as the last scan saw them
    rule_lookup: RuleLookup | None = None  # finds the rule a hazard or violation breaks; None: the knowledge engine's (tests inject one)
    side_reads: SideReads | None = None  # an update's first reads beside its session (SQLite files only)

    def form_storage(self) -> BaseStorage:
        """The FSM storage of this app, made once: the dispatcher and the idle-form scan share it
        (Redis when scaled out, else the SQL database)."""
        if self.fsm_storage is None:
            if self.settings.redis_url:
                self.fsm_storage = TrackedRedisStorage.from_url(self.settings.redis_url)
            else:
                self.fsm_storage = SqlStorage(self.sessionmaker, self.side_reads)
        return self.fsm_storage

    def item_rule_lookup(self) -> RuleLookup | None:
        """How the rule a hazard or violation breaks is found now: the injected lookup, else the knowledge
        engine's once its index is open; None (no engine yet): items get no rule, and no error."""
        if self.rule_lookup is not None:
            return self.rule_lookup
        return EngineRuleLookup(self.knowledge) if self.knowledge is not None else None

    def local_now(self) -> datetime:
        """Now in the bot's time zone (settings.timezone), from the injected clock."""
        return self.clock.local(self.settings.tz)

    def kick_delivery(self) -> None:
        """Wake the sender after rows were queued (no-op where no sender runs, e.g. CLI and tests)."""
        if self.delivery is not None:
            self.delivery.kick()

    async def close(self) -> None:
        if self.side_reads is not None:
            await self.side_reads.close()
        await self.engine.dispose()

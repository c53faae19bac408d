"""aiogram FSM storage in the project's SQL database, and idle-form lookup for it and for Redis.

Hand-written rather than a third-party package because the state must live in our own migrated schema
(SQLite by default, PostgreSQL when scaled out) so a restart never loses a half-filled form, and the
few small PyPI packages for this target SQLite only. Redis is used instead when REDIS_URL is set
(`TrackedRedisStorage`: aiogram's RedisStorage that also remembers when each conversation last changed).

Both storages answer `idle(state, touched_before)` and `discard(form)`, which the idle-form scan
(schedulers/reports.py) uses to remind about and finally drop forms nobody finished.
"""
from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.exceptions import WatchError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import FsmRecord, utcnow
from storage.side_reads import SideReads


# The update's own session (set by DbSessionMiddleware): FSM changes then commit or roll back together
# with the handler's domain changes, and SQLite never sees two writers from one update; the FSM
# middleware's read of the chat's state goes through it too.
update_session: ContextVar[AsyncSession | None] = ContextVar("update_session", default=None)


@dataclass
class IdleForm:
    key: str  # the storage's key of the conversation
    data: dict[str, Any]
    touched_at: datetime  # naive UTC, like the database's timestamps


_WROTE_FORM = "fieldmate_wrote_form"  # in the update session's info: this update changed a form state


class SqlStorage(BaseStorage):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], side_reads: SideReads | None = None) -> None:
        self._sessionmaker = sessionmaker
        self._side_reads = side_reads
        self._keys = DefaultKeyBuilder(with_destiny=True)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        state, _ = await self._read(key)
        return state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=json.dumps(dict(data), ensure_ascii=False, default=str))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        _, data = await self._read(key)
        return json.loads(data) if data else {}

    async def close(self) -> None:
        return None

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        shared = update_session.get()
        if shared is not None:
            yield shared
            await shared.flush()
            return
        async with self._sessionmaker() as session, session.begin():
            yield session

    async def _read(self, key: StorageKey) -> tuple[str | None, str | None]:
        """(state, data) of the conversation; an update that has not changed a form yet reads what was committed
        beside its session (storage/side_reads.py), one that has reads its own writes through it."""
        shared = update_session.get()
        if self._side_reads is not None and shared is not None and not shared.info.get(_WROTE_FORM):
            return await self._side_reads.form_state(self._keys.build(key)) or (None, None)
        async with self._session() as session:
            record = await session.get(FsmRecord, self._keys.build(key), populate_existing=True)
            return (record.state, record.data) if record else (None, None)

    async def _write(self, key: StorageKey, **values: Any) -> None:
        async with self._session() as session:
            session.info[_WROTE_FORM] = True
            record = await session.get(FsmRecord, self._keys.build(key), with_for_update=True)
            if record is None:
                record = FsmRecord(key=self._keys.build(key), state=None, data="{}")
                session.add(record)
            for name, value in values.items():
                setattr(record, name, value)
            record.updated_at = utcnow()
            if record.state is None and record.data == "{}":  # finished conversations leave no row
                if record in session.new:
                    session.expunge(record)
                else:
                    await session.delete(record)

    async def idle(self, state: str, touched_before: datetime) -> list[IdleForm]:
        """Conversations in `state` unchanged since `touched_before` (naive UTC)."""
        async with self._sessionmaker() as session:
            rows = (await session.scalars(
                select(FsmRecord).where(FsmRecord.state == state, FsmRecord.updated_at <= touched_before)
            )).all()
        return [IdleForm(row.key, json.loads(row.data or "{}"), row.updated_at) for row in rows]

    async def discard(self, form: IdleForm) -> bool:
        """Drop the conversation unless it changed since it was found idle; True when dropped."""
        async with self._sessionmaker() as session, session.begin():
            result = await session.execute(
                delete(FsmRecord).where(FsmRecord.key == form.key, FsmRecord.updated_at == form.touched_at)
            )
        return result.rowcount == 1


class TrackedRedisStorage(RedisStorage):
    """aiogram's RedisStorage plus a sorted set of conversation keys scored by their last change, so idle
    forms can be found without scanning every key (Redis has no "updated at" of its own to query)."""

    @property
    def _touched(self) -> str:
        return self._part(self.key_builder.prefix, "touched")  # type: ignore[attr-defined]

    def _part(self, base: str, part: str) -> str:
        return f"{base}{self.key_builder.separator}{part}"  # type: ignore[attr-defined]

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await super().set_state(key, state)
        await self._touch(key)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await super().set_data(key, data)
        await self._touch(key)

    async def _touch(self, key: StorageKey) -> None:
        base = self.key_builder.build(key)
        if await self.redis.exists(self._part(base, "state"), self._part(base, "data")):
            await self.redis.zadd(self._touched, {base: time.time()})
        else:  # finished conversation: nothing left to track
            await self.redis.zrem(self._touched, base)

    async def idle(self, state: str, touched_before: datetime) -> list[IdleForm]:
        cutoff = touched_before.replace(tzinfo=timezone.utc).timestamp()
        forms = []
        for raw, score in await self.redis.zrangebyscore(self._touched, "-inf", cutoff, withscores=True):
            base = raw.decode() if isinstance(raw, bytes) else raw
            current = await self.redis.get(self._part(base, "state"))
            if (current.decode() if isinstance(current, bytes) else current) != state:
                continue
            data = await self.redis.get(self._part(base, "data"))
            touched = datetime.fromtimestamp(score, timezone.utc).replace(tzinfo=None)
            forms.append(IdleForm(base, json.loads(data) if data else {}, touched))
        return forms

    async def discard(self, form: IdleForm) -> bool:
        expected = form.touched_at.replace(tzinfo=timezone.utc).timestamp()
        async with self.redis.pipeline(transaction=True) as pipe:
            await pipe.watch(self._touched)  # a change to the form meanwhile aborts the delete
            score = await pipe.zscore(self._touched, form.key)
            if score is None or abs(score - expected) > 1e-3:
                await pipe.unwatch()
                return False
            pipe.multi()
            pipe.delete(self._part(form.key, "state"), self._part(form.key, "data"))
            pipe.zrem(self._touched, form.key)
            try:
                await pipe.execute()
            except WatchError:  # touched between the check and the delete
                return False
        return True

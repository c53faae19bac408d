"""aiogram FSM storage in the project's SQL database.

Hand-written rather than a third-party package because the state must live in our own migrated schema
(SQLite by default, PostgreSQL when scaled out) so a restart never loses a half-filled form, and the
few small PyPI packages for this target SQLite only. Redis is used instead when REDIS_URL is set.
"""
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import FsmRecord, utcnow


# The update's own session (set by DbSessionMiddleware): FSM changes then commit or roll back together
# with the handler's domain changes, and SQLite never sees two writers from one update.
update_session: ContextVar[AsyncSession | None] = ContextVar("update_session", default=None)


class SqlStorage(BaseStorage):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._keys = DefaultKeyBuilder(with_destiny=True)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        record = await self._read(key)
        return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=json.dumps(dict(data), ensure_ascii=False, default=str))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        record = await self._read(key)
        return json.loads(record.data) if record else {}

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

    async def _read(self, key: StorageKey) -> FsmRecord | None:
        async with self._session() as session:
            return await session.get(FsmRecord, self._keys.build(key), populate_existing=True)

    async def _write(self, key: StorageKey, **values: Any) -> None:
        async with self._session() as session:
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

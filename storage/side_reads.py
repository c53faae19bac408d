"""The two reads every update starts with (who is asking, the chat's form state), on SQLite, on a read-only
connection of their own.

Through the update's session those reads cost more of the event loop than everything else a simple command does
(profile of a /help burst, bench/load.py: a pooled connection checked out and returned, an ORM query compiled and
loaded, a commit, for every update), and a command that only reads then needed none of it. Here they are two plain
statements on one connection that never writes (WAL: a read never waits for a writer, and sees what was committed
when it ran), and the member row becomes an ORM object of the update's session without a query
(`make_transient_to_detached`, SQLAlchemy's documented way to manufacture a loaded object): the handler can change
it like any loaded row. Only the first reads of an update may come from here: once the update has written, it must
read its own uncommitted writes through its session (bot/fsm_storage.py keeps to that).

PostgreSQL keeps the session path: its connections are shared by the fleet, and a second one per process for
reads is not worth the saving there.
"""
from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from storage.db import sqlite_file
from storage.models import Branch, FsmRecord, Member


class _Columns:
    """A table's columns as `SELECT` text and the dialect's converters of their raw SQLite values (text dates,
    0/1 booleans), so the objects built here equal what a query would load."""

    def __init__(self, table: Table, alias: str, engine: AsyncEngine) -> None:
        self.names = [column.key for column in table.columns]
        self.sql = ", ".join(f"{alias}.{column.name}" for column in table.columns)
        dialect = engine.sync_engine.dialect
        self.convert = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in table.columns]

    def values(self, raw: tuple) -> dict[str, Any]:
        return {name: (convert(value) if convert and value is not None else value)
                for name, value, convert in zip(self.names, raw, self.convert, strict=True)}


class SideReads:
    """The update's first reads on SQLite (see the module docstring); `None` from `for_engine` elsewhere."""

    def __init__(self, engine: AsyncEngine, path: str) -> None:
        self._path = path
        self._members = _Columns(Member.__table__, "m", engine)
        self._branches = _Columns(Branch.__table__, "b", engine)
        self._member_sql = (f"SELECT {self._members.sql}, {self._branches.sql} FROM {Member.__tablename__} m "
                            f"LEFT JOIN {Branch.__tablename__} b ON b.id = m.branch_id WHERE m.telegram_id = ?")
        self._state_sql = f"SELECT state, data FROM {FsmRecord.__tablename__} WHERE key = ?"
        # One thread owns the connection. Not aiosqlite: its thread keeps the process alive until the connection
        # is closed, and an executor's thread ends with the interpreter, closed or not.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fieldmate-side-reads")
        self._connection: sqlite3.Connection | None = None  # used in that thread only

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> SideReads | None:
        path = sqlite_file(engine.url)  # an in-memory database is private to each connection: nothing to read beside it
        return cls(engine, path) if path is not None else None

    def _fetch_in_thread(self, sql: str, parameters: tuple) -> tuple | None:
        if self._connection is None:
            self._connection = sqlite3.connect(self._path, check_same_thread=False)
            self._connection.execute("PRAGMA query_only=ON")  # this connection never writes
        return self._connection.execute(sql, parameters).fetchone()

    async def _fetch_one(self, sql: str, parameters: tuple) -> tuple | None:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._fetch_in_thread, sql, parameters)

    async def member(self, session: AsyncSession, telegram_id: int) -> Member | None:
        """The member with this Telegram id (and their branch), as loaded objects of `session`, or None. An object
        the session already holds is returned as it is there."""
        row = await self._fetch_one(self._member_sql, (telegram_id,))
        if row is None:
            return None
        width = len(self._members.names)
        values = self._members.values(row[:width])
        held = session.identity_map.get(session.sync_session.identity_key(Member, values["id"]))
        if held is not None:
            return held
        member = _loaded(Member(**values))
        branch = None
        if values["branch_id"] is not None:
            branch_values = self._branches.values(row[width:])
            held_branch = session.identity_map.get(session.sync_session.identity_key(Branch, branch_values["id"]))
            branch = held_branch or _loaded(Branch(**branch_values))
        set_committed_value(member, "branch", branch)
        session.add(member)
        return member

    async def form_state(self, key: str) -> tuple[str | None, str] | None:
        """(state, data) of a conversation as last committed, or None when it has no row."""
        row = await self._fetch_one(self._state_sql, (key,))
        return (row[0], row[1]) if row is not None else None

    def _close_in_thread(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_in_thread)


def _loaded(instance: Any) -> Any:
    make_transient_to_detached(instance)
    return instance

"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""
from __future__ import annotations

import asyncio
import collections
import re
import sqlite3
import weakref
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only

SQLITE_WAIT_SECONDS = 30  # how long a write waits for the database (the busy timeout, and the write turn below)


def sqlite_file(url: str | URL) -> str | None:
    """The database file of a SQLite URL; None for an in-memory SQLite database or another backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def create_engine(url: str, **kwargs) -> AsyncEngine:
    if make_url(url).get_backend_name() == "sqlite":
        if path := sqlite_file(url):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_WAIT_SECONDS}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        _take_turns_writing(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    if _ONE_HOP and type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = _OneHopConnection  # same slots: only the cursor class and commit/rollback differ
    # WAL lets the scheduler write while handlers read; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_WAIT_SECONDS * 1000}")
    cursor.close()


# A statement that makes its transaction a write transaction (SQLite: one at a time per database file).
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b|^\s*WITH\b.*\b(INSERT|UPDATE|DELETE)\b",
                    re.IGNORECASE | re.DOTALL)
_TURN = "fieldmate_write_turn"  # key in the pooled connection's info: the turn it holds until commit/rollback


_TURNS: weakref.WeakKeyDictionary[object, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]] = \
    weakref.WeakKeyDictionary()


_WAITING: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()


def write_turn(engine: AsyncEngine) -> asyncio.Lock:
    """The lock a SQLite engine's writers queue on, in the running event loop (see _take_turns_writing)."""
    per_loop = _TURNS.setdefault(engine.sync_engine, weakref.WeakKeyDictionary())
    return per_loop.setdefault(asyncio.get_running_loop(), asyncio.Lock())


def waiting_writers(engine: AsyncEngine) -> int:
    """Transactions of this process now waiting for their turn to write (SQLite; 0 otherwise)."""
    return _WAITING.get(engine.sync_engine, 0)


def _take_turns_writing(engine: AsyncEngine) -> None:
    """The writers of this process queue for SQLite's single write lock on an asyncio lock (first come, first
    served), rather than each in SQLite's busy handler.

    SQLite lets one transaction write at a time; the others retry in its busy handler, sleeping 1, 2, 5 …
    up to 100 ms between tries in their connection threads, so under load the lock stays idle while its next
    owner sleeps, and one update's write waited seconds (profile of a 60-user run: p95 of an INSERT 1.2 s,
    max 8 s). Here a transaction waits for the turn just before its first writing statement and passes it on
    at commit or rollback; reads never wait (WAL). The busy timeout still covers other processes (the CLI),
    and the moment between passing the turn (SQLAlchemy's commit event comes just before the COMMIT) and the
    COMMIT's end, when the next writer may still meet the lock for a millisecond or so.
    """
    def before_execute(conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if _TURN in conn.info or not _WRITE.match(statement):
            return
        turn = write_turn(engine)
        _WAITING[engine.sync_engine] = _WAITING.get(engine.sync_engine, 0) + 1
        try:
            await_only(asyncio.wait_for(turn.acquire(), SQLITE_WAIT_SECONDS))
        except TimeoutError:
            raise sqlite3.OperationalError(f"database is locked (no write turn within {SQLITE_WAIT_SECONDS} s)") from None
        finally:
            _WAITING[engine.sync_engine] -= 1
        conn.info[_TURN] = turn

    def pass_turn(info: dict) -> None:
        turn = info.pop(_TURN, None)
        if turn is not None and turn.locked():
            turn.release()

    event.listen(engine.sync_engine, "before_cursor_execute", before_execute)
    event.listen(engine.sync_engine, "commit", lambda conn: pass_turn(conn.info))
    event.listen(engine.sync_engine, "rollback", lambda conn: pass_turn(conn.info))
    # a connection returned, reset or dropped without either (an error, a session never closed)
    event.listen(engine.sync_engine.pool, "checkin", lambda _dbapi, record: record and pass_turn(record.info))
    event.listen(engine.sync_engine.pool, "invalidate", lambda _dbapi, record, _exc: pass_turn(record.info))


# ------------------------------------------------------------------------------------ one hop per statement

def _run_statement(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> tuple:
    """In aiosqlite's thread: the whole statement, its rows and its counters."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor makes four trips to the connection's thread per statement (open a cursor,
    execute, fetch all rows, close), each a hand-over between the event loop and that thread (a queue put, a
    wake-up, a future set across threads): under load most of a simple update's cost. This one makes one trip,
    doing the same four steps there; the rows are buffered as SQLAlchemy's cursor buffers them anyway (server-side
    cursors keep SQLAlchemy's class)."""

    __slots__ = ("_description", "_rowcount", "_lastrowid")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:  # no cursor opened here
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None
        self._soft_closed_memoized = {}
        self._rows = collections.deque()
        self._description = None
        self._rowcount = -1
        self._lastrowid = None

    @property
    def description(self):
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self):
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            self._description, rows, self._rowcount, self._lastrowid = await self._connection._execute(
                _run_statement, self._connection._conn, operation, parameters, many)
            self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._run(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._run(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()


# What the classes above rely on: SQLAlchemy's cursor running statements through _execute_async (2.0.44+, 2.1),
# aiosqlite queueing a function for its thread with Connection._execute (0.17+). Otherwise the stock classes stay.
_ONE_HOP = hasattr(AsyncAdapt_aiosqlite_cursor, "_execute_async") and hasattr(aiosqlite.Connection, "_execute")


class _OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """Also skips the trip for a COMMIT or ROLLBACK with no SQLite transaction open: a read-only update's commit,
    and the pool's rollback when a committed connection is returned. Safe because it is the very test Python's
    sqlite3 makes itself: its commit() and rollback() do nothing unless `in_transaction` (the connection is not
    in autocommit mode, i.e. a write or an explicit BEGIN opened a transaction; a SELECT alone opens none in
    sqlite3's default transaction handling, which this engine keeps). The flag is read here, between two
    statements of this connection, while its thread is idle; a transaction that is open (a write not yet
    committed, e.g. after an error) is still rolled back on return, holding no lock past it."""

    __slots__ = ()
    _cursor_cls = _OneHopCursor

    def _transaction_open(self) -> bool:
        inner = self._connection
        return inner._connection is not None and inner.in_transaction

    def commit(self) -> None:
        if self._transaction_open():
            super().commit()

    def rollback(self) -> None:
        if self._transaction_open():
            super().rollback()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"

"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""
from __future__ import annotations

import asyncio
import re
import sqlite3
import weakref
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only

SQLITE_WAIT_SECONDS = 30  # how long a write waits for the database (the busy timeout, and the write turn below)


def create_engine(url: str, **kwargs) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_WAIT_SECONDS}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        _take_turns_writing(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
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


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"

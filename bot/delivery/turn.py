"""One sending process per database: the sending turn.

Every bot process (long polling, each of several webhook processes, the simulator) starts the delivery
path. Claims already keep two senders off the same row, but each sender paces itself at DELIVERY_RATE,
so N processes would together send N times faster than Telegram allows. So the sender runs only while
its process holds the database's sending turn; the other processes wait and take over within seconds
when the holder stops or dies (its claimed rows are then recovered by the usual lease rules).

* PostgreSQL: a session-level advisory lock on a dedicated connection, keyed by the schema. The server
  frees it when that connection ends; TCP keepalives on it make the server notice a vanished host (power
  loss, no FIN) in about a minute instead of the kernel's two hours.
* SQLite (one machine by definition): an OS file lock beside the database file, freed when the process
  exits however it exits. filelock rather than fcntl by hand: it is already installed and portable.
* In-memory SQLite: the database lives in this process only, so the turn is always ours.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Callable, Protocol

from filelock import FileLock, Timeout
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.delivery.sender import DeliverySender

log = logging.getLogger("fieldmate.delivery")

ADVISORY_CLASS = 0x666D  # "fm": first half of the advisory lock key; the second is the schema's hash
_KEEPALIVES = ("SET tcp_keepalives_idle = 20", "SET tcp_keepalives_interval = 10", "SET tcp_keepalives_count = 3")


class SendingTurn(Protocol):
    async def try_take(self) -> bool: ...
    async def still_held(self) -> bool: ...
    async def release(self) -> None: ...


class PostgresTurn:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._conn: AsyncConnection | None = None

    async def try_take(self) -> bool:
        conn = await self.engine.connect()
        try:
            for statement in _KEEPALIVES:
                await conn.execute(text(statement))
            taken = (await conn.execute(text(
                "SELECT pg_try_advisory_lock(:cls, hashtext(current_schema()))"), {"cls": ADVISORY_CLASS})).scalar()
            await conn.commit()  # the lock is per session: no transaction is left open on the held connection
        except BaseException:
            await _discard(conn)
            raise
        if taken:
            self._conn = conn
        else:
            await _discard(conn)
        return bool(taken)

    async def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            await self._conn.execute(text("SELECT 1"))
            await self._conn.commit()
            return True
        except Exception:  # the connection is gone, and with it the lock: another process may hold it now
            log.warning("lost the database connection that held the sending turn")
            conn, self._conn = self._conn, None
            await _discard(conn)
            return False

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await _discard(conn)


async def _discard(conn: AsyncConnection) -> None:
    """Close without returning the session to the pool: a pooled session would keep the lock (and the
    keepalive settings) alive for whoever borrows it next."""
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()


class FileTurn:
    def __init__(self, path: Path) -> None:
        self._lock = FileLock(path, timeout=0, thread_local=False)

    async def try_take(self) -> bool:
        try:
            self._lock.acquire()
        except Timeout:
            return False
        return True

    async def still_held(self) -> bool:
        return self._lock.is_locked

    async def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)


class OwnTurn:
    async def try_take(self) -> bool:
        return True

    async def still_held(self) -> bool:
        return True

    async def release(self) -> None:
        return None


def turn_for(engine: AsyncEngine) -> SendingTurn:
    if engine.dialect.name == "postgresql":
        return PostgresTurn(engine)
    database = engine.url.database
    if not database or database == ":memory:":
        return OwnTurn()
    return FileTurn(Path(f"{database}.sender.lock"))  # create_engine made the database's folder


class TurnTakingSender:
    """The process's delivery path: a DeliverySender that runs only while this process holds the turn.

    Offers the sender's `start`, `kick` and `stop`, so callers need not know whether this process sends."""

    def __init__(self, turn: SendingTurn, make_sender: Callable[[], DeliverySender],
                 retry_interval: float = 5.0, check_interval: float = 5.0) -> None:
        self.turn = turn
        self.make_sender = make_sender
        self.retry_interval = retry_interval
        self.check_interval = check_interval
        self.sender: DeliverySender | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def sending(self) -> bool:
        return self.sender is not None

    def start(self) -> asyncio.Task:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="delivery turn")
        return self._task

    def kick(self) -> None:
        if self.sender is not None:
            self.sender.kick()  # otherwise the holder in another process finds the rows at its next poll

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                if await self._take():
                    await self._send_while_held()
                    await self._wait(1.0)  # the sender crashed or the turn was lost: do not spin
                else:
                    await self._wait(self.retry_interval)
        finally:
            await self._quit_sending()

    async def _take(self) -> bool:
        try:
            return await self.turn.try_take()
        except Exception:  # database unreachable right now: try again later, the bot keeps answering
            log.exception("could not ask for the sending turn; retrying")
            return False

    async def _send_while_held(self) -> None:
        log.info("this process holds the sending turn: the delivery sender runs here")
        self.sender = self.make_sender()
        task = self.sender.start()
        while not self._stopping.is_set() and not task.done():
            await self._wait(self.check_interval)
            if not await self.turn.still_held():
                break
        if task.done() and not task.cancelled() and task.exception() is not None:
            # stop() below collects the task quietly, so say here why the sender is being restarted
            log.error("delivery sender crashed; restarting it", exc_info=task.exception())
        await self._quit_sending()

    async def _quit_sending(self) -> None:
        sender, self.sender = self.sender, None
        if sender is not None:
            await sender.stop()  # drains in-flight calls and gives unsent rows back before the turn is freed
        await self.turn.release()

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

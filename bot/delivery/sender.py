"""The background sender: drains the `deliveries` outbox at Telegram's pace, exactly once per row.

Row life cycle (storage/models/delivery.py)::

    pending ──claim──▶ claimed ──(just before the API call)──▶ sending ──▶ sent | blocked | failed
       ▲                  │  ▲                                   │
       └─release on stop──┘  └────────── 429 / 5xx / network: retry later (same sender) ◀──┘

* Claiming is one atomic UPDATE … RETURNING (PostgreSQL adds FOR UPDATE SKIP LOCKED), so two senders —
  two processes, or two instances in one — never hold the same row.
* Every state change is guarded by `claimed_by = me`, so a sender whose lease was taken over cannot
  write over the new owner, and `claimed → sending` is re-checked right before each API call.
* A live sender renews the lease (`claimed_at`) of its rows. Rows of a dead sender are recovered: at once
  when it ran on this host and its process is gone, otherwise when the lease expires. `claimed` rows go
  back to `pending` (no call was made: safe to send). `sending` rows become `uncertain`: the process died
  during the HTTP call and Telegram may or may not have delivered it; there is no API to ask, so they are
  never re-sent (at most once; a SIGKILL leaves at most the few calls in flight in this state). A graceful
  `stop()` (SIGTERM) lets in-flight calls finish and records them, so nothing is left uncertain.
* Network errors (no HTTP answer) are retried: rarely a message that did arrive is sent again; 5xx answers
  are retried with backoff, then the row is marked failed.
"""
from __future__ import annotations

import asyncio
import contextlib
import heapq
import weakref
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import AsyncIterator, Callable

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import FSInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.limiter import Pacer
from storage.models import Delivery, DeliveryStatus as S, Member, utcnow

log = logging.getLogger("fieldmate.delivery")

_GONE_CHAT = ("chat not found", "user is deactivated", "bot can't initiate conversation", "peer_id_invalid")


@dataclass(order=True)
class _Job:
    ready_at: float
    id: int
    key: str = field(compare=False)
    chat_id: int = field(compare=False)
    member_id: int | None = field(compare=False)
    text: str = field(compare=False)
    buttons: list | None = field(compare=False)
    photo: str | None = field(compare=False)
    document: str | None = field(compare=False)
    attempts: int = field(compare=False, default=0)  # API calls made for this row (all processes)
    waits: int = field(compare=False, default=0)  # 429 answers seen by this sender


# SQLite has one writer at a time. Many tasks each waiting in SQLite's busy handler on their own pooled
# connection starved one another (writes stalled until the 30 s busy timeout), so the senders of one
# process take turns here instead; PostgreSQL needs no such lock.
_SQLITE_WRITE_LOCKS: "weakref.WeakKeyDictionary[object, asyncio.Lock]" = weakref.WeakKeyDictionary()


def _owner_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def _dead_on_this_host(owner: str) -> bool:
    """True when `owner` ran on this machine in a process that no longer exists."""
    parts = owner.rsplit(":", 2)  # host:pid:token (see _owner_name)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid = parts[0], int(parts[1])
    if host != socket.gethostname()[:40] or pid == os.getpid():
        return False  # another host, or an instance in this very process: only the lease can tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class DeliverySender:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        bot: Bot,
        *,
        rate: float = 25.0,
        chat_interval: float = 1.0,
        group_interval: float = 3.0,
        max_attempts: int = 5,
        max_retry_after_waits: int = 20,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        lease_seconds: float = 60.0,
        poll_interval: float = 1.0,
        drain_timeout: float = 30.0,
        request_timeout: int = 20,
        batch_size: int | None = None,
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        utc_now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.bot = bot
        self.name = name or _owner_name()
        self.pacer = Pacer(rate, chat_interval, group_interval, clock)
        self.max_attempts = max_attempts
        self.max_retry_after_waits = max_retry_after_waits
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_interval = poll_interval
        self.drain_timeout = drain_timeout
        self.request_timeout = request_timeout
        self.batch_size = batch_size or max(10, int(rate * 2))
        self.clock, self.utc_now = clock, utc_now
        # Enough concurrent calls to keep `rate` going with slow answers, but bounded.
        self._slots = asyncio.Semaphore(max(4, int(rate * 4)))
        self._heap: list[_Job] = []
        self._inflight: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._next_claim = 0.0
        self._next_maintenance = 0.0
        self._feeding: asyncio.Task | None = None
        self.sent = 0  # counters for logs and benchmarks
        self.feed_passes = 0  # claim/maintenance passes done: what "it had its chance" means in tests
        self._fed = asyncio.Event()
        self.errors: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        engine = self.sessionmaker.kw.get("bind")
        if engine is None or engine.dialect.name != "sqlite":
            async with self.sessionmaker() as session:
                yield session
            return
        lock = _SQLITE_WRITE_LOCKS.setdefault(engine.sync_engine, asyncio.Lock())
        async with lock, self.sessionmaker() as session:
            yield session

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> asyncio.Task:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"delivery-sender {self.name}")
        return self._task

    def kick(self) -> None:
        """Wake the sender now (after enqueueing) instead of at its next poll."""
        self._next_claim = 0.0
        self._wake.set()

    async def stop(self) -> None:
        """Graceful: stop claiming, let in-flight calls finish and record them, give unsent rows back."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def run(self) -> None:
        log.info("delivery sender %s started", self.name)
        try:
            while not self._stopping:
                await asyncio.sleep(0)  # never starve the event loop, whatever path the loop takes
                now = self.clock()
                # Claiming and lease upkeep run beside the dispatching, so a slow database moment does not
                # stall the sends already in hand.
                if self._feeding is None and (
                    now >= self._next_maintenance or (len(self._heap) < self.batch_size and now >= self._next_claim)
                ):
                    self._feeding = asyncio.create_task(self._feed(now))
                if not self._heap:
                    await self._nap(self.poll_interval)
                    continue
                job = self._heap[0]
                if self.pacer.busy(job.chat_id):  # a call to this chat is in flight: look again a bit later
                    if job.ready_at <= now:
                        heapq.heapreplace(self._heap, _replace_ready(job, now + self.pacer.interval_for(job.chat_id)))
                    else:  # every chat at the top is busy: wait instead of spinning
                        await self._nap(min(job.ready_at - now, self.poll_interval))
                    continue
                ready = max(job.ready_at, self.pacer.chat_ready_at(job.chat_id))
                if ready > job.ready_at:  # its chat is paced: look at the others first
                    heapq.heapreplace(self._heap, _replace_ready(job, ready))
                    continue
                if ready > now:
                    await self._nap(min(ready - now, self.poll_interval))
                    continue
                heapq.heappop(self._heap)
                start = self.pacer.reserve(job.chat_id)
                if start > self.clock():
                    await asyncio.sleep(start - self.clock())
                await self._slots.acquire()
                task = asyncio.create_task(self._send(job))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
        finally:
            await self._drain()
            log.info("delivery sender %s stopped (%d sent)", self.name, self.sent)

    async def _feed(self, now: float) -> None:
        try:
            if now >= self._next_maintenance:
                await self._maintain()
                self._next_maintenance = now + max(0.5, self.lease.total_seconds() / 3)
            if len(self._heap) < self.batch_size and now >= self._next_claim:
                if await self._claim():
                    self._wake.set()
                else:
                    self._next_claim = self.clock() + self.poll_interval
        except Exception:  # database briefly unavailable or busy: keep the sender alive, try again
            log.exception("delivery sender %s: claim/maintenance failed; retrying", self.name)
            self._next_claim = self._next_maintenance = self.clock() + max(1.0, self.poll_interval)
        finally:
            self._feeding = None
            self.feed_passes += 1
            self._fed.set()

    async def wait_fed(self, passes: int = 1) -> None:
        """Wait until `passes` more claim/maintenance passes have finished."""
        target = self.feed_passes + passes
        while self.feed_passes < target:
            self._fed.clear()
            await self._fed.wait()

    async def _drain(self) -> None:
        if self._feeding is not None:
            await asyncio.gather(self._feeding, return_exceptions=True)
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=self.drain_timeout)
        held = [job.id for job in self._heap]
        self._heap.clear()
        if held:
            async with self._session() as session:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(held), Delivery.claimed_by == self.name, Delivery.status == S.CLAIMED)
                    .values(status=S.PENDING, claimed_by=None, claimed_at=None)
                )
                await session.commit()

    async def _nap(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, seconds))
        except asyncio.TimeoutError:
            pass
        self._wake.clear()

    # ------------------------------------------------------------------ claiming and leases

    async def _claim(self) -> int:
        now = self.utc_now()
        async with self._session() as session:
            pick = (
                select(Delivery.id)
                .where(Delivery.status == S.PENDING, Delivery.not_before <= now)
                .order_by(Delivery.id)
                .limit(max(1, self.batch_size - len(self._heap)))  # hold about two seconds' worth, no more
            )
            if session.bind.dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            # A CTE, not `id IN (subquery)`: PostgreSQL may rescan such a subquery per row, and with
            # SKIP LOCKED every rescan skips the rows just taken, so LIMIT would not limit (seen: 80 of 80).
            picked = pick.cte("picked")
            rows = (await session.execute(
                update(Delivery)
                .where(Delivery.id == picked.c.id, Delivery.status == S.PENDING)
                .values(status=S.CLAIMED, claimed_by=self.name, claimed_at=now)
                .returning(Delivery.id, Delivery.key, Delivery.chat_id, Delivery.member_id, Delivery.text,
                           Delivery.buttons, Delivery.photo, Delivery.document, Delivery.attempts)
            )).all()
            await session.commit()
        ready = self.clock()
        for row in sorted(rows, key=lambda r: r.id):
            heapq.heappush(self._heap, _Job(ready, row.id, row.key, row.chat_id, row.member_id, row.text,
                                            row.buttons, row.photo, row.document, row.attempts))
        return len(rows)

    async def _maintain(self) -> None:
        """Renew our leases; recover rows of senders that died."""
        now = self.utc_now()
        async with self._session() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.claimed_by == self.name, Delivery.status.in_([S.CLAIMED, S.SENDING]))
                .values(claimed_at=now)
            )
            owners = (await session.scalars(
                select(Delivery.claimed_by).distinct()
                .where(Delivery.status.in_([S.CLAIMED, S.SENDING]), Delivery.claimed_by != self.name)
            )).all()
            dead = [owner for owner in owners if owner and _dead_on_this_host(owner)]
            stale = Delivery.claimed_at < now - self.lease
            gone = stale if not dead else (stale | Delivery.claimed_by.in_(dead))
            released = await session.execute(
                update(Delivery).where(Delivery.status == S.CLAIMED, Delivery.claimed_by != self.name, gone)
                .values(status=S.PENDING, claimed_by=None, claimed_at=None)
            )
            uncertain = await session.execute(
                update(Delivery).where(Delivery.status == S.SENDING, Delivery.claimed_by != self.name, gone)
                .values(status=S.UNCERTAIN, error="sender died during the API call; may have arrived; not re-sent")
            )
            await session.commit()
        if released.rowcount or uncertain.rowcount:
            log.warning("recovered rows of dead senders: %d back to pending, %d uncertain",
                        released.rowcount, uncertain.rowcount)
            self._next_claim = 0.0

    # ------------------------------------------------------------------ one send

    async def _send(self, job: _Job) -> None:
        try:
            # Wait for the rate window first and mark the row `sending` only then: a row is `sending` for
            # just the write and the HTTP call, so a SIGKILL leaves as few uncertain rows as possible. Uneven
            # write times can bunch calls up; `departure_wait` caps them below Telegram's own limit (≈30/s) without
            # holding rows in `sending` for the nominal rate.
            start = self.pacer.admit()
            if start > self.clock():
                await asyncio.sleep(start - self.clock())
            if not await self._write(job, S.CLAIMED, status=S.SENDING, claimed_at=self.utc_now()):
                log.warning("delivery %s: claim lost before sending; left to its new owner", job.key)
                return
            job.attempts += 1
            while (wait := self.pacer.departure_wait()) > 0:  # rare: queued-up writes finished together
                await asyncio.sleep(wait)
            self.pacer.departed()
            try:
                try:
                    message = await self._call(job)
                finally:
                    self.pacer.done(job.chat_id)
            except TelegramRetryAfter as exc:
                await self._retry_later(job, float(exc.retry_after), f"429 retry after {exc.retry_after}",
                                        wait=True)
            except TelegramForbiddenError as exc:
                await self._give_up(job, S.BLOCKED, exc.message, unreachable=True)
            except TelegramBadRequest as exc:
                gone = any(marker in exc.message.lower() for marker in _GONE_CHAT)
                await self._give_up(job, S.BLOCKED if gone else S.FAILED, exc.message, unreachable=gone)
            except (TelegramServerError, TelegramNetworkError, asyncio.TimeoutError, OSError) as exc:
                if job.attempts >= self.max_attempts:
                    await self._give_up(job, S.FAILED, f"{type(exc).__name__}: {exc}"[:300])
                else:
                    delay = min(self.backoff_max, self.backoff_base * 2 ** (job.attempts - 1))
                    await self._retry_later(job, delay, f"{type(exc).__name__}: {exc}"[:300])
            except Exception as exc:  # a bad row (missing photo file, …) must not stop the sender
                log.exception("delivery %s failed permanently", job.key)
                await self._give_up(job, S.FAILED, f"{type(exc).__name__}: {exc}"[:300])
            else:
                self.sent += 1
                await self._write(job, S.SENDING, status=S.SENT, sent_at=self.utc_now(), attempts=job.attempts,
                                  message_id=message.message_id, error=None)
                # (a member marked unreachable who unblocked the bot is marked reachable again when they
                # press a button; doing it here would cost one more database write per message)
        except Exception:  # database trouble while recording: the lease recovery will sort the row out
            log.exception("delivery %s: could not record the outcome", job.key)
        finally:
            if self.pacer.busy(job.chat_id):  # no call was made (claim lost, database error): free the chat
                self.pacer.done(job.chat_id)
            self._slots.release()

    async def _call(self, job: _Job):
        markup = None
        if job.buttons:
            markup = InlineKeyboardMarkup(inline_keyboard=[
                [InlineKeyboardButton(**button) for button in row] for row in job.buttons
            ])
        if job.photo:
            photo = FSInputFile(job.photo) if Path(job.photo).is_file() else job.photo
            return await self.bot.send_photo(job.chat_id, photo, caption=job.text, reply_markup=markup,
                                             request_timeout=self.request_timeout)
        if job.document:  # a file we wrote (the digest's Excel file); the file name is what the user sees
            return await self.bot.send_document(job.chat_id, FSInputFile(job.document), caption=job.text,
                                                reply_markup=markup, request_timeout=self.request_timeout)
        return await self.bot.send_message(job.chat_id, job.text, reply_markup=markup,
                                           request_timeout=self.request_timeout)

    async def _retry_later(self, job: _Job, delay: float, reason: str, wait: bool = False) -> None:
        self._count(reason.split(" ")[0])
        if wait:
            job.waits += 1
            if job.waits > self.max_retry_after_waits:
                await self._give_up(job, S.FAILED, f"gave up after {job.waits} rate-limit waits")
                return
        # Back to `claimed`: no message went out, so if we die now the row is safely sent by someone else.
        await self._write(job, S.SENDING, status=S.CLAIMED, attempts=job.attempts, error=reason,
                          claimed_at=self.utc_now())
        ready = self.clock() + delay
        self.pacer.defer_chat(job.chat_id, ready)
        heapq.heappush(self._heap, _replace_ready(job, ready))
        self._wake.set()

    async def _give_up(self, job: _Job, status: str, error: str, unreachable: bool = False) -> None:
        self._count(status)
        await self._write(job, S.SENDING, status=status, attempts=job.attempts, error=(error or "")[:300])
        if unreachable and job.member_id is not None:
            await self._set_reachable(job.member_id, False)

    def _count(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    async def _write(self, job: _Job, expected: str, **values) -> bool:
        """Update our row if we still own it in the expected state; a few quick tries on a busy database."""
        statement = (
            update(Delivery)
            .where(Delivery.id == job.id, Delivery.claimed_by == self.name, Delivery.status == expected)
            .values(**values)
        )
        for attempt in range(3):
            try:
                async with self._session() as session:
                    result = await session.execute(statement)
                    await session.commit()
                return result.rowcount == 1
            except Exception:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        return False

    async def _set_reachable(self, member_id: int, reachable: bool, only_if: bool | None = None) -> None:
        condition = Member.id == member_id
        if only_if is not None:
            condition = and_(condition, Member.reachable.is_(only_if))
        async with self._session() as session:
            await session.execute(update(Member).where(condition).values(reachable=reachable))
            await session.commit()


def _replace_ready(job: _Job, ready: float) -> _Job:
    job.ready_at = ready
    return job


async def counts_by_status(session: AsyncSession, kind: str | None = None) -> dict[str, int]:
    query = select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status)
    if kind is not None:
        query = query.where(Delivery.kind == kind)
    return {status: n for status, n in (await session.execute(query)).all()}

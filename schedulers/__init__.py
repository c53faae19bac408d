"""The in-process scheduler: APScheduler 3.11 AsyncIOScheduler with a few periodic scans.

Each module here with jobs exposes `register(scheduler, app, bot)`, named in the feature registry. Jobs open their own sessions from
app.sessionmaker, pass only ids, and take an optional explicit `now` so tests call them directly.
With several bot processes on PostgreSQL, each scan runs under an advisory lock (`scan_lock`), so only
one process does a given scan at a time; the delivery rows' unique keys still guard against duplicates.
"""
from __future__ import annotations

import contextlib
import zlib
from typing import AsyncIterator

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

JOB_DEFAULTS = {
    "coalesce": True,  # after downtime run a missed scan once, not once per missed interval
    "misfire_grace_time": 15 * 60,  # APScheduler's default (1 s) would silently drop scans after a busy moment
    "max_instances": 1,  # a slow scan is never overlapped by the next one
}


def new_scheduler(tz) -> AsyncIOScheduler:
    """An empty scheduler with the house defaults; the composition root adds every feature's jobs
    (bot/features.py `register_jobs`) and starts it."""
    return AsyncIOScheduler(timezone=tz, job_defaults=dict(JOB_DEFAULTS))


@contextlib.asynccontextmanager
async def scan_lock(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """Yield True when this process may run scan `name` now (PostgreSQL: a session advisory lock held on
    its own connection for the scan's duration; SQLite: always, it is a single-process setup)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = zlib.crc32(f"fieldmate:{name}".encode())
    async with engine.connect() as connection:
        got = bool(await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
        await connection.commit()
        try:
            yield got
        finally:
            if got:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                await connection.commit()

"""The shared index of a fleet (CHROMA_HOST + REDIS_URL): one ingestion at a time, and a version every bot
process watches.

Where things live when several processes answer from one Chroma server:

* the chunks and their vectors: the Chroma server's collection (every process queries it);
* the lexical (BM25) index: built in each process from the collection's documents when it loads its chunk
  table, so it always matches the Chroma version that process last loaded;
* the record manager and the manifest (what was indexed from which file): in INDEX_DIR of the ingestion
  command — ingestion runs as its own process (`fieldmate ingest`, one place, one volume), bots only read;
* the index version: the Redis key ``fieldmate:index:version``, incremented by every ingestion that changed
  something. Each bot checks it every VERSION_POLL_SECONDS and, when it moved, drops its chunk table, so the
  next question reloads chunks and lexical index from Chroma. Questions keep being answered meanwhile (from
  the previous table, then from the new one).

One ingestion at a time across the fleet: a Redis lock (``fieldmate:index:ingest``) held for the sync; a
second `fieldmate ingest` waits for it. Without REDIS_URL (one machine) none of this is needed: the engine's
own lock serialises syncs in the one process that owns the index.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

log = logging.getLogger("fieldmate.knowledge")

VERSION_KEY = "fieldmate:index:version"
INGEST_LOCK = "fieldmate:index:ingest"
INGEST_LOCK_SECONDS = 3600  # a crashed ingestion frees the fleet's lock after this long
VERSION_POLL_SECONDS = 10.0
SYNC_LOCK_FILE = "sync.lock"  # in INDEX_DIR: one sync at a time across the processes of one machine


@contextlib.contextmanager
def ingest_turn(redis_url: str | None, lock_file: Path | None = None) -> Iterator[None]:
    """Hold the fleet's ingestion lock (blocking) while the body runs. Without Redis, processes on one
    machine (the bot, `fieldmate ingest`, a second bot) take turns on ``lock_file`` when one is given."""
    if not redis_url:
        if lock_file is None:
            yield
            return
        from filelock import FileLock

        lock_file.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_file)):
            yield
        return
    from redis import Redis

    with Redis.from_url(redis_url) as client:
        log.info("waiting for the fleet's ingestion lock")
        with client.lock(INGEST_LOCK, timeout=INGEST_LOCK_SECONDS, blocking=True):
            yield


def publish_version(redis_url: str | None) -> int | None:
    """Tell every bot process the index changed. Returns the new version (None without Redis)."""
    if not redis_url:
        return None
    from redis import Redis

    with Redis.from_url(redis_url) as client:
        return int(client.incr(VERSION_KEY))


async def watch_version(redis, engine_of, poll: float = VERSION_POLL_SECONDS) -> None:
    """Run forever: when the fleet's index version moves, make this process's engine reload its chunks.

    `redis` is a redis.asyncio client; `engine_of()` returns the engine once it is open (None before)."""
    import asyncio

    seen: bytes | None = None
    while True:
        try:
            current = await redis.get(VERSION_KEY)
            engine = engine_of()
            if engine is not None and current != seen:
                if seen is not None or current is not None:
                    engine.reload()
                    log.info("index version %s: chunk table reloads at the next question", current)
                seen = current
        except Exception as exc:  # noqa: BLE001 - Redis away: /healthz says so; keep the table we have
            log.warning("could not read the index version: %s", exc)
        await asyncio.sleep(poll)

"""The knowledge-folder scan: edits made on disk (or by another process) are synced without a restart.

Every KB_SCAN_SECONDS the folder is compared with the index by size and mtime only (no file is read). A change
is synced once two scans in a row see the same pending files with the same sizes and times (debounce: a file
still being copied in is not indexed half-written); so an edit is live within two intervals plus the sync.
One sync at a time: kb.sync takes the engine's lock and the index folder's lock file (or the fleet's Redis
lock). Every admin gets one change summary per sync through the outbox."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.context import App
from bot.services import kb
from handlers.ui import knowledge_notices
from schedulers import scan_lock

log = logging.getLogger(__name__)


def register(scheduler: Any, app: App, bot: Any) -> None:
    # In a fleet (CHROMA_HOST) bots only read the shared index; `fieldmate ingest` is its one writer.
    if app.settings.kb_scan_seconds > 0 and not getattr(app.settings, "chroma_host", None):
        scheduler.add_job(scan_folder, "interval", seconds=app.settings.kb_scan_seconds, args=[app], id="kb:scan",
                          coalesce=True, max_instances=1, replace_existing=True)


async def scan_folder(app: App):
    """One scan; returns the sync report when it synced (None: nothing to do, not ready, or waiting a scan)."""
    engine = app.knowledge
    if engine is None:
        return None
    pending = await asyncio.to_thread(kb.pending_signature, engine)
    if not pending or pending != app.kb_pending:
        app.kb_pending = pending or None  # new or still changing: wait for the next scan to agree
        return None
    app.kb_pending = None
    async with scan_lock(app.engine, "kb:scan") as mine:
        if not mine:
            return None
        report = await asyncio.to_thread(kb.sync, engine, app.settings.redis_url)
    log.info("knowledge folder scan synced: +%d ~%d -%d failed %d", len(report.added), len(report.changed),
             len(report.removed), len(report.failed))
    if report.added or report.changed or report.removed or report.failed:
        async with app.sessionmaker() as session, session.begin():
            await knowledge_notices.sync_summary(session, app, report)
        app.kick_delivery()
    return report

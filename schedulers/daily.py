"""Daily item jobs: a scan every 30 s for branches whose push time has come (not one job per member)."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from bot.context import App
from bot.services import daily
from bot.services.daily_items import load_items, sync_items
from handlers.ui.daily_view import render_for
from schedulers import scan_lock

log = logging.getLogger("fieldmate.daily")
SCAN_SECONDS = 30


def register(scheduler: Any, app: App, bot: Any) -> None:
    scheduler.add_job(daily_scan, "interval", seconds=SCAN_SECONDS, args=[app], id="daily:scan",
                      replace_existing=True, next_run_time=datetime.now(timezone.utc))


async def sync_daily_files(app: App) -> None:
    """Reload knowledge/daily/*.yaml when a file changed (cheap check: names, sizes, times)."""
    folder = app.settings.knowledge_dir / "daily"
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []
    signature = tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path in files)
    if app.daily_files_signature == signature:
        return
    result = load_items(folder)
    for problem in result.problems:
        log.warning("daily items: %s", problem)
    async with app.sessionmaker() as session:
        report = await sync_items(session, result.items)
        await session.commit()
    app.daily_files_signature = signature
    log.info("daily items: %d loaded (%d new, %d changed, %d retired), %d problems", len(result.items),
             len(report.added), len(report.updated), len(report.retired), len(result.problems))


async def daily_scan(app: App, now: datetime | None = None) -> list[daily.PushResult]:
    """Push today's item to every branch whose time has come (and that is not done yet)."""
    now = now or app.clock.now()
    settings = app.settings
    results: list[daily.PushResult] = []
    async with scan_lock(app.engine, "daily") as mine:
        if not mine:
            return results
        await sync_daily_files(app)
        render = render_for(app.i18n, settings.default_locale)
        async with app.sessionmaker() as session:
            due = await daily.due_branches(session, now, settings.tz, default_time=settings.daily_default_time,
                                           cutoff=settings.daily_late_cutoff)
        for branch_id, day in due:
            async with app.sessionmaker() as session:
                result = await daily.push_branch(session, branch_id, day, tz=settings.tz, render=render,
                                                 clause_source=app.daily_clause_source)
                await session.commit()
            results.append(result)
            if result.enqueued:
                app.kick_delivery()  # start sending this branch while the next one is written
            if result.state == "no_items":
                log.error("branch %s: no daily items to push (knowledge/daily is empty?)", branch_id)
    return results

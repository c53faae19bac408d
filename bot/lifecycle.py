"""Background parts of a running bot: the knowledge engine, the delivery sender and the scheduler.

Started from the dispatcher's startup hook, so polling, webhook and the simulator all get the same."""
from __future__ import annotations

import asyncio
import gc
import logging

from aiogram import Bot

from bot.context import App
from bot.features import register_jobs
from schedulers import new_scheduler

log = logging.getLogger("fieldmate.lifecycle")


async def open_knowledge(app: App) -> None:
    """Open the index; sync the knowledge folder first when asked (in a thread: embedding is CPU work).

    An index that already has chunks answers at once while the sync runs; an empty one waits for it."""
    from bot.knowledge_engine import KnowledgeEngine

    engine = await asyncio.to_thread(KnowledgeEngine.from_settings, app.settings)
    stats = await asyncio.to_thread(engine.stats)
    if stats.get("chunks"):
        app.knowledge = engine
    if app.settings.knowledge_sync_on_start and app.settings.knowledge_dir.is_dir():
        try:
            report = await asyncio.to_thread(engine.sync)
        except asyncio.CancelledError:  # stop_background: the thread stops at its next safe point
            engine.cancel_sync()
            raise
        log.info(
            "knowledge synced: +%d ~%d -%d failed %d, %d chunks in %.1fs",
            len(report.added), len(report.changed), len(report.removed), len(report.failed), report.chunks, report.seconds,
        )
        for name, reason in report.failed:
            log.warning("knowledge file not indexed: %s: %s", name, reason)
        await tell_admins_about_failed_files(app, report.failed)
    await asyncio.to_thread(engine.warm_up)
    app.knowledge = engine
    app.daily_clause_source = clause_source(engine)
    settle_heap()


YOUNG_GC_THRESHOLD = 20_000  # allocations between collections of the youngest generation, once settled


def settle_heap() -> None:
    """Once the index is open, what is alive now (the index, jieba's dictionaries, the model, the ORM, aiogram)
    lives as long as the process: collect the start's garbage, then freeze the rest (gc.freeze) so that the
    collector's full passes no longer walk it. Under load (500-user run) those passes stopped every thread,
    the event loop included, for up to 406 ms (11 passes, 3.7 s in all).

    The youngest generation is also collected less often (every 20,000 allocations instead of 700): an update
    allocates thousands of short-lived objects (aiogram's and pydantic's models, SQLAlchemy's), so the default
    ran a collection every few updates; a /help burst ran about 15 % faster (bench/load.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])


async def tell_admins_about_failed_files(app: App, failed: list[tuple[str, str]]) -> None:
    if not failed:
        return
    from handlers.ui.knowledge_notices import files_not_indexed

    async with app.sessionmaker() as session:
        await files_not_indexed(session, app, failed)
        await session.commit()
    app.kick_delivery()


DAILY_CLAUSE_CHARS = (30, 600)  # a clause short enough to read out at the morning meeting


def clause_source(engine):
    """Adapt the knowledge engine to the daily items' `clause_source(exclude_ids)`: the next regulation
    clause, in folder order, that this branch has not had yet."""

    def draw(exclude_ids: set[str]) -> dict | None:
        low, high = DAILY_CLAUSE_CHARS
        for source in engine.clauses():
            item_id = f"clause:{source.chunk_id}"
            if item_id not in exclude_ids and low <= len(source.text) <= high:
                return {"id": item_id, "text": source.text, "kind": "安规",
                        "source": f"《{source.title}》{source.clause}"}
        return None

    return draw


async def start_background(app: App, bot: Bot) -> None:
    app.knowledge_task = asyncio.create_task(_logged(open_knowledge(app), "knowledge engine"))
    from bot.delivery import start_delivery

    app.delivery = start_delivery(app, bot)
    app.scheduler = new_scheduler(app.settings.tz)
    register_jobs(app.scheduler, app, bot)
    app.scheduler.start()


async def stop_background(app: App) -> None:
    scheduler, app.scheduler = app.scheduler, None
    if scheduler is not None:
        scheduler.shutdown(wait=False)
    delivery, app.delivery = app.delivery, None
    if delivery is not None:
        await delivery.stop()
    task, app.knowledge_task = app.knowledge_task, None
    if task is not None and not task.done():
        task.cancel()


async def _logged(coroutine, what: str) -> None:
    try:
        await coroutine
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("%s failed to start; the bot runs without it", what)

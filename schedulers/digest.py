"""Digest jobs: a scan every minute for branches whose weekly or monthly digest time has come.

Each branch's plan (bot/services/digest.py `Plan`; defaults Monday 08:30 and the 1st 09:00 from settings)
decides what is due. Every part of a digest (text, chart, Excel file) is a keyed delivery row per
(secretary, kind, period), so a restart, a misfire catch-up or a second process never sends a digest twice;
the scan skips a branch whose secretaries all have theirs already, so the numbers are computed once.
Admins get the all-branches digest (one line per branch, worst first) at the default times."""
from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.context import App
from bot.services import digest as digests
from bot.services import outbox
from bot.services.digest import MONTHLY, WEEKLY, Period
from bot.services.reports import branch_secretaries
from handlers.ui.digest_view import (
    all_branches_text,
    chart_caption,
    chart_png,
    digest_text,
    export_file_name,
    make_scope,
    workbook_bytes,
)
from handlers.ui.render import split_text
from handlers.ui.report_text import in_locale
from schedulers import scan_lock
from storage.models import Delivery, Member, Role

log = logging.getLogger("fieldmate.digest")
SCAN_SECONDS = 60
KIND = "digest"
# After downtime a digest is still sent this long after its time (then the next period's comes instead).
CATCH_UP = {WEEKLY: timedelta(days=2), MONTHLY: timedelta(days=5)}


def register(scheduler: Any, app: App, bot: Any) -> None:
    scheduler.add_job(digest_scan, "interval", seconds=SCAN_SECONDS, args=[app], id="digest:scan",
                      replace_existing=True)


async def digest_scan(app: App, now: datetime | None = None) -> int:
    """Queue every digest due at `now`; returns how many delivery rows were newly written."""
    local_now = (now or app.clock.now()).astimezone(app.settings.tz)
    default = digests.default_plan(app.settings)
    queued = 0
    async with scan_lock(app.engine, "digest") as mine:
        if not mine:
            return 0
        async with app.sessionmaker() as session:
            plans = await digests.plans(session, default)
        for branch_id, plan in plans.items():
            for period in plan.due(local_now, CATCH_UP):
                queued += await deliver_branch(app, branch_id, period, local_now)
        for period in default.due(local_now, CATCH_UP):
            queued += await deliver_all_branches(app, period, local_now)
    if queued:
        app.kick_delivery()
    return queued


async def _missing(session, keys: dict[Any, str]) -> list[Any]:
    """The recipients whose delivery key does not exist yet."""
    existing = set((await session.scalars(select(Delivery.key).where(Delivery.key.in_(list(keys.values()))))).all())
    return [recipient for recipient, key in keys.items() if key not in existing]


async def deliver_branch(app: App, branch_id: int, period: Period, now: datetime) -> int:
    """The branch digest for each of its secretaries who has not had it: text, chart, and (monthly) the
    Excel file, in the secretary's language. Personal data: secretaries' private chats only."""
    async with app.sessionmaker() as session:
        secretaries = await branch_secretaries(session, branch_id)
        todo = await _missing(session, {s: digests.delivery_key(period.kind, period, f"m{s.id}", "text:1")
                                        for s in secretaries})
        if not todo:
            return 0
        digest = await digests.build_digest(session, make_scope(app, branch_id, period, now), app.digest_sections)
        files: dict[str, tuple[list[str], str, Path, Path | None]] = {}
        queued = 0
        for secretary in todo:
            locale = secretary.locale or app.settings.default_locale
            with in_locale(app, secretary.locale):
                if locale not in files:
                    files[locale] = await _render(app, session, digest, locale)
                texts, caption, chart, workbook = files[locale]
                recipient = f"m{secretary.id}"
                for n, text in enumerate(texts, start=1):
                    queued += await outbox.enqueue(
                        session, key=digests.delivery_key(period.kind, period, recipient, f"text:{n}"),
                        chat_id=secretary.telegram_id, kind=KIND, text=text, member_id=secretary.id)
                queued += await outbox.enqueue(
                    session, key=digests.delivery_key(period.kind, period, recipient, "chart"),
                    chat_id=secretary.telegram_id, kind=KIND, text=caption, member_id=secretary.id, photo=str(chart))
                if workbook is not None:
                    queued += await outbox.enqueue(
                        session, key=digests.delivery_key(period.kind, period, recipient, "xlsx"),
                        chat_id=secretary.telegram_id, kind=KIND, text="📎 " + caption, member_id=secretary.id,
                        document=str(workbook))
        await session.commit()
    log.info("digest %s %s for branch %s: %d rows queued", period.kind, period.label, branch_id, queued)
    return queued


async def _render(app: App, session, digest: digests.Digest, locale: str) -> tuple[list[str], str, Path, Path | None]:
    """Text parts, chart caption, chart file and (monthly) Excel file of a digest in the current language;
    files go under MEDIA_DIR/digests (the sender reads them from there)."""
    folder = app.settings.media_dir / "digests" / str(digest.branch_id) / digest.scope.period.label / locale
    folder.mkdir(parents=True, exist_ok=True)
    chart = _write(folder / "chart.png", await chart_png(digest))
    workbook = None
    if digest.scope.period.kind == MONTHLY:
        name = export_file_name(digest.branch_name, digest.scope.period)
        workbook = _write(folder / name, await workbook_bytes(session, app, digest))
    return split_text(digest_text(digest)), chart_caption(digest), chart, workbook


def _write(path: Path, data: bytes) -> Path:
    """Atomically: a sender never reads a half-written file, also when two processes render the same digest."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(path)
    return path


async def deliver_all_branches(app: App, period: Period, now: datetime) -> int:
    """The admins' digest: one line per branch, worst first (text only)."""
    async with app.sessionmaker() as session:
        admins = {m.telegram_id: m for m in (await session.scalars(
            select(Member).where(Member.role == Role.ADMIN, Member.active.is_(True)))).all()}
        chats = sorted(set(admins) | set(app.settings.admin_ids))
        todo = await _missing(session, {chat: digests.delivery_key(period.kind, period, f"all{chat}", "text:1")
                                        for chat in chats})
        if not todo:
            return 0
        branch_digests = await digests.all_branches(
            session, lambda branch_id: make_scope(app, branch_id, period, now), app.digest_sections)
        queued = 0
        for chat in todo:
            member = admins.get(chat)
            with in_locale(app, member.locale if member else None):
                for n, text in enumerate(split_text(all_branches_text(branch_digests, period)), start=1):
                    queued += await outbox.enqueue(
                        session, key=digests.delivery_key(period.kind, period, f"all{chat}", f"text:{n}"),
                        chat_id=chat, kind=KIND, text=text, member_id=member.id if member else None)
        await session.commit()
    return queued


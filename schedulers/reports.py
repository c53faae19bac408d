"""Report jobs: the monthly reminder from day 25 and the idle-form scan (one reminder, then discard).

Both are scans that look at the database and write keyed delivery rows, so running one twice (a restart,
a misfire catch-up, a second process) never sends twice. They take an explicit `now` for tests."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from aiogram.utils.i18n import gettext as _
from sqlalchemy import select

from bot.context import App
from bot.services import outbox, reports
from handlers.ui.callbacks import ReportFormButton
from handlers.ui.report_text import in_locale, month_label
from schedulers import scan_lock  # scan_lock: one process per scan on PostgreSQL
from storage.models import Member

log = logging.getLogger(__name__)

FORM_STATE = "ReportForm:filling"  # handlers.reports.ReportForm.filling.state (not imported: keeps jobs light)
KIND = "report_reminder"
IDLE_REMINDER_BEFORE = timedelta(days=2)  # remind this long before an idle form is discarded


def register(scheduler: Any, app: App, bot: Any) -> None:
    """Add the report jobs to the shared AsyncIOScheduler (schedulers/__init__.py builds and starts it).

    The jobs get the App object (an in-memory job store; nothing is pickled) and look everything else up."""
    settings = app.settings
    common = dict(coalesce=True, max_instances=1, replace_existing=True, misfire_grace_time=6 * 3600)
    scheduler.add_job(send_report_reminders, "cron", hour=settings.report_reminder_hour, minute=0, args=[app],
                      id="reports:reminders", **common)
    scheduler.add_job(scan_idle_forms, "cron", minute=23, args=[app], id="reports:idle-forms", **common)


def _local(app: App, now: datetime | None) -> datetime:
    return (now or app.clock.now()).astimezone(app.settings.tz)


async def send_report_reminders(app: App, now: datetime | None = None) -> int:
    """From `report_reminder_day` to the deadline, once a day: remind members whose report is missing or
    returned. Returns how many reminders were newly queued (the key holds one per member and day)."""
    settings = app.settings
    today = _local(app, now).date()
    month = reports.month_of(today)
    due = reports.deadline(month, settings.report_deadline_day)
    if today.day < settings.report_reminder_day or today > due:
        return 0
    queued = 0
    async with scan_lock(app.engine, "reports:reminders") as mine:
        if mine:
            queued = await _queue_reminders(app, today, month, due)
    if queued:
        app.kick_delivery()
    return queued


async def _queue_reminders(app: App, today: Any, month: str, due: Any) -> int:
    queued = 0
    async with app.sessionmaker() as session, session.begin():
        for member in await reports.members_without_report(session, month):
            if not member.reachable:
                continue
            with in_locale(app, member.locale):
                text = _("⏰ Please file your 四不伤害 report for {month}; it is due on {due}.").format(
                    month=month_label(month), due=due.isoformat())
                buttons = [[{"text": _("📝 Fill it in now"), "callback_data": ReportFormButton(action="start").pack()}]]
            if await outbox.enqueue(session, key=f"report-reminder:{member.id}:{today.isoformat()}",
                                    chat_id=member.telegram_id, kind=KIND, text=text, member_id=member.id,
                                    buttons=buttons):
                queued += 1
    return queued


async def scan_idle_forms(app: App, now: datetime | None = None, storage: Any = None) -> tuple[int, int]:
    """Half-filled report forms in the FSM storage (SQL or Redis): one reminder when close to the limit,
    discarded after `report_form_keep_days` idle days. Returns (reminded, discarded)."""
    keep = timedelta(days=app.settings.report_form_keep_days)
    now = now or app.clock.now()
    now_utc = now.astimezone(timezone.utc).replace(tzinfo=None) if now.tzinfo else now
    async with scan_lock(app.engine, "reports:idle-forms") as mine:
        counts = await _scan_idle_forms(app, storage or app.form_storage(), now_utc, keep) if mine else (0, 0)
    if any(counts):
        app.kick_delivery()
    return counts


async def _scan_idle_forms(app: App, storage: Any, now_utc: datetime, keep: timedelta) -> tuple[int, int]:
    reminded = discarded = 0
    for form in await storage.idle(FORM_STATE, touched_before=now_utc - keep + IDLE_REMINDER_BEFORE):
        chat, token = form.data.get("chat"), form.data.get("token") or form.key
        if chat is None:
            continue
        expired = form.touched_at <= now_utc - keep
        if expired and not await storage.discard(form):
            continue  # the member came back to it just now
        async with app.sessionmaker() as session, session.begin():
            member = await session.scalar(select(Member).where(Member.telegram_id == chat))
            with in_locale(app, member.locale if member else None):
                if expired:
                    text = _("Your unfinished 四不伤害 report form was idle for {days} days and has been discarded. Send /report to start again.").format(
                        days=keep.days)
                else:
                    text = _("You have an unfinished 四不伤害 report form. Send /report to continue; it is kept for {days} days without changes.").format(
                        days=keep.days)
            key = f"report-form-{'discarded' if expired else 'idle'}:{token}"
            queued = await outbox.enqueue(session, key=key, chat_id=int(chat), kind=KIND, text=text,
                                          member_id=member.id if member else None)
        discarded += expired
        reminded += bool(queued) and not expired
    return reminded, discarded


"""Report jobs: the monthly reminder from day 25 (idle half-filled forms: schedulers/forms.py).

Both are scans that look at the database and write keyed delivery rows, so running one twice (a restart,
a misfire catch-up, a second process) never sends twice. They take an explicit `now` for tests."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiogram.utils.i18n import gettext as _

from bot.context import App
from bot.services import outbox, reports
from handlers.ui.callbacks import ReportFormButton
from handlers.ui.report_text import in_locale, month_label
from schedulers import scan_lock  # scan_lock: one process per scan on PostgreSQL

log = logging.getLogger(__name__)

KIND = "report_reminder"


def register(scheduler: Any, app: App, bot: Any) -> None:
    """Add the report jobs to the shared AsyncIOScheduler (schedulers/__init__.py builds and starts it).

    The jobs get the App object (an in-memory job store; nothing is pickled) and look everything else up."""
    settings = app.settings
    common = dict(coalesce=True, max_instances=1, replace_existing=True, misfire_grace_time=6 * 3600)
    scheduler.add_job(send_report_reminders, "cron", hour=settings.report_reminder_hour, minute=0, args=[app],
                      id="reports:reminders", **common)


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

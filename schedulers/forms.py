"""Idle forms, whatever the form: a half-filled form in the FSM storage (SQL, or Redis when scaled out) gets one
reminder when it is close to the limit and is discarded after `report_form_keep_days` idle days.

A scan that writes keyed delivery rows: running it twice (a restart, a second process) never sends twice."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from bot.context import App
from bot.i18n import PluralTemplate, fill, plural_template
from bot.services import outbox
from handlers.ui.report_text import in_locale
from handlers.ui.states import ReportForm, TalkForm
from schedulers import scan_lock
from storage.models import Member

KIND = "form_idle"
IDLE_REMINDER_BEFORE = timedelta(days=2)  # remind this long before an idle form is discarded


@dataclass(frozen=True)
class IdleForm:
    state: str  # the FSM state the form's draft lives in
    key: str  # delivery key prefix
    reminder: PluralTemplate  # "{days}": how long a form is kept without changes
    discarded: PluralTemplate


IDLE_FORMS = (
    IdleForm(ReportForm.filling.state, "report-form",
             plural_template(
                 "You have an unfinished 四不伤害 report form. Send /report to continue; it is kept for {days} day without changes.",
                 "You have an unfinished 四不伤害 report form. Send /report to continue; it is kept for {days} days without changes.",
                 n="days"),
             plural_template(
                 "Your unfinished 四不伤害 report form was idle for {days} day and has been discarded. Send /report to start again.",
                 "Your unfinished 四不伤害 report form was idle for {days} days and has been discarded. Send /report to start again.",
                 n="days")),
    IdleForm(TalkForm.filling.state, "talk-form",
             plural_template(
                 "You have an unfinished talk record. Send /talk to continue; it is kept for {days} day without changes.",
                 "You have an unfinished talk record. Send /talk to continue; it is kept for {days} days without changes.",
                 n="days"),
             plural_template(
                 "Your unfinished talk record was idle for {days} day and has been discarded. Send /talk to start again.",
                 "Your unfinished talk record was idle for {days} days and has been discarded. Send /talk to start again.",
                 n="days")),
)


def register(scheduler: Any, app: App, bot: Any) -> None:
    scheduler.add_job(scan_idle_forms, "cron", minute=23, args=[app], id="forms:idle", coalesce=True, max_instances=1,
                      replace_existing=True, misfire_grace_time=6 * 3600)


async def scan_idle_forms(app: App, now: datetime | None = None, storage: Any = None,
                          forms: tuple[IdleForm, ...] = IDLE_FORMS) -> tuple[int, int]:
    """Every form kind's idle drafts: (reminded, discarded)."""
    keep = timedelta(days=app.settings.report_form_keep_days)
    now = now or app.clock.now()
    now_utc = now.astimezone(timezone.utc).replace(tzinfo=None) if now.tzinfo else now
    reminded = discarded = 0
    async with scan_lock(app.engine, "forms:idle") as mine:
        if mine:
            for form in forms:
                counts = await _scan(app, storage or app.form_storage(), form, now_utc, keep)
                reminded, discarded = reminded + counts[0], discarded + counts[1]
    if reminded or discarded:
        app.kick_delivery()
    return reminded, discarded


async def _scan(app: App, storage: Any, form: IdleForm, now_utc: datetime, keep: timedelta) -> tuple[int, int]:
    reminded = discarded = 0
    for draft in await storage.idle(form.state, touched_before=now_utc - keep + IDLE_REMINDER_BEFORE):
        chat, token = draft.data.get("chat"), draft.data.get("token") or draft.key
        if chat is None:
            continue
        expired = draft.touched_at <= now_utc - keep
        if expired and not await storage.discard(draft):
            continue  # the member came back to it just now
        async with app.sessionmaker() as session, session.begin():
            member = await session.scalar(select(Member).where(Member.telegram_id == chat))
            with in_locale(app, member.locale if member else None):
                text = fill(form.discarded if expired else form.reminder, days=keep.days)
            queued = await outbox.enqueue(session, key=f"{form.key}-{'discarded' if expired else 'idle'}:{token}",
                                          chat_id=int(chat), kind=KIND, text=text, member_id=member.id if member else None)
        discarded += expired
        reminded += bool(queued) and not expired
    return reminded, discarded

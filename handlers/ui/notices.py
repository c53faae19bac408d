"""Notifications through the one delivery path (handlers.ui.notify → bot.services.outbox → the sender):
reports, corrective actions, and membership events the admins must know of.

Each notice is rendered in the recipient's language and written as a delivery row in the caller's
transaction, keyed so a retried handler or job never sends it twice. The secretary gets one message per
submitted report version (with an 「Open」 button; admins when the branch has no secretary); we chose this
over batching because reports trickle in over days and each message leads straight to its review."""
from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.services import membership, reports
from handlers.ui.callbacks import ActionButton, ReportFormButton, ReviewButton
from handlers.ui.notify import members, notify
from handlers.ui.report_text import month_label
from storage.models import Member
from storage.models.reports import CorrectiveAction, Hazard, Report

KIND = "report"


async def report_submitted(session: AsyncSession, app: App, report: Report, member: Member) -> int:
    def render():
        text = _("📝 New 四不伤害 report from {name} for {month} (version {version}), waiting for your review.").format(
            name=escape(member.real_name), month=month_label(report.month), version=report.version)
        return text, [[{"text": _("Open"), "callback_data": ReviewButton(action="open", report_id=report.id).pack()}]]

    reviewers = await reports.reviewers_for(session, report.branch_id, author_id=report.member_id)
    return await notify(session, app, members(reviewers), kind=KIND, render=render,
                        key=lambda _chat, reviewer: f"report-submitted:{report.id}:{report.version}:{reviewer.id}")


async def report_reviewed(session: AsyncSession, app: App, report: Report) -> bool:
    def render():
        if report.status == "approved":
            return _("✅ Your 四不伤害 report for {month} was approved.").format(month=month_label(report.month))
        text = _("↩️ Your 四不伤害 report for {month} was returned: {comment}\nPlease edit it and submit it again.").format(
            month=month_label(report.month), comment=escape(report.review_comment or ""))
        return text, [[{"text": _("✏️ Edit and resubmit"),
                        "callback_data": ReportFormButton(action="revise", value=str(report.id)).pack()}]]

    author = await session.get(Member, report.member_id)
    return bool(await notify(session, app, members([author]), kind=KIND, render=render,
                             key=lambda _chat, _member: f"report-{report.status}:{report.id}:{report.version}"))


async def action_assigned(session: AsyncSession, app: App, action: CorrectiveAction) -> bool:
    hazard = await _hazard_of(session, action)

    def render():
        text = _("🛠 Corrective action for you, due {due}:\n{hazard}\nWhen it is fixed, press the button and send a note and a photo.").format(
            due=action.due_date.isoformat(), hazard=escape(hazard.description))
        return text, [[{"text": _("✅ Mark as done"), "callback_data": ActionButton(action="done", action_id=action.id).pack()}]]

    owner = await session.get(Member, action.owner_id)
    return bool(await notify(session, app, members([owner]), kind=KIND, render=render,
                             key=lambda _chat, _member: f"action-assigned:{action.id}"))


async def action_completed(session: AsyncSession, app: App, action: CorrectiveAction, owner: Member) -> int:
    """Tell the branch's reviewers that an owner marked an action done, with 「确认」 / 「重新打开」 buttons (once
    per completion: a reopened and again completed action is a new notice)."""
    hazard = await _hazard_of(session, action)

    def render():
        text = _("🛠 Action #{id} marked done by {owner}: {note}\nHazard: {hazard}\nPlease check it.").format(
            id=action.id, owner=escape(owner.real_name), note=escape(action.done_note or ""),
            hazard=escape(hazard.description[:80]))
        return text, [[{"text": _("✔️ Confirm the fix"), "callback_data": ActionButton(action="verify", action_id=action.id).pack()},
                       {"text": _("↩️ Reopen"), "callback_data": ActionButton(action="reopen", action_id=action.id).pack()}]]

    done_at = action.done_at.isoformat() if action.done_at else ""
    return await notify(session, app, members(await reports.reviewers_for(session, action.branch_id)), kind=KIND,
                        render=render, key=lambda _chat, reviewer: f"action-done:{action.id}:{done_at}:{reviewer.id}")


async def action_reopened(session: AsyncSession, app: App, action: CorrectiveAction, at: str) -> bool:
    """Tell the owner the secretary reopened their action (with the 「完成」 button again)."""
    hazard = await _hazard_of(session, action)

    def render():
        text = _("↩️ Action #{id} was reopened by your secretary; it is not fixed yet. Due {due}:\n{hazard}").format(
            id=action.id, due=action.due_date.isoformat(), hazard=escape(hazard.description))
        return text, [[{"text": _("✅ Mark as done"), "callback_data": ActionButton(action="done", action_id=action.id).pack()}]]

    owner = await session.get(Member, action.owner_id)
    return bool(await notify(session, app, members([owner]), kind=KIND, render=render,
                             key=lambda _chat, _member: f"action-reopened:{action.id}:{at}"))


async def secretary_joined(session: AsyncSession, app: App, member: Member) -> int:
    """Tell every admin that someone became a branch secretary through an invite link (a forwarded link
    must not make a secretary unnoticed)."""
    def render():
        return _("👤 {name} joined {branch} as secretary through an invite link. If that is not right, "
                 "change their role with /member {id} and revoke the link with /invites.").format(
            name=escape(member.real_name), branch=escape(member.branch.name), id=member.id)

    admins = await membership.admin_recipients(session, app.settings.admin_ids)
    return await notify(session, app, admins, kind="membership", render=render,
                        key=lambda chat_id, _admin: f"secretary-joined:{member.id}:{chat_id}")


async def _hazard_of(session: AsyncSession, action: CorrectiveAction) -> Hazard:
    """The action's hazard without a lazy load (not allowed on an async session)."""
    return await session.get(Hazard, action.hazard_id)

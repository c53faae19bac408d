"""Talk notices through the one delivery path (bot.services.outbox → the sender), always to private chats:
the participant's 「确认参加」, a follow-up's owner when it is assigned and on its due date, the branch
secretaries when it is overdue. Each is keyed so a retried handler or job sends it once. A notice names the
talk's date and kind and the follow-up, never the talk's notes."""
from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.services import reports
from handlers.ui.callbacks import TalkButton
from handlers.ui.notify import members, notify
from handlers.ui.talk_text import kind_name
from storage.models import Member, Talk, TalkFollowUp

KIND = "talk"


async def talk_logged(session: AsyncSession, app: App, talk: Talk, author: Member) -> int:
    """Each participant who is a member is asked to confirm they took part."""
    def render():
        text = _("💬 {author} recorded a talk with you: {kind} on {date}. If you took part, please confirm.").format(
            author=escape(author.real_name), kind=kind_name(talk.kind), date=talk.held_on.isoformat())
        return text, [[{"text": _("✅ Confirm I took part"), "callback_data": TalkButton(action="confirm", ref=talk.id).pack()}]]

    participants = [await session.get(Member, p.member_id) for p in talk.participants if p.member_id]
    queued = await notify(session, app, members(participants), kind=KIND, render=render,
                          key=lambda _chat, member: f"talk-logged:{talk.id}:{member.id}")
    for item in talk.follow_ups:
        if item.owner_id != author.id:
            queued += await _to_owner(session, app, item, f"talk-follow-up-assigned:{item.id}", assigned=True)
    return queued


async def follow_up_due(session: AsyncSession, app: App, item: TalkFollowUp) -> bool:
    """The reminder on the due date (queued once per follow-up by schedulers/talks.py)."""
    return await _to_owner(session, app, item, f"talk-follow-up-due:{item.id}", assigned=False)


async def _to_owner(session: AsyncSession, app: App, item: TalkFollowUp, key: str, assigned: bool) -> bool:
    def render():
        if assigned:
            text = _("📌 A follow-up from a talk for you, due {due}:\n{what}").format(
                due=item.due_date.isoformat(), what=escape(item.what))
        else:
            text = _("⏰ A talk follow-up is due today ({due}):\n{what}\nWhen it is done, press the button and send a short note.").format(
                due=item.due_date.isoformat(), what=escape(item.what))
        return text, [[{"text": _("✅ Mark the follow-up done"), "callback_data": TalkButton(action="done", ref=item.id).pack()}]]

    owner = await session.get(Member, item.owner_id)
    if owner is None or not owner.active:
        return False
    return bool(await notify(session, app, members([owner]), kind=KIND, render=render, key=lambda _chat, _member: key))


async def follow_up_overdue(session: AsyncSession, app: App, item: TalkFollowUp) -> int:
    """The branch secretaries hear once of a follow-up past its due date."""
    owner = await session.get(Member, item.owner_id)

    def render():
        return _("⚠️ A talk follow-up is overdue (due {due}, owner {owner}):\n{what}\nSee /talks.").format(
            due=item.due_date.isoformat(), owner=escape(owner.real_name if owner else "—"), what=escape(item.what))

    secretaries = await reports.branch_secretaries(session, item.branch_id)
    return await notify(session, app, members(secretaries), kind=KIND, render=render,
                        key=lambda _chat, secretary: f"talk-follow-up-overdue:{item.id}:{secretary.id}")

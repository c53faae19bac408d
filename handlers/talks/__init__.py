"""/talk: log a talk (谈心谈话, safety talk…) in a minute; /talks: coverage, recent talks, open follow-ups and
「待谈」 (who needs a talk now, one tap to start /talk prefilled); 「确认参加」 and follow-ups marked done.

The form is a typed draft on the form engine (bot/forms/talk.py: the steps; screens.py: what each shows),
kept in the persistent FSM storage, so a restart loses nothing. Everything here happens in private chats:
in a group the commands only say so, and no button shows anything of a talk there.
"""
from __future__ import annotations

import logging
import uuid
from datetime import date
from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.forms.talk import ITEM_STEPS, TALK_FORM, TEXT_STEPS, TalkDraft, parse_day
from bot.services import membership, talks
from bot.services.errors import DomainError
from bot.services.membership import Actor
from handlers.talks.screens import (
    LIMITS,
    Context,
    overflow_keyboard,
    redirect_notice,
    resume_or_discard,
    screen,
)
from handlers.ui.access import IsMember
from handlers.ui.callbacks import TalkButton, TalkFormButton
from handlers.ui.form_screens import keyboard
from handlers.ui.menu import Menu
from handlers.ui.render import answer_long, error_text
from handlers.ui.states import TalkFollowUpDone, TalkForm
from handlers.ui.talk_notices import talk_logged
from handlers.ui.talk_text import kind_name, reason_text, render_view
from storage.models import Branch, Member

log = logging.getLogger(__name__)

BTN_TALK = __("💬 谈心谈话")
PRIVATE = F.chat.type == "private"


def router() -> Router:
    r = Router(name="talks")
    r.message.filter(IsMember())
    r.callback_query.filter(IsMember())
    r.message.register(only_private, Command("talk", "talks"), ~PRIVATE)
    for button_filter in (TalkButton.filter(), TalkFormButton.filter()):
        r.callback_query.register(only_private_button, button_filter, F.message.chat.type != "private")
    r.message.register(talk_command, Command("talk"), PRIVATE)
    r.message.register(talk_command, F.text == BTN_TALK, PRIVATE)
    r.message.register(talks_command, Command("talks"), PRIVATE)
    r.callback_query.register(form_button, TalkFormButton.filter())
    r.callback_query.register(talk_button, TalkButton.filter())
    r.message.register(form_input, TalkForm.filling, PRIVATE, ~F.text.startswith("/"))
    r.message.register(done_note, TalkFollowUpDone.note, PRIVATE, ~F.text.startswith("/"))
    return r


async def only_private(message: Message) -> None:
    await message.answer(_("Talks are private: please send this to me in a private chat."))


async def only_private_button(query: CallbackQuery) -> None:
    await query.answer(_("Talks are private: please send this to me in a private chat."), show_alert=True)


def _today(app: App) -> date:
    return app.local_now().date()


# --- /talk ----------------------------------------------------------------------------------------

async def talk_command(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App) -> None:
    if await _busy(message, state):
        return
    if not talks.may_log(actor):
        await message.answer(error_text(DomainError("talk_not_allowed")))
        return
    draft = TalkDraft(token=uuid.uuid4().hex, chat=message.chat.id)
    TALK_FORM.advance(draft, TALK_FORM.first, push=False)
    await state.set_state(TalkForm.filling)
    await _save_and_prompt(message, state, session, actor, app, draft)


async def _busy(message: Message, state: FSMContext) -> bool:
    """True (and the user told) when another conversation is under way."""
    current = await state.get_state()
    if current == TalkForm.filling.state:
        await message.answer(_("You have a talk record that is not finished yet. Continue it, or discard it and start again?"),
                             reply_markup=resume_or_discard())
        return True
    if current is not None:
        await message.answer(_("Please finish or /cancel what you are doing first."))
        return True
    return False


async def _start_prefilled(query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor, app: App,
                           member_id: int) -> None:
    """「待谈」's one tap: /talk with the person chosen and the kind their reason calls for; it opens on the date."""
    if await _busy(query.message, state):
        return
    if not talks.may_log(actor):
        await query.message.answer(error_text(DomainError("talk_not_allowed")))
        return
    person = await talks.check_person(session, actor.member, member_id, None, app.settings.tz)
    due = await talks.who_needs_a_talk(session, actor.member.branch_id, _today(app), app.settings.tz,
                                       talks.DueRules.from_settings(app.settings))
    kind = next((d.suggested_kind for d in due if d.member.id == person.id), "heart")
    draft = TalkDraft(token=uuid.uuid4().hex, chat=query.message.chat.id, kind=kind, people=[_person(person, app)])
    for step in ("kind", "people", "date"):
        TALK_FORM.advance(draft, step)
    await state.set_state(TalkForm.filling)
    await _save_and_prompt(query.message, state, session, actor, app, draft)


def _person(member: Member, app: App) -> dict:
    return {"member_id": member.id, "name": member.real_name,
            "joined": talks.local_date(member.joined_at, app.settings.tz).isoformat()}


# --- form input -----------------------------------------------------------------------------------

async def form_input(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App) -> None:
    draft = TalkDraft.load(await state.get_data())
    if draft is None:
        log.error("talk form state without a readable draft in chat %s; cleared", message.chat.id)
        await state.clear()
        await message.answer(_("This form is already finished or was cancelled. Send /talk to start."))
        return
    if draft.step not in TEXT_STEPS:
        await message.answer(_("Please use the buttons above."))
        return
    text = (message.text or "").strip()
    if not text:
        await message.answer(_("Please answer with text. Stickers, voice messages, photos and files cannot be used here."))
        return
    if draft.step in LIMITS and len(text) > LIMITS[draft.step]:
        # Keep the whole answer in the form and show what would be kept, so nothing is lost silently.
        draft.overflow = text
        await state.set_data(draft.dump())
        limit = LIMITS[draft.step]
        await message.answer(
            _("Your answer has {length} characters; the limit is {max}. Please shorten it and send it again, or keep only the first {max} characters (shown below).").format(
                length=len(text), max=limit) + "\n\n" + escape(text[:limit]),
            reply_markup=overflow_keyboard(draft))
        return
    try:
        notices = _accept_text(draft, text, _today(app))
    except DomainError as error:
        await message.answer(error_text(error))
        return
    await _save_and_prompt(message, state, session, actor, app, draft, notices)


def _accept_text(draft: TalkDraft, text: str, today: date) -> list[str]:
    """A typed answer to the current step; raises DomainError for a refused one (the draft is unchanged)."""
    step = draft.step
    if step in ("people", "f_owner"):  # typing on a picker searches by name
        draft.search, draft.page = talks.clean_text(text)[:20], 0
        return []
    if step in ("date", "f_due"):
        return _accept_day(draft, text, today)
    if step == "c_note":
        draft.item = {**(draft.item or {}), "note": text}
        TALK_FORM.advance(draft, "c_private")
        return []
    if step == "f_what":
        draft.item = {"what": text}
        draft.search, draft.page = None, 0
        TALK_FORM.advance(draft, "f_owner")
        return []
    setattr(draft, step, text)
    return _next(draft)


def _accept_day(draft: TalkDraft, text: str, today: date) -> list[str]:
    day = parse_day(text, today, future=draft.step == "f_due")
    if day is None:
        raise DomainError("talk_bad_date")
    return _set_day(draft, day, today)


def _set_day(draft: TalkDraft, day: date, today: date) -> list[str]:
    if draft.step == "date":
        talks.check_date(day, today)
        draft.held_on = day.isoformat()
        return _next(draft)
    if day < today or (draft.held_on and day.isoformat() < draft.held_on):
        raise DomainError("talk_due_past")
    draft.item = {**(draft.item or {}), "due": day.isoformat()}
    TALK_FORM.finish_item(draft, "follow_ups")
    return []


# --- form buttons ---------------------------------------------------------------------------------

async def form_button(query: CallbackQuery, callback_data: TalkFormButton, state: FSMContext, session: AsyncSession,
                      actor: Actor, app: App, menu: Menu) -> None:
    action = callback_data.action
    filling = await state.get_state() == TalkForm.filling.state
    draft = TalkDraft.load(await state.get_data()) if filling else None
    if draft is None:
        await query.answer(_("This form is already finished or was cancelled. Send /talk to start."), show_alert=True)
        return
    message = query.message
    if action == "resume":
        await query.answer()
        await _prompt(message, session, actor, app, draft)
        return
    if action in ("discard", "cancel"):
        await state.clear()
        await query.answer()
        await message.answer(_("The talk record was discarded. Nothing was saved."), reply_markup=menu.keyboard(actor))
        return
    if callback_data.step != draft.step:
        await query.answer(_("That button belongs to an earlier step; please use the latest message."), show_alert=True)
        return
    if action == "submit":
        await query.answer()
        await _submit(query, state, session, actor, app, menu, draft)
        return
    try:
        notices = await _on_button(draft, action, callback_data.value, session, actor, app)
    except DomainError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    await query.answer()
    if notices is not None:
        await _save_and_prompt(message, state, session, actor, app, draft, notices)


async def _on_button(draft: TalkDraft, action: str, value: str, session: AsyncSession, actor: Actor, app: App
                     ) -> list[str] | None:
    """Apply one button to the draft; the notices to show (None: nothing changed). DomainError: refused."""
    step, today = draft.step, _today(app)
    if action == "pick":
        return await _pick(draft, int(value), session, actor, app)
    if action == "date" or action == "due":
        return _set_day(draft, date.fromisoformat(value), today)
    if action == "trim" and draft.overflow:
        text, draft.overflow = draft.overflow, None
        return _accept_text(draft, text[:LIMITS[step]].strip(), today)
    if action == "outside" and step == "people" and draft.search:
        name = talks.clean_outside_name(draft.search)
        if not draft.has_person(None, name):
            draft.people = [*draft.people, {"member_id": None, "name": name, "joined": None}]
        draft.search = None
        return []
    return _SIMPLE.get(action, _ignore)(draft, value)


async def _pick(draft: TalkDraft, member_id: int, session: AsyncSession, actor: Actor, app: App) -> list[str]:
    held_on = date.fromisoformat(draft.held_on) if draft.held_on else None
    if draft.step == "f_owner":
        owner = await talks.check_owner(session, actor.member, member_id)
        draft.item = {**(draft.item or {}), "owner_id": owner.id, "owner_name": owner.real_name}
        draft.search, draft.page = None, 0
        TALK_FORM.advance(draft, "f_due")
        return []
    if draft.has_person(member_id, ""):
        draft.people = [p for p in draft.people if p.get("member_id") != member_id]
        return []
    if len(draft.people) >= talks.MAX_PEOPLE:
        raise DomainError("talk_too_many_people", max=talks.MAX_PEOPLE)
    person = await talks.check_person(session, actor.member, member_id, held_on, app.settings.tz)
    draft.people = [*draft.people, _person(person, app)]
    return []


def _ignore(draft: TalkDraft, value: str) -> list[str] | None:
    return None


def _on_kind(draft: TalkDraft, value: str) -> list[str] | None:
    if value not in tuple(talks.TalkKind):
        return None
    draft.kind = value
    return _next(draft)


def _on_page(draft: TalkDraft, value: str) -> list[str] | None:
    draft.page = max(int(value or 0), 0)
    return []


def _on_clear(draft: TalkDraft, value: str) -> list[str] | None:
    draft.search, draft.page = None, 0
    return []


def _on_back(draft: TalkDraft, value: str) -> list[str] | None:
    leaving = draft.step
    if not TALK_FORM.back(draft):
        return [_("This is the first step. Press ✖️ Cancel to stop.")]
    if leaving in ITEM_STEPS:
        draft.item = None
    draft.search, draft.page = None, 0
    return []


def _on_skip(draft: TalkDraft, value: str) -> list[str] | None:
    if draft.step not in TALK_FORM.skippable:
        return None
    setattr(draft, draft.step, None)
    return _next(draft)


def _on_add(draft: TalkDraft, value: str) -> list[str] | None:
    if draft.step not in ("concerns", "follow_ups"):
        return None
    if len(getattr(draft, draft.step)) >= talks.MAX_ITEMS:
        raise DomainError("talk_too_many_items", max=talks.MAX_ITEMS)
    draft.item = None
    TALK_FORM.advance(draft, "c_tag" if draft.step == "concerns" else "f_what")
    return []


def _on_drop(draft: TalkDraft, value: str) -> list[str] | None:
    items = getattr(draft, draft.step) if draft.step in ("concerns", "follow_ups") else None
    if items:
        items.pop()
    return [] if items is not None else None


def _on_tag(draft: TalkDraft, value: str) -> list[str] | None:
    if draft.step != "c_tag" or value not in tuple(talks.ConcernTag):
        return None
    draft.item = {"tag": value}
    TALK_FORM.advance(draft, "c_note")
    return []


def _on_private(draft: TalkDraft, value: str) -> list[str] | None:
    if draft.step != "c_private" or draft.item is None:
        return None
    draft.item = {**draft.item, "secretary_only": value == "1"}
    TALK_FORM.finish_item(draft, "concerns")
    return []


def _on_next(draft: TalkDraft, value: str) -> list[str] | None:
    if draft.step not in ("people", "concerns", "follow_ups"):
        return None
    draft.search, draft.page = None, 0
    return _next(draft)


def _on_edit(draft: TalkDraft, value: str) -> list[str] | None:
    return [] if TALK_FORM.edit(draft, value) else None


_SIMPLE = {"kind": _on_kind, "page": _on_page, "clear": _on_clear, "back": _on_back, "skip": _on_skip,
           "add": _on_add, "drop": _on_drop, "tag": _on_tag, "private": _on_private, "next": _on_next,
           "edit": _on_edit}


def _next(draft: TalkDraft) -> list[str]:
    redirect = TALK_FORM.next(draft)
    return [redirect_notice(redirect.reason, redirect.params)] if redirect else []


async def _submit(query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor, app: App,
                  menu: Menu, draft: TalkDraft) -> None:
    try:
        result = await talks.log_talk(
            session, actor, talks.TalkInput.from_form(draft.answers()), form_token=draft.token, today=_today(app),
            now=app.clock.utc_naive(), tz=app.settings.tz, points_logged=app.settings.points_talk_logged)
    except DomainError as error:  # the form stays as it is: fix the part and save again
        log.info("talk record refused in chat %s: %s", query.message.chat.id, error.code)
        await query.message.answer(error_text(error))
        return
    await state.clear()
    if result.duplicate:
        await query.message.answer(_("This talk was already saved."))
        return
    asked = await talk_logged(session, app, result.talk, actor.member)
    text = _("Saved: {kind} on {date}.").format(kind=kind_name(result.talk.kind), date=result.talk.held_on.isoformat())
    if asked:
        text += "\n" + _("The people you talked with were asked to confirm; owners of follow-ups were told.")
    await query.message.answer(text, reply_markup=menu.keyboard(actor))


# --- helpers --------------------------------------------------------------------------------------

async def _save_and_prompt(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App,
                           draft: TalkDraft, notices: list[str] | None = None) -> None:
    await state.set_data(draft.dump())
    for notice in notices or []:
        await message.answer(notice)
    await _prompt(message, session, actor, app, draft)


async def _prompt(message: Message, session: AsyncSession, actor: Actor, app: App, draft: TalkDraft) -> None:
    ctx = Context(today=_today(app))
    if draft.step in ("people", "f_owner") and actor.member is not None and actor.member.branch_id is not None:
        members = await talks.branch_members(session, actor.member.branch_id, draft.search)
        ctx.members = [m for m in members if draft.step == "f_owner" or m.id != actor.member.id]
    text, rows = screen(draft, ctx)
    await answer_long(message, text, reply_markup=keyboard(rows))


# --- /talks and its buttons -----------------------------------------------------------------------

async def talks_command(message: Message, command: CommandObject, session: AsyncSession, actor: Actor, app: App
                        ) -> None:
    """/talks [2026Q4]: staff see coverage of the quarter (default: this one); members see their own talks."""
    try:
        quarter = talks.parse_quarter(command.args) if command.args else None
    except DomainError as error:
        await message.answer(error_text(error))
        return
    if actor.is_admin:
        text, rows = await _all_branches(session, app, quarter)
    elif actor.is_secretary:
        text, rows = await _branch_overview(session, app, actor.branch_id, quarter)
    else:
        text, rows = await _my_talks(session, actor)
    await answer_long(message, text, reply_markup=keyboard(rows) if rows else None)


def _talk_button(text: str, action: str, ref: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=TalkButton(action=action, ref=ref).pack())


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict((await session.execute(select(Member.id, Member.real_name).where(Member.id.in_(ids)))).all())


async def _branch_overview(session: AsyncSession, app: App, branch_id: int, quarter: talks.Period | None = None
                           ) -> tuple[str, list]:
    today, tz = _today(app), app.settings.tz
    branch = await session.get(Branch, branch_id)
    quarter = quarter or talks.quarter_of(today)
    cover = await talks.coverage(session, branch_id, quarter, tz)
    party_covered, party_all = cover.party
    lines = [_("<b>谈心谈话 · {branch} · {quarter}</b>").format(branch=escape(branch.name), quarter=quarter.label),
             ngettext("Coverage: {covered}/{eligible} member had a talk ({confirmed} confirmed); party members {party}/{party_all}.",
                      "Coverage: {covered}/{eligible} members had a talk ({confirmed} confirmed); party members {party}/{party_all}.",
                      cover.eligible).format(
                 covered=cover.covered, eligible=cover.eligible, confirmed=cover.confirmed, party=party_covered,
                 party_all=party_all),
             _("Talks held: {count} ({confirmed} confirmed by everyone).").format(
                 count=cover.talks_held, confirmed=cover.talks_confirmed)]
    uncovered = [line.member.real_name for line in cover.lines if not line.covered]
    if uncovered:
        lines.append(_("No talk yet this quarter: {names}").format(names=escape("、".join(uncovered))))
    recent = await talks.recent_talks(session, branch_id)
    lines.append("\n" + _("<b>Recent talks</b>: {count}").format(count=len(recent)))
    names = await _names(session, {t.author_id for t in recent})
    rows = []
    for talk in recent:
        label = f"{talk.held_on.isoformat()} {kind_name(talk.kind)} · {names.get(talk.author_id, '')} → " + \
                "、".join(p.name for p in talk.participants)
        lines.append("• " + escape(label))
        rows.append([_talk_button("📄 " + label[:40], "open", talk.id)])
    follow_ups = await talks.open_follow_ups(session, branch_id)
    lines.append("\n" + _("<b>Open follow-ups</b>: {count}").format(count=len(follow_ups)))
    owners = await _names(session, {f.owner_id for f in follow_ups})
    for item in follow_ups:
        late = " ⚠️" + _("overdue") if item.due_date < today else ""
        lines.append("• " + _("{what} — owner: {owner}, due {due}").format(
            what=escape(item.what), owner=escape(owners.get(item.owner_id, "")), due=item.due_date.isoformat()) + late)
    due = await talks.who_needs_a_talk(session, branch_id, today, tz, talks.DueRules.from_settings(app.settings))
    rows.insert(0, [_talk_button(_("📋 待谈: {count}").format(count=len(due)), "due", branch_id)])
    return "\n".join(lines), rows


async def _all_branches(session: AsyncSession, app: App, quarter: talks.Period | None = None) -> tuple[str, list]:
    today, tz = _today(app), app.settings.tz
    quarter = quarter or talks.quarter_of(today)
    lines = [_("<b>谈心谈话 · all branches · {quarter}</b>").format(quarter=quarter.label)]
    rows = []
    for branch, _count in await membership.list_branches(session):
        cover = await talks.coverage(session, branch.id, quarter, tz)
        follow_ups = await talks.open_follow_ups(session, branch.id)
        overdue = sum(f.due_date < today for f in follow_ups)
        lines.append(ngettext("• {branch}: {covered}/{eligible} member covered, {talks}, {open} ({overdue} overdue)",
                              "• {branch}: {covered}/{eligible} members covered, {talks}, {open} ({overdue} overdue)",
                              cover.eligible).format(
            branch=escape(branch.name), covered=cover.covered, eligible=cover.eligible,
            talks=ngettext("{talks} talk", "{talks} talks", cover.talks_held).format(talks=cover.talks_held),
            open=ngettext("{open} open follow-up", "{open} open follow-ups", len(follow_ups)).format(open=len(follow_ups)),
            overdue=overdue))
        rows.append([_talk_button(branch.name, "branch", branch.id)])
    return "\n".join(lines), rows


async def _my_talks(session: AsyncSession, actor: Actor) -> tuple[str, list]:
    member = actor.member
    mine = await talks.talks_of_member(session, member)
    names = await _names(session, {t.author_id for t in mine})
    lines, rows = [_("<b>Your talks</b>: {count}").format(count=len(mine))], []
    for talk in mine:
        part = next((p for p in talk.participants if p.member_id == member.id), None)
        state = "" if part is None else (" ✓" if part.confirmed_at else " · " + _("not confirmed"))
        label = f"{talk.held_on.isoformat()} {kind_name(talk.kind)} · {names.get(talk.author_id, '')}"
        lines.append("• " + escape(label) + state)
        rows.append([_talk_button("📄 " + label[:40], "open", talk.id)])
        if part is not None and part.confirmed_at is None:
            rows.append([_talk_button(_("✅ Confirm I took part") + f" · {talk.held_on.isoformat()}", "confirm", talk.id)])
    follow_ups = await talks.open_follow_ups(session, owner_id=member.id)
    lines.append("\n" + _("<b>Your open follow-ups</b>: {count}").format(count=len(follow_ups)))
    for item in follow_ups:
        lines.append("• " + _("{what} — due {due}").format(what=escape(item.what), due=item.due_date.isoformat()))
        rows.append([_talk_button(_("✅ Done: {what}").format(what=item.what[:24]), "done", item.id)])
    return "\n".join(lines), rows


async def talk_button(query: CallbackQuery, callback_data: TalkButton, state: FSMContext, session: AsyncSession,
                      actor: Actor, app: App) -> None:
    action, ref = callback_data.action, callback_data.ref
    try:
        if action == "confirm":
            result = await talks.confirm_participation(session, actor.member, ref, app.clock.utc_naive())
            await query.answer(_("Thank you, your part in the talk is confirmed.") if result.confirmed
                               else _("You have already confirmed this talk."), show_alert=not result.confirmed)
            if result.confirmed:
                await query.message.answer(_("✅ Confirmed: {kind} on {date}.").format(
                    kind=kind_name(result.talk.kind), date=result.talk.held_on.isoformat()))
        elif action == "open":
            view = await talks.view_talk(session, actor, ref)
            await query.answer()
            owners = await _names(session, {f.owner_id for f in view.talk.follow_ups})
            await answer_long(query.message, render_view(view, owners))
        elif action == "done":
            await _ask_done_note(query, state, session, actor, ref)
        elif action == "start":
            await query.answer()
            await _start_prefilled(query, state, session, actor, app, ref)
        elif action in ("due", "branch"):
            await _staff_screen(query, session, actor, app, action, ref)
        else:
            await query.answer()
    except DomainError as error:
        await query.answer(error_text(error), show_alert=True)


async def _staff_screen(query: CallbackQuery, session: AsyncSession, actor: Actor, app: App, action: str,
                        branch_id: int) -> None:
    if not actor.can_manage_branch(branch_id) or await session.get(Branch, branch_id) is None:
        raise DomainError("forbidden")
    await query.answer()
    if action == "branch":
        text, rows = await _branch_overview(session, app, branch_id)
    else:
        text, rows = await _due_list(session, app, actor, branch_id)
    await answer_long(query.message, text, reply_markup=keyboard(rows) if rows else None)


async def _due_list(session: AsyncSession, app: App, actor: Actor, branch_id: int) -> tuple[str, list]:
    due = await talks.who_needs_a_talk(session, branch_id, _today(app), app.settings.tz,
                                       talks.DueRules.from_settings(app.settings))
    lines = [ngettext("<b>待谈</b>: {count} person needs a talk now", "<b>待谈</b>: {count} people need a talk now",
                      len(due)).format(count=len(due))]
    rows = []
    for item in due:
        lines.append(f"• <b>{escape(item.member.real_name)}</b>: " + "；".join(reason_text(r) for r in item.reasons))
        if talks.may_log(actor) and actor.member.id != item.member.id:  # admins have no branch to log in
            rows.append([_talk_button(_("💬 Talk with {name}").format(name=item.member.real_name), "start", item.member.id)])
    return "\n".join(lines), rows


async def _ask_done_note(query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor, ref: int) -> None:
    item = await talks.get_follow_up_for(session, actor, ref)
    if item.done_at is not None:
        raise DomainError("talk_follow_up_done")
    if await state.get_state() not in (None, TalkFollowUpDone.note.state):
        await query.answer(_("Please finish or /cancel what you are doing first."), show_alert=True)
        return
    await query.answer()
    await state.set_state(TalkFollowUpDone.note)
    await state.set_data({"follow_up": item.id})
    await query.message.answer(_("What was done? Send a short note ({what}).").format(what=escape(item.what)))


async def done_note(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App,
                    menu: Menu) -> None:
    follow_up_id = (await state.get_data()).get("follow_up")
    try:
        item = await talks.complete_follow_up(
            session, actor, int(follow_up_id or 0), message.text or "", today=_today(app), now=app.clock.utc_naive(),
            points_on_time=app.settings.points_follow_up_on_time)
    except DomainError as error:
        if error.code in ("talk_note_required", "talk_text_too_long"):  # ask again; the follow-up stays open
            await message.answer(error_text(error))
            return
        await state.clear()
        await message.answer(error_text(error), reply_markup=menu.keyboard(actor))
        return
    await state.clear()
    await message.answer(_("✅ Follow-up done: {what}").format(what=escape(item.what)), reply_markup=menu.keyboard(actor))


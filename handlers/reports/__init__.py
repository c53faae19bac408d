"""/report: the guided 四不伤害 form (private chat), from month to confirm; editing a returned report.

The form is a typed draft on the form engine (bot/forms/report.py: the steps; screens.py: what each shows).
The draft lives in the persistent FSM storage, so a restart or a week in the field loses nothing (idle
forms: schedulers/reports.py). Commands are not answers: /help, /language and the rest reach their routers
while the form waits.
"""
from __future__ import annotations

import logging
import uuid
from html import escape
from pathlib import Path

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.forms.report import ITEM_STEPS, PHOTO_STEPS, REPORT_FORM, TEXT_STEPS, ReportDraft
from bot.services import reports
from bot.services.errors import DomainError
from bot.services.item_rules import ItemRule, find_rule
from bot.services.membership import Actor
from bot.services.parse import parse_id
from bot.services.reports import MAX_ANSWER, MAX_HAZARD_PHOTOS
from handlers.reports.screens import button, overflow_keyboard, redirect_notice, resume_or_discard, screen
from handlers.ui.access import IsMember
from handlers.ui.callbacks import ReportFormButton, RuleButton, rule_button_clause
from handlers.ui.form_screens import keyboard
from handlers.ui.menu import Menu
from handlers.ui.notices import report_submitted
from handlers.ui.photos import first_of_album, save_photo
from handlers.ui.render import answer_long, error_text
from handlers.ui.report_text import STATUS_NAMES, month_label
from handlers.ui.states import ReportForm
from storage.models.reports import ReportStatus, Urgency

log = logging.getLogger(__name__)

BTN_REPORT = __("📝 四不伤害")


def router() -> Router:
    r = Router(name="reports")
    r.message.filter(IsMember(), F.chat.type == "private")
    r.callback_query.filter(IsMember())
    r.message.register(report_command, Command("report"))
    r.message.register(report_command, F.text == BTN_REPORT)
    r.callback_query.register(form_button, ReportFormButton.filter())
    r.callback_query.register(remove_rule, RuleButton.filter())
    r.message.register(form_input, ReportForm.filling, ~F.text.startswith("/"))
    return r


# --- entry ----------------------------------------------------------------------------------------

async def report_command(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App) -> None:
    if await state.get_state() == ReportForm.filling.state:
        await _offer_resume(message, state, session, actor, app)
        return
    if await state.get_state() is not None:
        await message.answer(_("Please finish or /cancel what you are doing first."))
        return
    await _start(message, state, session, actor, app)


async def _open_months(session: AsyncSession, actor: Actor, app: App) -> tuple[list[str], list[str]]:
    """(months that can be filed now, returned ones first; a line on each month already filed)."""
    open_months: list[tuple[bool, str]] = []
    notes: list[str] = []
    for month in reports.month_choices(app.local_now().date()):
        existing = await reports.report_for_month(session, actor.member, month)
        if existing is None or existing.status == ReportStatus.RETURNED:
            open_months.append((existing is None, month))  # False (returned) sorts first
        else:
            notes.append(_("Your report for {month} is {status}.").format(
                month=month_label(month), status=_status(existing.status)))
    return [month for _new, month in sorted(open_months, key=lambda pair: pair[0])], notes


async def _start(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App,
                 month: str | None = None) -> None:
    if actor.member is None or actor.member.branch_id is None:
        await message.answer(_("Reports are filed by members of a branch; you do not belong to one."))
        return
    open_months, notes = await _open_months(session, actor, app)
    if not open_months:
        await message.answer("\n".join(notes) + "\n" + _("There is nothing to file right now."))
        return
    if notes and month not in open_months:
        # Something is already filed: say where each month stands and ask, instead of opening a draft.
        rows = [[button(_("📝 Fill in {month}").format(month=month_label(m)), "begin", value=m)] for m in open_months]
        await message.answer("\n".join(notes), reply_markup=keyboard(rows))
        return
    draft = ReportDraft(token=uuid.uuid4().hex, chat=message.chat.id, month_choices=open_months)
    await state.set_state(ReportForm.filling)
    # The first open month is preselected (a returned one, else early in a month the previous one, usually
    # still missing); the first step offers the other as a button: one tap less than a month question.
    await _choose_month(message, state, session, actor, draft, month or open_months[0], intro="\n".join(notes))


async def _offer_resume(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App) -> None:
    """An unfinished form: continue or discard it — and a returned report is always reachable from here."""
    draft = await _draft(state)
    rows = resume_or_discard().inline_keyboard
    for month in (await _open_months(session, actor, app))[0]:
        existing = await reports.report_for_month(session, actor.member, month)
        if existing is not None and (draft is None or draft.report_id != existing.id):
            rows = [[button(_("✏️ Edit the returned report for {month} (discards this form)").format(
                month=month_label(month)), "revise", step="switch", value=str(existing.id))], *rows]
    await message.answer(
        _("You have a report form that is not finished yet. Continue it, or discard it and start again?"),
        reply_markup=keyboard(rows))


async def _choose_month(message: Message, state: FSMContext, session: AsyncSession, actor: Actor,
                        draft: ReportDraft, month: str, intro: str = "") -> None:
    """A returned report of that month is loaded for editing; otherwise the form goes on to the summary."""
    existing = await reports.report_for_month(session, actor.member, month)
    if existing is not None and existing.status == ReportStatus.RETURNED:
        with_action = await reports.hazards_with_action(session, {hazard.id for hazard in existing.hazards})
        loaded = ReportDraft(**{**reports.report_to_form(existing, with_action), "token": draft.token, "chat": draft.chat,
                                "month_choices": draft.month_choices, "report_id": existing.id,
                                "return_comment": existing.review_comment})
        REPORT_FORM.advance(loaded, REPORT_FORM.summary, push=False)
        await message.answer(_("Your report for {month} was returned: {comment}\nEdit the parts below and submit it again.")
                             .format(month=month_label(month), comment=escape(existing.review_comment or "")))
        await _save_and_prompt(message, state, loaded, actor)
        return
    draft.month = month
    notices = [intro] if intro else []
    if draft.step == "month":  # changed from the summary screen
        notices += _next(draft)
    elif draft.step != "summary":  # switching the month on step 1 keeps the step
        REPORT_FORM.advance(draft, "summary", push=False)
    await _save_and_prompt(message, state, draft, actor, notices)


# --- input ----------------------------------------------------------------------------------------

async def form_input(message: Message, state: FSMContext, actor: Actor, app: App, bot: Bot) -> None:
    draft = await _draft(state)
    if draft is None:
        await _lost(message, state)
        return
    step = draft.step
    if step in TEXT_STEPS and message.text is not None:
        await _text_answer(message, state, draft, message.text, actor, app)
    elif step == "hz_place" and message.location is not None:
        location = message.location
        if not reports.is_inside_china(location.latitude, location.longitude):
            await message.answer(_("That location is outside China. Please send the place as text, or share the location of the site."))
            return
        draft.item = {**(draft.item or {}), "place": None, "latitude": location.latitude, "longitude": location.longitude}
        REPORT_FORM.advance(draft, "hz_photos")
        await _save_and_prompt(message, state, draft, actor)
    elif step in PHOTO_STEPS and message.photo:
        await _photo_answer(message, state, draft, actor, app, bot)
    elif step in PHOTO_STEPS:
        await message.answer(_("Please send a photo here (not a file, sticker or voice message), or use the buttons."))
    elif step in TEXT_STEPS:
        await message.answer(_("Please answer with text. Stickers, voice messages, photos and files cannot be used here."))
    else:
        await message.answer(_("Please use the buttons above."))


async def _text_answer(message: Message, state: FSMContext, draft: ReportDraft, text: str, actor: Actor,
                       app: App) -> None:
    text = text.strip()
    if not text:
        await message.answer(_("Please answer with text."))
        return
    if len(text) > MAX_ANSWER:
        # Keep the whole answer in the form and show what would be kept, so nothing is lost silently.
        draft.overflow = text
        await state.set_data(draft.dump())
        await message.answer(
            _("Your answer has {length} characters; the limit is {max}. Please shorten it and send it again, or keep only the first {max} characters (shown below).").format(
                length=len(text), max=MAX_ANSWER) + "\n\n" + escape(text[:MAX_ANSWER]),
            reply_markup=overflow_keyboard(draft))
        return
    await _accept_text(message, state, draft, text, actor, app)


async def _accept_text(message: Message, state: FSMContext, draft: ReportDraft, text: str, actor: Actor,
                       app: App) -> None:
    step = draft.step
    notices: list[str] = []
    if step == "hz_desc":
        # The rule the hazard breaks, looked up again for every description typed (a confident match only;
        # none without a knowledge engine). The member sees it on the hazard list and the summary and may remove it.
        rule = await find_rule(app.item_rule_lookup(), text, "hazards")
        draft.item = {**(draft.item or {}), "description": text, "photos": (draft.item or {}).get("photos", []),
                      "rule": rule.as_dict() if rule else None}
        REPORT_FORM.advance(draft, "hz_place")
    elif step == "hz_place":
        draft.item = {**(draft.item or {}), "place": text, "latitude": None, "longitude": None}
        REPORT_FORM.advance(draft, "hz_photos")
    elif step == "vi_desc":  # the same for a violation: on its list and the summary, removable
        rule = await find_rule(app.item_rule_lookup(), text, "violations")
        draft.item = {"description": text, "photos": [], "rule": rule.as_dict() if rule else None}
        REPORT_FORM.advance(draft, "vi_photo")
    else:
        setattr(draft, step, text)
        notices = _next(draft)
    await _save_and_prompt(message, state, draft, actor, notices)


async def _photo_answer(message: Message, state: FSMContext, draft: ReportDraft, actor: Actor, app: App,
                        bot: Bot) -> None:
    item = draft.item or {"photos": []}
    if draft.step == "hz_photos" and len(item.get("photos", [])) >= MAX_HAZARD_PHOTOS:
        if not await first_of_album(message, state):  # an album of 20: one answer, not 17
            return
        await message.answer(_("A hazard can have at most {max} photos; this one was not added. Press ✅ Done to go on.")
                             .format(max=MAX_HAZARD_PHOTOS))
        return
    photo = message.photo[-1]  # the largest size Telegram offers
    local = await save_photo(bot, Path(app.settings.media_dir), draft.month or "unknown", photo.file_id,
                             photo.file_unique_id)
    item["photos"] = [*item.get("photos", []),
                      {"file_id": photo.file_id, "file_unique_id": photo.file_unique_id, "local_path": local}]
    draft.item = item
    if draft.step == "vi_photo":
        REPORT_FORM.finish_item(draft, "violations")
    await _save_and_prompt(message, state, draft, actor)


# --- buttons --------------------------------------------------------------------------------------

async def form_button(query: CallbackQuery, callback_data: ReportFormButton, state: FSMContext, session: AsyncSession,
                      actor: Actor, app: App, menu: Menu) -> None:
    action = callback_data.action
    if action == "revise":
        await _revise(query, callback_data, state, session, actor, app)
        return
    filling = await state.get_state() == ReportForm.filling.state
    if action in ("start", "begin") and not filling:  # the reminder's 「Fill it in now」, a month chosen
        await query.answer()
        if await state.get_state() is not None:
            await query.message.answer(_("Please finish or /cancel what you are doing first."))
            return
        await _start(query.message, state, session, actor, app, month=callback_data.value or None)
        return
    draft = await _draft(state) if filling else None
    if draft is None:
        await query.answer(_("This form is already finished or was cancelled. Send /report to start."), show_alert=True)
        return
    message = query.message
    if action in ("resume", "start", "begin"):
        await query.answer()
        await _prompt(message, draft, actor)
        return
    if action in ("discard", "cancel"):
        await state.clear()
        await query.answer()
        await message.answer(_("The report form was discarded. Nothing was submitted."), reply_markup=menu.keyboard(actor))
        return
    if callback_data.step != draft.step:
        await query.answer(_("That button belongs to an earlier step; please use the latest message."), show_alert=True)
        return
    await query.answer()
    if action == "submit":
        await _submit(query, state, session, actor, app, menu, draft)
    elif action == "month":
        if callback_data.value in draft.month_choices:
            await _choose_month(message, state, session, actor, draft, callback_data.value)
    elif action == "trim":  # the kept part of an over-long answer is taken like a typed one
        if draft.overflow:
            text, draft.overflow = draft.overflow, None
            await _accept_text(message, state, draft, text[:MAX_ANSWER].strip(), actor, app)
    elif action in _BUTTONS:
        notices = _BUTTONS[action](draft, callback_data.value)
        if notices is not None:
            await _save_and_prompt(message, state, draft, actor, notices)


async def remove_rule(query: CallbackQuery, callback_data: RuleButton, state: FSMContext, actor: Actor) -> None:
    """「去掉相关规定」: the member does not want the rule found for one of their hazards or violations."""
    draft = await _draft(state) if await state.get_state() == ReportForm.filling.state else None
    if draft is None:
        await query.answer(_("This form is already finished or was cancelled. Send /report to start."), show_alert=True)
        return
    kind, index, step = callback_data.kind, callback_data.index, callback_data.step
    items = getattr(draft, kind)  # the member's own draft: the button only says which item
    on_screen = step == draft.step and step in (kind, "confirm")  # its list or the summary, as now shown
    item = items[index] if on_screen and index < len(items) else None
    rule = ItemRule.from_dict(item.get("rule")) if item else None
    if rule is None or rule_button_clause(rule.clause) != callback_data.clause:
        log.info("rule button refused in chat %s: step %s/%s, %s %s of %s, clause %r", query.from_user.id,
                 step, draft.step, kind, index + 1, len(items), callback_data.clause)
        await query.answer(_("That button belongs to an earlier step; please use the latest message."), show_alert=True)
        return
    items[index] = {**item, "rule": None}
    removed = (_("The rule was removed from violation {n}.") if kind == "violations"
               else _("The rule was removed from hazard {n}."))
    await query.answer(removed.format(n=index + 1))
    await _save_and_prompt(query.message, state, draft, actor)


# Each button's change to the draft: returns the notices to show (None: nothing changed, show nothing).
def _on_back(draft: ReportDraft, value: str) -> list[str] | None:
    leaving = draft.step
    if not REPORT_FORM.back(draft):
        return [_("This is the first step. Press ✖️ Cancel to stop.")]
    if leaving in ITEM_STEPS:  # backing out of a new item drops it
        draft.item = None
    return []


def _on_skip(draft: ReportDraft, value: str) -> list[str] | None:
    step = draft.step
    if step not in REPORT_FORM.skippable:
        return None
    if step == "hz_photos":
        REPORT_FORM.advance(draft, "hz_urgency")
        return []
    if step == "vi_photo":
        REPORT_FORM.finish_item(draft, "violations")
        return []
    setattr(draft, step, None)
    if step.endswith("_did"):
        setattr(draft, step.replace("_did", "_example"), None)
    return _next(draft)


def _on_add(draft: ReportDraft, value: str) -> list[str] | None:
    if draft.step not in ("hazards", "violations"):
        return None
    draft.item = None
    REPORT_FORM.advance(draft, "hz_desc" if draft.step == "hazards" else "vi_desc")
    return []


def _on_drop(draft: ReportDraft, value: str) -> list[str] | None:
    items = draft.hazards if draft.step == "hazards" else draft.violations if draft.step == "violations" else None
    if items and items[-1].get("has_action"):  # the secretary has set up a corrective action for it
        return [error_text(DomainError("hazard_has_action", hazard=items[-1]["description"][:40]))]
    if items:
        items.pop()
    return [] if items is not None else None


def _on_next(draft: ReportDraft, value: str) -> list[str] | None:
    if draft.step not in ("hazards", "violations"):  # the only screens with 「下一步」
        return None
    return _next(draft)


def _on_urgency(draft: ReportDraft, value: str) -> list[str] | None:
    if value not in tuple(Urgency) or draft.item is None or draft.step != "hz_urgency":
        return None
    draft.item = {**draft.item, "urgency": value}
    REPORT_FORM.finish_item(draft, "hazards")
    return []


def _on_edit(draft: ReportDraft, value: str) -> list[str] | None:
    if draft.step != REPORT_FORM.summary:  # edit links are on the summary only
        return None
    return [] if REPORT_FORM.edit(draft, value) else None


_BUTTONS = {"back": _on_back, "skip": _on_skip, "add": _on_add, "drop": _on_drop, "next": _on_next,
            "urgency": _on_urgency, "edit": _on_edit}


def _next(draft: ReportDraft) -> list[str]:
    redirect = REPORT_FORM.next(draft)
    return [redirect_notice(redirect.reason, redirect.params)] if redirect else []


async def _submit(query: CallbackQuery, state: FSMContext, session: AsyncSession, actor: Actor, app: App,
                  menu: Menu, draft: ReportDraft) -> None:
    try:
        result = await reports.submit(session, actor.member, reports.ReportInput.from_form(draft.answers()),
                                      form_token=draft.token, now=app.clock.utc_naive())
    except DomainError as error:
        await query.message.answer(error_text(error))
        return
    await state.clear()
    report = result.report
    if result.duplicate:
        await query.message.answer(_("This report was already submitted."))
        return
    await report_submitted(session, app, report, actor.member)
    branch = actor.member.branch.name if actor.member.branch else ""
    text = _("Submitted. Your report for {month} went to {branch} for review; you will be told the result.").format(
        month=month_label(report.month), branch=escape(branch))
    await query.message.answer(text, reply_markup=menu.keyboard(actor))


async def _revise(query: CallbackQuery, cb: ReportFormButton, state: FSMContext, session: AsyncSession,
                  actor: Actor, app: App) -> None:
    """「Edit and resubmit」 from the return notification: loads that report into a new form."""
    report_id = parse_id(cb.value)
    try:
        if report_id is None:
            raise DomainError("report_not_found")
        report = await reports.get_report_for(session, actor, report_id)
    except DomainError:
        await query.answer(_("This report cannot be edited."), show_alert=True)
        return
    if actor.member is None or report.member_id != actor.member.id or report.status != ReportStatus.RETURNED:
        await query.answer(_("This report cannot be edited."), show_alert=True)
        return
    await query.answer()
    current = await state.get_state()
    if current == ReportForm.filling.state:
        draft = await _draft(state)
        if draft is not None and draft.report_id == report.id:  # already editing this very report
            await _prompt(query.message, draft, actor)
            return
        if cb.step != "switch":  # from the notification: say what is open and let the member choose
            await _offer_resume(query.message, state, session, actor, app)
            return
        await state.clear()  # the member chose the returned report over the unfinished form
        current = None
    if current is not None:
        await query.message.answer(_("Please finish or /cancel what you are doing first."))
        return
    await state.set_state(ReportForm.filling)
    draft = ReportDraft(token=uuid.uuid4().hex, chat=query.message.chat.id, month_choices=[report.month])
    await _choose_month(query.message, state, session, actor, draft, report.month)


# --- helpers --------------------------------------------------------------------------------------

async def _draft(state: FSMContext) -> ReportDraft | None:
    return ReportDraft.load(await state.get_data())


async def _lost(message: Message, state: FSMContext) -> None:
    """FSM data that is not a report draft (should not happen): say so instead of failing silently."""
    log.error("report form state without a readable draft in chat %s; cleared", message.chat.id)
    await state.clear()
    await message.answer(_("This form is already finished or was cancelled. Send /report to start."))


async def _save_and_prompt(message: Message, state: FSMContext, draft: ReportDraft, actor: Actor,
                           notices: list[str] | None = None) -> None:
    await state.set_data(draft.dump())
    for notice in notices or []:
        await message.answer(notice)
    await _prompt(message, draft, actor)


async def _prompt(message: Message, draft: ReportDraft, actor: Actor | None = None) -> None:
    text, rows = screen(draft, actor)
    await answer_long(message, text, reply_markup=keyboard(rows))


def _status(status: str) -> str:
    return str(STATUS_NAMES.get(status, status))

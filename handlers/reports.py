"""/report: the guided 四不伤害 form (private chat), from month to confirm; editing a returned report.

One FSM state (`ReportForm.filling`) with the current step and a trail of earlier steps in the FSM data:
「上一步」 pops the trail, every part can be edited from the summary, and the whole form lives in the
persistent FSM storage, so a restart or a week in the field loses nothing (idle forms: schedulers/reports.py).
"""
from __future__ import annotations

import logging
import uuid
from html import escape
from pathlib import Path

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.services import reports
from bot.services.errors import DomainError
from bot.services.membership import Actor
from bot.services.reports import MAX_ANSWER, MAX_HAZARD_PHOTOS, MIN_SECTIONS
from handlers.ui.access import IsMember
from handlers.ui.callbacks import ReportFormButton
from handlers.ui.menu import Menu
from handlers.ui.notices import report_submitted
from handlers.ui.photos import save_photo
from handlers.ui.render import answer_long, error_text
from handlers.ui.report_text import (
    SECTION_TITLES,
    STATUS_NAMES,
    hazard_line,
    month_label,
    render_report,
)
from handlers.ui.states import ReportForm
from storage.models.reports import SECTIONS, ReportStatus, Urgency

log = logging.getLogger(__name__)

BTN_REPORT = __("📝 四不伤害")

SECTION_STEPS = [f"{name}_{part}" for name in SECTIONS for part in ("did", "example")]
ORDER = ["month", "summary", *SECTION_STEPS, "hazards", "violations", "suggestions", "confirm"]
TEXT_STEPS = {"summary", *SECTION_STEPS, "hz_desc", "hz_place", "vi_desc", "suggestions"}
SKIPPABLE = {*SECTION_STEPS, "hz_photos", "vi_photo", "suggestions"}
PART_ENDS = {"month", "summary", "protect_example", "hazards", "violations", "suggestions"}
EDITABLE = {"month": "month", "summary": "summary", "sections": "self_did", "hazards": "hazards",
            "violations": "violations", "suggestions": "suggestions"}


def router() -> Router:
    r = Router(name="reports")
    r.message.filter(IsMember(), F.chat.type == "private")
    r.callback_query.filter(IsMember())
    r.message.register(report_command, Command("report"))
    r.message.register(report_command, F.text == BTN_REPORT)
    r.callback_query.register(form_button, ReportFormButton.filter())
    # Commands are not answers: they go on to their own routers (/review, /help, /cancel…) while the form waits.
    r.message.register(form_input, ReportForm.filling, ~F.text.startswith("/"))
    return r


# --- entry ----------------------------------------------------------------------------------------

async def report_command(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App) -> None:
    if await state.get_state() == ReportForm.filling.state:
        await message.answer(
            _("You have a report form that is not finished yet. Continue it, or discard it and start again?"),
            reply_markup=_kb([[_btn(_("▶️ Continue"), "resume"), _btn(_("🗑 Discard"), "discard")]]),
        )
        return
    if await state.get_state() is not None:
        await message.answer(_("Please finish or /cancel what you are doing first."))
        return
    await _start(message, state, session, actor, app)


async def _start(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App) -> None:
    if actor.member is None or actor.member.branch_id is None:
        await message.answer(_("Reports are filed by members of a branch; you do not belong to one."))
        return
    today = app.local_now().date()
    open_months: list[str] = []
    notes: list[str] = []
    for month in reports.month_choices(today):
        existing = await reports.report_for_month(session, actor.member, month)
        if existing is None or existing.status == ReportStatus.RETURNED:
            open_months.append(month)
        else:
            notes.append(_("Your report for {month} is {status}.").format(
                month=month_label(month), status=_status(existing.status)))
    if not open_months:
        await message.answer("\n".join(notes) + "\n" + _("There is nothing to file right now."))
        return
    data = {"token": uuid.uuid4().hex, "chat": message.chat.id, "month_choices": open_months, "trail": [],
            "hazards": [], "violations": []}
    await state.set_state(ReportForm.filling)
    await state.set_data(data)
    # The first open month is preselected (early in a month the previous one, usually still missing); step 1
    # offers the other as a button
    # (one tap less than a separate month question, and the same first step every time).
    await _choose_month(message, state, session, actor, open_months[0], intro="\n".join(notes))


async def _choose_month(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, month: str,
                        intro: str = "") -> None:
    """A returned report of that month is loaded for editing; otherwise the form goes on to the summary."""
    data = await state.get_data()
    existing = await reports.report_for_month(session, actor.member, month)
    if existing is not None and existing.status == ReportStatus.RETURNED:
        loaded = reports.report_to_form(existing)
        data.update(loaded, report_id=existing.id, return_comment=existing.review_comment, trail=[], step="confirm")
        await state.set_data(data)
        await message.answer(_("Your report for {month} was returned: {comment}\nEdit the parts below and submit it again.")
                             .format(month=month_label(month), comment=escape(existing.review_comment or "")))
        await _prompt(message, data, actor=actor)
        return
    data["month"] = month
    notices = [intro] if intro else []
    if data.get("step") == "month":  # changed from the summary screen
        notices += _go_next(data, "month")
    elif data.get("step") != "summary":  # switching the month on step 1 keeps the step
        _advance(data, "summary")
    await _save_and_prompt(message, state, data, actor, notices)


# --- navigation -----------------------------------------------------------------------------------

def _advance(data: dict, step: str, push: bool = True) -> None:
    if push and data.get("step"):
        data["trail"] = [*data.get("trail", []), data["step"]]
    data["step"] = step
    data.pop("overflow", None)


def _after(step: str, data: dict) -> str:
    """The step after `step`: back to the summary when editing one part; skipped sections skip their example."""
    if data.get("editing") and step in PART_ENDS:
        return "confirm"
    following = ORDER[ORDER.index(step) + 1]
    if step.endswith("_did") and not data.get(step):
        return _after(following, data)
    return following


def _back_to_menu(data: dict, menu: str) -> None:
    """After a hazard or violation is complete, return to its list as if its steps had never been visited."""
    trail = data.get("trail", [])
    if menu in trail:
        trail = trail[: len(trail) - 1 - trail[::-1].index(menu)]  # up to the last visit of the list
    data["trail"] = trail
    data["step"] = menu
    data.pop("draft", None)


def _go_next(data: dict, step: str) -> list[str]:
    """Move past `step`; returns notices to show (e.g. the four sections need two answers)."""
    target = _after(step, data)
    if step in SECTION_STEPS and target not in SECTION_STEPS:
        filled = [name for name in SECTIONS if data.get(f"{name}_did")]
        if len(filled) < MIN_SECTIONS:
            first_empty = next(name for name in SECTIONS if not data.get(f"{name}_did"))
            _advance(data, f"{first_empty}_did")
            return [_("Please fill in at least {min} of the four sections (you have {count}).").format(
                min=MIN_SECTIONS, count=len(filled))]
    if target == "confirm":
        data["editing"] = False
    _advance(data, target)
    return []


# --- prompts --------------------------------------------------------------------------------------

def _btn(text: str, action: str, step: str = "", value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=ReportFormButton(action=action, step=step, value=value).pack())


def _kb(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _nav(step: str, skip: str | None = None) -> list[list[InlineKeyboardButton]]:
    rows = [[_btn(skip, "skip", step)]] if skip else []
    rows.append([_btn(_("⬅️ Back"), "back", step), _btn(_("✖️ Cancel"), "cancel", step)])
    return rows


def _current(value: str | None) -> str:
    return "\n" + _("Current answer: {text}").format(text=escape(value)) if value else ""


async def _prompt(message: Message, data: dict, actor: Actor | None = None) -> None:
    text, rows = _screen(data, actor)
    await answer_long(message, text, reply_markup=_kb(rows))


def _screen(data: dict, actor: Actor | None) -> tuple[str, list[list[InlineKeyboardButton]]]:
    step = data["step"]
    limit = _("(at most {max} characters)").format(max=MAX_ANSWER)
    if step == "month":
        rows = [[_btn(month_label(m), "month", step, m)] for m in data["month_choices"]]
        return _("Which month is this report for?"), rows + _nav(step)
    if step == "summary":
        text = _("Report for {month}.").format(month=month_label(data["month"])) + "\n"
        text += _("Step 1/6 · In a few sentences, what was your work this month? {limit}").format(limit=limit)
        rows = []
        if len(data.get("month_choices", [])) > 1:
            rows.append([_btn(("✓ " if m == data["month"] else "📅 ") + month_label(m), "month", step, m)
                         for m in data["month_choices"]])
        return text + _current(data.get("summary")), rows + _nav(step)
    if step in SECTION_STEPS:
        name, part = step.rsplit("_", 1)
        title = SECTION_TITLES[name]
        if part == "did":
            text = _("Step 2/6 · 「{title}」: what did you do? {limit}").format(title=title, limit=limit)
            return text + _current(data.get(step)), _nav(step, _("⏭ Skip this section"))
        text = _("「{title}」: a concrete example (date, place, what happened)?").format(title=title)
        return text + _current(data.get(step)), _nav(step, _("⏭ No example"))
    if step == "hazards":
        lines = [_("Step 3/6 · Hazards (隐患) you found this month: {count}").format(count=len(data["hazards"]))]
        lines += [hazard_line(i, h) for i, h in enumerate(data["hazards"], 1)]
        rows = [[_btn(_("➕ Add a hazard"), "add", step)],
                [_btn(_("➡️ Next") if data["hazards"] else _("➡️ No hazards"), "next", step)]]
        if data["hazards"]:
            rows.insert(1, [_btn(_("🗑 Remove the last one"), "drop", step)])
        return "\n".join(lines), rows + _nav(step)
    if step == "hz_desc":
        return _("Describe the hazard: what is wrong, and why is it dangerous? {limit}").format(limit=limit), _nav(step)
    if step == "hz_place":
        return _("Where is it? Send the place as text, or share a location (📎 → Location)."), _nav(step)
    if step == "hz_photos":
        count = len(data.get("draft", {}).get("photos", []))
        text = _("Send up to {max} photos of the hazard, one at a time ({count} so far). Press ✅ Done when finished.").format(
            max=MAX_HAZARD_PHOTOS, count=count)
        return text, [[_btn(_("✅ Done") if count else _("⏭ No photos"), "skip", step)]] + _nav(step)
    if step == "hz_urgency":
        rows = [[_btn(_("Normal (一般)"), "urgency", step, Urgency.NORMAL),
                 _btn(_("Serious (较大)"), "urgency", step, Urgency.SERIOUS),
                 _btn(_("Major (重大)"), "urgency", step, Urgency.MAJOR)]]
        return _("How urgent is it?"), rows + _nav(step)
    if step == "violations":
        lines = [_("Step 4/6 · Violations (违章) you saw this month: {count}").format(count=len(data["violations"]))]
        lines += [f"{i}. {escape(v['description'])}" for i, v in enumerate(data["violations"], 1)]
        rows = [[_btn(_("➕ Add a violation"), "add", step)],
                [_btn(_("➡️ Next") if data["violations"] else _("➡️ No violations"), "next", step)]]
        if data["violations"]:
            rows.insert(1, [_btn(_("🗑 Remove the last one"), "drop", step)])
        return "\n".join(lines), rows + _nav(step)
    if step == "vi_desc":
        return _("Describe the violation you saw (no names needed). {limit}").format(limit=limit), _nav(step)
    if step == "vi_photo":
        return _("Send one photo of it, or skip."), _nav(step, _("⏭ No photo"))
    if step == "suggestions":
        return (_("Step 5/6 · Any suggestions (金点子) for safer work? {limit}").format(limit=limit)
                + _current(data.get("suggestions")), _nav(step, _("⏭ No suggestions")))
    return _confirm_screen(data, actor)


def _confirm_screen(data: dict, actor: Actor | None) -> tuple[str, list[list[InlineKeyboardButton]]]:
    branch = actor.member.branch.name if actor and actor.member and actor.member.branch else None
    text = _("Step 6/6 · Please check your report.") + "\n\n" + render_report(data, comment=data.get("return_comment"))
    if branch:
        text += "\n\n" + _("It goes to <b>{branch}</b>, the branch you belong to when you submit.").format(
            branch=escape(branch))
    step = "confirm"
    edit = [_btn(_("✏️ Summary"), "edit", step, "summary"), _btn(_("✏️ Four sections"), "edit", step, "sections")]
    edit2 = [_btn(_("✏️ Hazards"), "edit", step, "hazards"), _btn(_("✏️ Violations"), "edit", step, "violations"),
             _btn(_("✏️ Suggestions"), "edit", step, "suggestions")]
    rows = [edit, edit2]
    if len(data.get("month_choices", [])) > 1 and not data.get("report_id"):
        rows.append([_btn(_("✏️ Month"), "edit", step, "month")])
    rows.append([_btn(_("✅ Submit"), "submit", step), _btn(_("✖️ Cancel"), "cancel", step)])
    return text, rows


# --- input ----------------------------------------------------------------------------------------

async def form_input(message: Message, state: FSMContext, actor: Actor, app: App, bot: Bot) -> None:
    data = await state.get_data()
    step = data.get("step")
    if step in TEXT_STEPS and message.text is not None:
        await _text_answer(message, state, data, step, message.text, actor)
    elif step == "hz_place" and message.location is not None:
        location = message.location
        if not reports.is_inside_china(location.latitude, location.longitude):
            await message.answer(_("That location is outside China. Please send the place as text, or share the location of the site."))
            return
        data["draft"].update(place=None, latitude=location.latitude, longitude=location.longitude)
        _advance(data, "hz_photos")
        await _save_and_prompt(message, state, data, actor)
    elif step in ("hz_photos", "vi_photo") and message.photo:
        await _photo_answer(message, state, data, step, actor, app, bot)
    elif step in ("hz_photos", "vi_photo"):
        await message.answer(_("Please send a photo here (not a file, sticker or voice message), or use the buttons."))
    elif step in TEXT_STEPS:
        await message.answer(_("Please answer with text. Stickers, voice messages, photos and files cannot be used here."))
    else:
        await message.answer(_("Please use the buttons above."))


async def _text_answer(message: Message, state: FSMContext, data: dict, step: str, text: str, actor: Actor) -> None:
    text = text.strip()
    if not text:
        await message.answer(_("Please answer with text."))
        return
    if len(text) > MAX_ANSWER:
        # Keep the whole answer in the form and show what would be kept, so nothing is lost silently.
        data["overflow"] = text
        await state.set_data(data)
        kept = escape(text[:MAX_ANSWER])
        await message.answer(
            _("Your answer has {length} characters; the limit is {max}. Please shorten it and send it again, or keep only the first {max} characters (shown below).").format(
                length=len(text), max=MAX_ANSWER) + "\n\n" + kept,
            reply_markup=_kb([[_btn(_("✂️ Keep the first {max} characters").format(max=MAX_ANSWER), "trim", step)]]
                             + _nav(step)),
        )
        return
    await _accept_text(message, state, data, step, text, actor)


async def _accept_text(message: Message, state: FSMContext, data: dict, step: str, text: str, actor: Actor) -> None:
    notices: list[str] = []
    if step == "hz_desc":
        data["draft"] = {**data.get("draft", {}), "description": text, "photos": data.get("draft", {}).get("photos", [])}
        _advance(data, "hz_place")
    elif step == "hz_place":
        data["draft"].update(place=text, latitude=None, longitude=None)
        _advance(data, "hz_photos")
    elif step == "vi_desc":
        data["draft"] = {"description": text, "photos": []}
        _advance(data, "vi_photo")
    else:
        data[step] = text
        notices = _go_next(data, step)
    await _save_and_prompt(message, state, data, actor, notices)


async def _photo_answer(message: Message, state: FSMContext, data: dict, step: str, actor: Actor, app: App,
                        bot: Bot) -> None:
    draft = data.setdefault("draft", {"photos": []})
    if step == "hz_photos" and len(draft.get("photos", [])) >= MAX_HAZARD_PHOTOS:
        await message.answer(_("A hazard can have at most {max} photos; this one was not added. Press ✅ Done to go on.")
                             .format(max=MAX_HAZARD_PHOTOS))
        return
    photo = message.photo[-1]  # the largest size Telegram offers
    local = await save_photo(bot, Path(app.settings.media_dir), data.get("month", "unknown"), photo.file_id,
                             photo.file_unique_id)
    draft.setdefault("photos", []).append(
        {"file_id": photo.file_id, "file_unique_id": photo.file_unique_id, "local_path": local})
    if step == "vi_photo":
        data["violations"].append(draft)
        _back_to_menu(data, "violations")
    await _save_and_prompt(message, state, data, actor)


async def _save_and_prompt(message: Message, state: FSMContext, data: dict, actor: Actor,
                           notices: list[str] | None = None) -> None:
    await state.set_data(data)
    for notice in notices or []:
        await message.answer(notice)
    await _prompt(message, data, actor)


# --- buttons --------------------------------------------------------------------------------------

async def form_button(query: CallbackQuery, callback_data: ReportFormButton, state: FSMContext, session: AsyncSession,
                      actor: Actor, app: App, menu: Menu) -> None:
    action = callback_data.action
    if action == "revise":
        await _revise(query, callback_data, state, session, actor, app)
        return
    if action == "start" and await state.get_state() != ReportForm.filling.state:  # from the reminder
        await query.answer()
        if await state.get_state() is not None:
            await query.message.answer(_("Please finish or /cancel what you are doing first."))
            return
        await _start(query.message, state, session, actor, app)
        return
    if await state.get_state() != ReportForm.filling.state:
        await query.answer(_("This form is already finished or was cancelled. Send /report to start."), show_alert=True)
        return
    data = await state.get_data()
    message = query.message
    if action in ("resume", "start"):
        await query.answer()
        await _prompt(message, data, actor)
        return
    if action in ("discard", "cancel"):
        await state.clear()
        await query.answer()
        await message.answer(_("The report form was discarded. Nothing was submitted."), reply_markup=menu.keyboard(actor))
        return
    if callback_data.step != data.get("step"):
        await query.answer(_("That button belongs to an earlier step; please use the latest message."), show_alert=True)
        return
    await query.answer()
    if action == "submit":
        await _on_submit(query, callback_data, state, session, actor, app, menu, data)
        return
    handler = _BUTTONS.get(action)
    if handler is None:
        return
    await handler(query, callback_data, state, session, actor, app, data)


async def _on_back(query, cb, state, session, actor, app, data) -> None:
    trail = data.get("trail", [])
    if not trail:
        await query.message.answer(_("This is the first step. Press ✖️ Cancel to stop."))
        return
    previous = trail.pop()
    if data["step"] in ("hz_desc", "vi_desc"):
        data.pop("draft", None)
    data.update(trail=trail, step=previous)
    data.pop("overflow", None)
    await _save_and_prompt(query.message, state, data, actor)


async def _on_month(query, cb, state, session, actor, app, data) -> None:
    if cb.value not in data.get("month_choices", []):
        return
    await _choose_month(query.message, state, session, actor, cb.value)


async def _on_skip(query, cb, state, session, actor, app, data) -> None:
    step = data["step"]
    if step not in SKIPPABLE:
        return
    notices: list[str] = []
    if step == "hz_photos":
        _advance(data, "hz_urgency")
    elif step == "vi_photo":
        data["violations"].append(data.pop("draft"))
        _back_to_menu(data, "violations")
    else:
        data[step] = None
        if step.endswith("_did"):
            data[step.replace("_did", "_example")] = None
        notices = _go_next(data, step)
    await _save_and_prompt(query.message, state, data, actor, notices)


async def _on_trim(query, cb, state, session, actor, app, data) -> None:
    text = data.pop("overflow", None)
    if not text:
        return
    await _accept_text(query.message, state, data, data["step"], text[:MAX_ANSWER].strip(), actor)


async def _on_add(query, cb, state, session, actor, app, data) -> None:
    _advance(data, "hz_desc" if data["step"] == "hazards" else "vi_desc")
    data.pop("draft", None)
    await _save_and_prompt(query.message, state, data, actor)


async def _on_drop(query, cb, state, session, actor, app, data) -> None:
    items = data["hazards"] if data["step"] == "hazards" else data["violations"]
    if items:
        items.pop()
    await _save_and_prompt(query.message, state, data, actor)


async def _on_next(query, cb, state, session, actor, app, data) -> None:
    notices = _go_next(data, data["step"])
    await _save_and_prompt(query.message, state, data, actor, notices)


async def _on_urgency(query, cb, state, session, actor, app, data) -> None:
    if cb.value not in tuple(Urgency) or "draft" not in data:
        return
    data["draft"]["urgency"] = cb.value
    data["hazards"].append(data["draft"])
    _back_to_menu(data, "hazards")
    await _save_and_prompt(query.message, state, data, actor)


async def _on_edit(query, cb, state, session, actor, app, data) -> None:
    target = EDITABLE.get(cb.value)
    if target is None:
        return
    data["editing"] = True
    _advance(data, target)
    await _save_and_prompt(query.message, state, data, actor)


async def _on_submit(query, cb, state, session, actor, app, menu, data) -> None:
    try:
        result = await reports.submit(session, actor.member, reports.ReportInput.from_form(data),
                                      form_token=data["token"], now=app.clock.utc_naive())
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


async def _revise(query: CallbackQuery, cb: ReportFormButton, state: FSMContext, session: AsyncSession, actor: Actor,
                  app: App) -> None:
    """「Edit and resubmit」 from the return notification: loads that report into a new form."""
    try:
        report = await reports.get_report_for(session, actor, int(cb.value or 0))
    except (DomainError, ValueError):
        await query.answer(_("This report cannot be edited."), show_alert=True)
        return
    if actor.member is None or report.member_id != actor.member.id or report.status != ReportStatus.RETURNED:
        await query.answer(_("This report cannot be edited."), show_alert=True)
        return
    await query.answer()
    if await state.get_state() not in (None, ReportForm.filling.state):
        await query.message.answer(_("Please finish or /cancel what you are doing first."))
        return
    if await state.get_state() == ReportForm.filling.state:
        await query.message.answer(
            _("You have a report form that is not finished yet. Continue it, or discard it and start again?"),
            reply_markup=_kb([[_btn(_("▶️ Continue"), "resume"), _btn(_("🗑 Discard"), "discard")]]),
        )
        return
    await state.set_state(ReportForm.filling)
    await state.set_data({"token": uuid.uuid4().hex, "chat": query.message.chat.id, "month_choices": [report.month],
                          "trail": [], "hazards": [], "violations": []})
    await _choose_month(query.message, state, session, actor, report.month)


_BUTTONS = {
    "back": _on_back, "month": _on_month, "skip": _on_skip, "trim": _on_trim, "add": _on_add, "drop": _on_drop,
    "next": _on_next, "urgency": _on_urgency, "edit": _on_edit,
}


def _status(status: str) -> str:
    return str(STATUS_NAMES.get(status, status))

"""/review (branch staff approve or return reports) and /actions (corrective actions for hazards).

Every button is re-authorized through the service on use: a secretary of another branch, a member, or a
forged callback gets the same "not found" as for a report that does not exist, and nothing changes."""
from __future__ import annotations

import logging
from datetime import date, timedelta
from html import escape
from pathlib import Path
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.services import reports
from bot.services.errors import DomainError
from bot.services.membership import Actor, list_members
from bot.services.parse import parse_day
from handlers.ui.access import InPrivateChat, IsMember, IsStaff
from handlers.ui.callbacks import ActionButton, ReviewButton
from handlers.ui.notices import action_assigned, action_completed, action_reopened, report_reviewed
from handlers.ui.photos import remember_album, save_photo
from handlers.ui.render import answer_long, error_text
from handlers.ui.report_text import (
    STATUS_NAMES,
    URGENCY_NAMES,
    month_label,
    render_report,
)
from handlers.ui.states import ActionAssignForm, ActionDoneForm, ReviewForm
from storage.models import Member
from storage.models.reports import Report, ReportStatus

log = logging.getLogger(__name__)
DUE_CHOICES = (3, 7, 14, 30)  # days from today offered as due dates


def router() -> Router:
    r = Router(name="review")
    r.message.filter(IsMember(), F.chat.type == "private")
    r.callback_query.filter(IsMember(), InPrivateChat())  # personal data: see handlers/groups.py
    r.message.register(review_command, Command("review"), IsStaff())
    r.message.register(not_allowed, Command("review"))
    r.callback_query.register(review_button, ReviewButton.filter())
    r.message.register(return_comment, ReviewForm.comment, F.text, ~F.text.startswith("/"))
    r.message.register(comment_not_text, ReviewForm.comment, ~F.text)
    r.message.register(actions_command, Command("actions"))
    r.callback_query.register(action_button, ActionButton.filter())
    r.message.register(typed_due_date, ActionAssignForm.due, F.text, ~F.text.startswith("/"))
    r.message.register(use_the_buttons, ActionAssignForm.owner, ~F.text.startswith("/"))
    r.message.register(use_the_buttons, ActionAssignForm.due, ~F.text.startswith("/"))
    r.message.register(done_note, ActionDoneForm.note, F.text, ~F.text.startswith("/"))
    r.message.register(done_photo, ActionDoneForm.photo, F.photo)
    r.message.register(done_skip_photo, ActionDoneForm.photo, F.text == "0")
    r.message.register(done_not_understood, ActionDoneForm.note, ~F.text)
    r.message.register(done_not_understood, ActionDoneForm.photo, ~F.text.startswith("/"))
    return r


async def not_allowed(message: Message) -> None:
    await message.answer(_("Sorry, you are not allowed to do that."))


def _kb(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=rows)


# --- review list and screen -----------------------------------------------------------------------

async def review_command(message: Message, session: AsyncSession, actor: Actor) -> None:
    text, markup = await _pending_page(session, actor, 0)
    await message.answer(text, reply_markup=markup)


async def _pending_page(session: AsyncSession, actor: Actor, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    items, total = await reports.pending_reports(session, actor, page)
    if total == 0:
        return _("No reports are waiting for review."), None
    pages = (total + reports.PAGE_SIZE - 1) // reports.PAGE_SIZE
    page = min(max(page, 0), pages - 1)
    if not items:
        items, total = await reports.pending_reports(session, actor, page)
    names = await reports.members_by_id(session, {r.member_id for r in items})
    rows = [[InlineKeyboardButton(
        text=f"{names[r.member_id].real_name if r.member_id in names else '?'} · {month_label(r.month)}"
             + (f" · v{r.version}" if r.version > 1 else ""),
        callback_data=ReviewButton(action="open", report_id=r.id).pack())] for r in items]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton(text=_("⬅️ Previous"), callback_data=ReviewButton(action="page", page=page - 1).pack()))
    if page < pages - 1:
        nav.append(InlineKeyboardButton(text=_("Next ➡️"), callback_data=ReviewButton(action="page", page=page + 1).pack()))
    if nav:
        rows.append(nav)
    text = _("<b>Reports waiting for review</b>: {total} (page {page}/{pages})").format(
        total=total, page=page + 1, pages=pages)
    return text, _kb(rows)


async def review_button(query: CallbackQuery, callback_data: ReviewButton, state: FSMContext, session: AsyncSession,
                        actor: Actor, app: App, bot: Bot) -> None:
    if not (actor.is_admin or actor.is_secretary):
        await query.answer(error_text(DomainError("report_not_found")), show_alert=True)
        return
    try:
        if callback_data.action == "page":
            text, markup = await _pending_page(session, actor, callback_data.page)
            await query.answer()
            await query.message.edit_text(text, reply_markup=markup)
        elif callback_data.action == "open":
            report = await reports.get_report_for(session, actor, callback_data.report_id)
            await query.answer()
            await show_report(query.message, session, bot, report, actor, app)
        elif callback_data.action == "approve":
            await _decide(query, session, actor, app, callback_data, approve=True)
        elif callback_data.action == "return":
            report = await _reviewable(session, actor, callback_data)
            if report.status == ReportStatus.RETURNED:
                await query.answer(_("This report was already returned."), show_alert=True)
                return
            if not await _state_free(query, state):
                return
            await state.set_state(ReviewForm.comment)
            await state.set_data({"report_id": report.id, "version": report.version})
            await query.answer()
            await query.message.answer(_("Why is it returned? Send the comment for the member (required), or /cancel."))
        else:
            await query.answer()
    except DomainError as error:
        await query.answer(error_text(error), show_alert=True)


async def _state_free(query: CallbackQuery, state: FSMContext) -> bool:
    """A comment or note is asked as the next message; never overwrite another open form (e.g. the
    secretary's own half-filled report) to do so."""
    current = await state.get_state()
    if current is None or current in (ReviewForm.comment.state, ActionDoneForm.note.state, ActionDoneForm.photo.state,
                                      ActionAssignForm.owner.state, ActionAssignForm.due.state):
        return True
    await query.answer(_("Please finish or /cancel what you are doing first."), show_alert=True)
    return False


async def _reviewable(session: AsyncSession, actor: Actor, cb: ReviewButton) -> Report:
    report = await session.get(Report, cb.report_id)
    if report is None or not actor.can_manage_branch(report.branch_id):
        raise DomainError("report_not_found")
    if cb.version and cb.version != report.version:
        raise DomainError("report_changed")
    if report.status not in (ReportStatus.SUBMITTED, ReportStatus.RETURNED):
        raise DomainError("report_not_pending")
    return report


async def show_report(message: Message, session: AsyncSession, bot: Bot, report: Report, actor: Actor,
                      app: App) -> None:
    """The full report, then its photos (albums of up to 10), then the decision buttons."""
    member = await session.get(Member, report.member_id)
    branch = member.branch.name if member and member.branch and member.branch_id == report.branch_id else None
    data = reports.report_to_form(report)
    text = render_report(data, member_name=member.real_name if member else "?", branch_name=branch,
                         status=report.status, comment=report.review_comment)
    offset = app.local_now().utcoffset() or timedelta(0)  # history is stored in UTC, read in local time
    history = [
        _("{at} · {who}: {old} → {new}").format(
            at=(h.at + offset).strftime("%m-%d %H:%M"), who=escape(h.actor_label),
            old=STATUS_NAMES[h.from_status] if h.from_status in STATUS_NAMES else "—",
            new=STATUS_NAMES.get(h.to_status, h.to_status))
        + (f" ({escape(h.comment)})" if h.comment else "")
        for h in report.history
    ]
    text += "\n\n" + _("<b>History</b>") + "\n" + "\n".join(history)
    await answer_long(message, text)
    photos = [(_("Hazard {index}").format(index=i), p) for i, h in enumerate(report.hazards, 1) for p in h.photos]
    photos += [(_("Violation {index}").format(index=i), p) for i, v in enumerate(report.violations, 1) for p in v.photos]
    await _send_photos(message, bot, app, photos)
    own = actor.member is not None and report.member_id == actor.member.id  # another reviewer decides
    if report.status == ReportStatus.SUBMITTED and actor.can_manage_branch(report.branch_id) and not own:
        buttons = [[
            InlineKeyboardButton(text=_("✅ Approve"), callback_data=ReviewButton(action="approve", report_id=report.id,
                                                                       version=report.version).pack()),
            InlineKeyboardButton(text=_("↩️ Return"), callback_data=ReviewButton(action="return", report_id=report.id,
                                                                      version=report.version).pack()),
        ]]
        await message.answer(_("Your decision on this report:"), reply_markup=_kb(buttons))


async def _send_photos(message: Message, bot: Bot, app: App, photos: list[tuple[str, Any]]) -> None:
    """The report's photos in albums of up to 10. Telegram may no longer serve an old file id: then our saved
    copy is sent, and when there is none a line says the photo is missing — the decision buttons come anyway."""
    for start in range(0, len(photos), 10):
        chunk = photos[start:start + 10]
        try:
            if len(chunk) == 1:
                await bot.send_photo(message.chat.id, chunk[0][1].file_id, caption=chunk[0][0])
            else:
                await bot.send_media_group(message.chat.id, [InputMediaPhoto(media=p.file_id, caption=c) for c, p in chunk])
            continue
        except TelegramBadRequest as error:
            log.warning("report photos by file id failed (%s); sending saved copies", error.message)
        for caption, photo in chunk:
            saved = Path(app.settings.media_dir) / photo.local_path if photo.local_path else None
            try:
                if saved is None or not saved.is_file():
                    raise FileNotFoundError(photo.local_path)
                await bot.send_photo(message.chat.id, FSInputFile(saved), caption=caption)
            except (TelegramBadRequest, OSError) as error:
                log.warning("report photo %s could not be shown: %s", photo.file_unique_id, error)
                await message.answer(_("{caption}: the photo can no longer be shown.").format(caption=caption))


async def _decide(query: CallbackQuery, session: AsyncSession, actor: Actor, app: App, cb: ReviewButton, *, approve: bool,
                  comment: str | None = None) -> None:
    settings = app.settings
    offset = app.local_now().utcoffset() or timedelta(0)
    result = await reports.review(
        session, actor, cb.report_id, approve=approve, comment=comment, version=cb.version or None,
        points_on_time=settings.points_report_on_time, points_hazard=settings.points_hazard,
        deadline_day=settings.report_deadline_day, tz_offset=offset, now=app.clock.utc_naive(),
    )
    if not result.changed:
        await query.answer(_("Already approved.") if approve else _("Already returned."), show_alert=True)
        return
    await report_reviewed(session, app, result.report)
    await query.answer(_("Approved.") if approve else _("Returned."))
    await query.message.edit_text(_("✅ Approved. The member has been told.") if approve
                                  else _("↩️ Returned. The member has been told."))


async def return_comment(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App) -> None:
    data = await state.get_data()
    comment = message.text.strip()
    if len(comment) > reports.MAX_ANSWER:
        await message.answer(_("The comment is too long: at most {max} characters. Please shorten it and send it again.")
                             .format(max=reports.MAX_ANSWER))
        return
    try:
        result = await reports.review(session, actor, int(data.get("report_id", 0)), approve=False, comment=comment,
                                      version=data.get("version"), now=app.clock.utc_naive())
    except DomainError as error:
        await state.clear()
        await message.answer(error_text(error))
        return
    await state.clear()
    if result.changed:
        await report_reviewed(session, app, result.report)
        await message.answer(_("↩️ Returned. The member has been told."))
    else:
        await message.answer(_("This report was already returned."))


async def comment_not_text(message: Message) -> None:
    await message.answer(_("Please send the comment as text, or /cancel."))


# --- corrective actions ---------------------------------------------------------------------------

async def actions_command(message: Message, session: AsyncSession, actor: Actor, app: App) -> None:
    today = app.local_now().date()
    lines: list[str] = []
    rows: list[list[InlineKeyboardButton]] = []
    staff = actor.is_admin or actor.is_secretary
    if staff:
        overdue = await reports.overdue_actions(session, today, None if actor.is_admin else actor.branch_id)
        lines.append(_("<b>Overdue actions</b>: {count}").format(count=len(overdue)))
        lines += [await _action_line(session, a) for a in overdue]
    mine = await reports.open_actions(session, actor)
    lines.append(_("<b>Open actions</b>: {count}").format(count=len(mine)))
    for action in mine:
        lines.append(await _action_line(session, action))
        if actor.member is not None and action.owner_id == actor.member.id:
            rows.append([InlineKeyboardButton(text=_("✅ Done: action #{id}").format(id=action.id),
                                              callback_data=ActionButton(action="done", action_id=action.id).pack())])
    if staff:
        to_check = await reports.actions_to_check(session, actor)
        lines.append(_("<b>Done, waiting for your check</b>: {count}").format(count=len(to_check)))
        for action in to_check:
            lines.append(await _action_line(session, action) + " · " + escape((action.done_note or "")[:40]))
            rows.append([InlineKeyboardButton(text=_("✔️ Confirm action #{id}").format(id=action.id),
                                              callback_data=ActionButton(action="verify", action_id=action.id).pack()),
                         InlineKeyboardButton(text=_("↩️ Reopen action #{id}").format(id=action.id),
                                              callback_data=ActionButton(action="reopen", action_id=action.id).pack())])
        hazards = await reports.hazards_without_action(session, actor)
        lines.append(_("<b>Hazards without an action</b>: {count}").format(count=len(hazards)))
        for hazard in hazards:
            urgency = URGENCY_NAMES.get(hazard.urgency, hazard.urgency)
            lines.append(_("⚠️ Hazard #{id} [{urgency}] {text}").format(
                id=hazard.id, urgency=urgency, text=escape(hazard.description[:60])))
            rows.append([InlineKeyboardButton(text=_("🛠 Assign: hazard #{id}").format(id=hazard.id),
                                              callback_data=ActionButton(action="hazard", hazard_id=hazard.id).pack())])
    await answer_long(message, "\n".join(lines), reply_markup=_kb(rows) if rows else None)


async def _action_line(session: AsyncSession, action: Any) -> str:
    owner = await session.get(Member, action.owner_id)
    return _("🛠 Action #{id}, due {due} · {owner} · {hazard}").format(
        id=action.id, due=action.due_date.isoformat(), owner=escape(owner.real_name if owner else "?"),
        hazard=escape(action.hazard.description[:60]))


async def action_button(query: CallbackQuery, callback_data: ActionButton, state: FSMContext, session: AsyncSession,
                        actor: Actor, app: App) -> None:
    try:
        if callback_data.action in ("verify", "reopen"):
            action, changed = await reports.check_action(session, actor, callback_data.action_id,
                                                         accept=callback_data.action == "verify")
            if not changed:
                await query.answer(_("This action was already checked."), show_alert=True)
                return
            await query.answer()
            if callback_data.action == "reopen":
                await action_reopened(session, app, action, app.clock.utc_naive().isoformat())
                await query.message.edit_text(_("↩️ Action #{id} reopened. The owner has been told.").format(id=action.id))
            else:
                await query.message.edit_text(_("✔️ Action #{id} confirmed as fixed.").format(id=action.id))
            return
        if callback_data.action == "done":
            action = await reports.get_action_for(session, actor, callback_data.action_id)
            if action.status != "open":
                await query.answer(_("This action is already done."), show_alert=True)
                return
            if not await _state_free(query, state):
                return
            await state.set_state(ActionDoneForm.note)
            await state.set_data({"action_id": action.id})
            await query.answer()
            await query.message.answer(_("What was done? Send a short note (or /cancel)."))
            return
        hazard = await reports.get_hazard_for_staff(session, actor, callback_data.hazard_id)
        report = await session.get(Report, hazard.report_id)
        if callback_data.action == "hazard":
            if not await _state_free(query, state):
                return
            await state.set_state(ActionAssignForm.owner)
            await state.set_data({"hazard_id": hazard.id})
            members = [m for m in await list_members(session, actor, report.branch_id) if m.active]
            rows = [[InlineKeyboardButton(text=m.real_name, callback_data=ActionButton(
                action="owner", hazard_id=hazard.id, owner_id=m.id).pack())] for m in members[:30]]
            await query.answer()
            await query.message.answer(_("Who will fix hazard #{id}?\n{text}").format(
                id=hazard.id, text=escape(hazard.description)), reply_markup=_kb(rows))
        elif callback_data.action == "owner":
            await state.set_state(ActionAssignForm.due)
            await state.set_data({"hazard_id": hazard.id, "owner_id": callback_data.owner_id})
            rows = [[InlineKeyboardButton(text=ngettext("in {days} day", "in {days} days", days).format(days=days),
                                          callback_data=ActionButton(
                action="due", hazard_id=hazard.id, owner_id=callback_data.owner_id, days=days).pack())
                for days in DUE_CHOICES]]
            await query.answer()
            await query.message.answer(_("By when? Press a button, or type a date (e.g. 12-05)."), reply_markup=_kb(rows))
        elif callback_data.action == "due" and callback_data.days in DUE_CHOICES:
            await query.answer()
            today = app.local_now().date()
            await _assign(query.message, state, session, actor, app, hazard.id, callback_data.owner_id,
                          today + timedelta(days=callback_data.days), edit=True)
        else:
            await query.answer()
    except DomainError as error:
        await query.answer(error_text(error), show_alert=True)


async def _assign(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App, hazard_id: int,
                  owner_id: int, due: date, edit: bool = False) -> None:
    today = app.local_now().date()
    try:
        await reports.get_hazard_for_staff(session, actor, hazard_id)  # re-authorized, and loaded for the notice
        action, created = await reports.create_action(session, actor, hazard_id, owner_id, due, today=today)
    except DomainError as error:
        await message.answer(error_text(error))  # e.g. a typed date in the past: the step waits for another
        return
    await state.clear()
    if not created:
        await message.answer(_("Hazard #{id} already has an action.").format(id=hazard_id))
        return
    await action_assigned(session, app, action)
    text = _("Corrective action #{id} created, due {due}. The owner has been told.").format(
        id=action.id, due=action.due_date.isoformat())
    await (message.edit_text(text) if edit else message.answer(text))


async def typed_due_date(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App) -> None:
    data = await state.get_data()
    due = parse_day(message.text, app.local_now().date(), future=True)
    if due is None or "owner_id" not in data:
        await message.answer(_("That is not a date. Press a button above, or type a date like 12-05 or 2026-12-05."))
        return
    await _assign(message, state, session, actor, app, int(data["hazard_id"]), int(data["owner_id"]), due)


async def use_the_buttons(message: Message) -> None:
    await message.answer(_("Please use the buttons above (or /cancel)."))


async def done_note(message: Message, state: FSMContext) -> None:
    if len(message.text) > reports.MAX_ANSWER:
        await message.answer(_("The note is too long: at most {max} characters. Please shorten it and send it again.")
                             .format(max=reports.MAX_ANSWER))
        return
    await state.update_data(note=message.text.strip())
    await state.set_state(ActionDoneForm.photo)
    await message.answer(_("Now send a photo of the fixed site, or send 0 to finish without one."))


async def done_photo(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App,
                     bot: Bot) -> None:
    photo = message.photo[-1]
    local = await save_photo(bot, Path(app.settings.media_dir), "actions", photo.file_id, photo.file_unique_id)
    await _finish_action(message, state, session, actor, app, reports.PhotoInput(photo.file_id, photo.file_unique_id, local))


async def done_skip_photo(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App) -> None:
    await _finish_action(message, state, session, actor, app, None)


async def _finish_action(message: Message, state: FSMContext, session: AsyncSession, actor: Actor, app: App,
                         photo: reports.PhotoInput | None) -> None:
    data = await state.get_data()
    await state.clear()
    await remember_album(message, state)  # the album's other photos belong to this answer
    try:
        action, changed = await reports.complete_action(session, actor, int(data.get("action_id", 0)),
                                                        data.get("note", ""), photo,
                                                        now=app.clock.utc_naive())
    except DomainError as error:
        await message.answer(error_text(error))
        return
    if changed and actor.member is not None:
        await action_completed(session, app, action, actor.member)
    await message.answer(_("✅ Action #{id} marked as done. Thank you!").format(id=action.id) if changed
                         else _("This action is already done."))


async def done_not_understood(message: Message, state: FSMContext) -> None:
    if await state.get_state() == ActionDoneForm.note.state:
        await message.answer(_("Please send the note as text, or /cancel."))
    else:
        await message.answer(_("Please send a photo, or 0 to finish without one."))

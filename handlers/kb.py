"""Admins keep the knowledge folder from the chat: upload a document, /kb (list, remove, restore), /reindex.

Parsing and rendering only; checks, saving and syncing are in bot.services.kb. Every change is audited."""
from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, TypeVar

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.i18n import plural_template
from bot.services import audit, daily_items, kb
from bot.services.errors import DomainError
from bot.services.membership import Actor
from handlers.ui.access import IsAdmin, IsMember
from handlers.ui.callbacks import KbButton
from handlers.ui.render import answer_long, error_text, reply_error

if TYPE_CHECKING:
    from bot.knowledge_engine import KnowledgeEngine, SyncReport
    from bot.knowledge_engine.ocr import OcrText

log = logging.getLogger("fieldmate.kb")
T = TypeVar("T")
PROGRESS_EDIT_SECONDS = 1.5  # Telegram allows about one edit a second per chat
PENDING = "kb_upload"  # FSM data key: the upload waiting for 替换 / 保留两份
SNIPPET = 60


def router() -> Router:
    r = Router(name="kb")
    r.message.filter(IsMember())
    r.callback_query.filter(IsMember())
    r.message.register(upload, F.document, IsAdmin())
    r.message.register(upload_photo, F.photo, IsAdmin(), F.chat.type == "private", StateFilter(None))
    r.message.register(upload_refused, F.document, F.chat.type == "private")
    r.message.register(kb_command, Command("kb"), IsAdmin())
    r.message.register(reindex_command, Command("reindex"), IsAdmin())
    r.callback_query.register(button_pressed, KbButton.filter(), IsAdmin())
    return r


def _limits(app: App) -> kb.Limits:
    return kb.Limits(max_bytes=app.settings.kb_upload_max_mb * 1024 * 1024, max_pdf_pages=app.settings.kb_max_pdf_pages)


def _engine(app: App) -> KnowledgeEngine | None:
    return app.knowledge



# ------------------------------------------------------------------ upload
async def upload_refused(message: Message) -> None:
    await message.answer(_("Only administrators can add documents to the knowledge base; your file was not saved."))


async def upload(message: Message, bot: Bot, app: App, session: AsyncSession, actor: Actor, state: FSMContext) -> None:
    document = message.document
    try:
        name = kb.safe_name(document.file_name)
    except DomainError as error:
        log.info("upload %r by %s refused: %s", document.file_name, actor.telegram_id, error.code)
        await reply_error(message, error)
        return
    if kb.is_daily_list(name):
        await _upload_daily_list(message, bot, app, session, actor, name)
        return
    await _upload(message, bot, app, session, actor, state, name, document.file_id, document.file_size)


async def upload_photo(message: Message, bot: Bot, app: App, session: AsyncSession, actor: Actor,
                       state: FSMContext) -> None:
    """A photo of a notice sent as a photo (not as a file): saved as a jpg named after its caption, then OCRed
    like a scan. The photo itself is what the folder keeps; its text is read again (from the OCR cache) at
    every sync, so the folder stays the source of truth after a reindex."""
    photo = message.photo[-1]  # the largest size Telegram offers
    name = kb.photo_name(message.caption, app.clock.now().astimezone(app.settings.tz))
    await _upload(message, bot, app, session, actor, state, name, photo.file_id, photo.file_size)


async def _upload(message: Message, bot: Bot, app: App, session: AsyncSession, actor: Actor, state: FSMContext,
                  name: str, file_id: str, size: int | None) -> None:
    engine = _engine(app)
    progress: list[Message | None] = [None]  # the OCR progress message, once there is one
    try:
        kb.check_suffix(name)
        kb.check_size(size, _limits(app))
        if engine is None:
            raise DomainError("kb_not_ready")
        data = await _download(bot, file_id)
        kb.check_content(name, data, _limits(app))
        recognised = await _read_with_ocr_progress(message, engine, name, data, progress)
    except DomainError as error:
        log.info("upload %r by %s refused: %s %s", name, actor.telegram_id, error.code, error.params)
        if progress[0] is not None:  # OCR had started: the reason replaces 「正在识别 …」
            await _edit(progress[0], error_text(error))
        else:
            await reply_error(message, error)
        return
    status = progress[0]
    differs = kb.existing_differs(engine.knowledge_dir, name, data)
    if differs is False:
        await _say(message, status, _("{name} is already in the knowledge base with the same content; nothing changed.").format(
            name=escape(name)))
        return
    if differs:
        await state.update_data({PENDING: {"file_id": file_id, "name": name, "ocr": _ocr_state(recognised)}})
        key = kb.key_of(name)
        await message.answer(
            _("The knowledge base already has a different {name}. Replace it, or keep both?").format(name=escape(name)),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
                InlineKeyboardButton(text=_("Replace"), callback_data=KbButton(action="replace", key=key).pack()),
                InlineKeyboardButton(text=_("Keep both"), callback_data=KbButton(action="both", key=key).pack()),
                InlineKeyboardButton(text=_("Cancel"), callback_data=KbButton(action="cancel").pack()),
            ]]))
        return
    await _store(message, app, session, actor, name, data, replace=False, recognised=_ocr_state(recognised),
                 status=status)


async def _read_with_ocr_progress(message: Message, engine: KnowledgeEngine, name: str, data: bytes,
                                  status: list[Message | None]) -> OcrText | None:
    """Read the upload as the sync will; scanned pages and photos are OCRed meanwhile, with a progress
    message (「正在识别 第3/12页」, kept in ``status[0]``) sent at the first page and edited in place at most
    every PROGRESS_EDIT_SECONDS (Telegram limits edits). Returns what OCR made of it."""

    async def show(page: int, pages: int) -> None:
        text = _("Recognising text: page {page}/{pages}…").format(page=page, pages=pages)
        if status[0] is None:
            status[0] = await message.answer(text)
        else:
            await _edit(status[0], text)

    return await _run_with_progress(lambda progress: kb.read_as_sync_would(engine, name, data, progress), show)


def _ocr_state(recognised: OcrText | None) -> dict | None:
    """What OCR made of an upload, as plain data: kept in the FSM while the admin chooses 替换 / 保留两份."""
    return {"pages": recognised.ocr_pages, "confidence": recognised.confidence} if recognised else None


async def _say(message: Message, status: Message | None, text: str) -> Message:
    """The reply: in place of the progress message when there is one; returns the message that shows it."""
    if status is None:
        return await message.answer(text)
    await _edit(status, text)
    return status


async def _upload_daily_list(message: Message, bot: Bot, app: App, session: AsyncSession, actor: Actor,
                             name: str) -> None:
    """A yaml file is a daily-item list: checked item by item first, saved only when all load, then synced."""
    folder = app.settings.knowledge_dir / kb.DAILY_FOLDER
    limits = _limits(app)
    try:
        kb.check_size(message.document.file_size, limits)
        data = await _download(bot, message.document.file_id)
        saved, result = await asyncio.to_thread(kb.save_daily_list, folder, name, data, limits)
    except DomainError as error:
        log.info("daily list %r by %s refused: %s %s", name, actor.telegram_id, error.code,
                 error.params.get("problems", ""))
        if error.code == "daily_list_invalid":  # the problems in the admin's language, from their codes
            error.params["problems"] = kb.listed_problems([problem_text(p) for p in error.params.pop("found")])
        await reply_error(message, error)
        return
    _loaded, report = await daily_items.load_and_sync(session, folder)
    audit.record(session, actor.member, "kb.daily_list", "knowledge_file", None, actor_label=actor.display_name,
                 file=f"{kb.DAILY_FOLDER}/{saved.name}", replaced=saved.replaced, items=len(result.items))
    warnings = "".join(f"\n⚠️ {escape(problem_text(problem))}" for problem in result.problems)
    await message.answer(ngettext(
        "✅ Daily items list {name} saved: {items} item; {added} new, {updated} changed, {retired} retired.",
        "✅ Daily items list {name} saved: {items} items; {added} new, {updated} changed, {retired} retired.",
        len(result.items)).format(name=escape(saved.name), items=len(result.items), added=len(report.added), updated=len(report.updated),
             retired=len(report.retired)) + warnings)


def problem_text(problem: daily_items.Problem) -> str:
    """「上传.yaml:5: 条目 up-002：类型必须是 …（已跳过）」: a daily-list problem in the admin's language."""
    params = dict(problem.params)
    template = DAILY_PROBLEMS.get(problem.code)
    text = str(template).format(**params) if template is not None else problem.message
    if "item" in params:
        text = _("item {item}: {problem}").format(item=params["item"], problem=text)
    state = _("skipped") if problem.skipped else _("warning")
    return _("{file}:{line}: {problem} ({state})").format(file=problem.file, line=problem.line, problem=text, state=state)


async def _download(bot: Bot, file_id: str) -> bytes:
    buffer = io.BytesIO()
    await bot.download(file_id, destination=buffer)
    return buffer.getvalue()


async def _store(message: Message, app: App, session: AsyncSession, actor: Actor, name: str, data: bytes,
                 *, replace: bool, keep_both: bool = False, recognised: dict | None = None,
                 status: Message | None = None) -> None:
    engine = _engine(app)
    before = await asyncio.to_thread(engine.file_keys, name)
    try:
        if keep_both:
            saved = await asyncio.to_thread(kb.save_keeping_both, engine.knowledge_dir, name, data)
            before = set()
        else:
            saved = await asyncio.to_thread(kb.save, engine.knowledge_dir, name, data, replace=replace)
    except DomainError as error:
        await reply_error(message, error)
        return
    audit.record(session, actor.member, "kb.upload", "knowledge_file", None, actor_label=actor.display_name,
                 file=saved.name, replaced=saved.replaced, bytes=len(data))
    status = await _say(message, status, _("Saved {name}; indexing…").format(name=escape(saved.name)))
    report = await _with_progress(status, lambda progress: kb.sync(engine, app.settings.redis_url, progress))
    change = kb.describe(engine, saved.name, before, report)
    if recognised:  # _ocr_state
        change.ocr_pages, change.ocr_confidence = recognised["pages"], recognised["confidence"]
    await _edit(status, change_text(change, app.settings.kb_ocr_min_confidence))


def change_text(change: kb.Change, min_confidence: float = 0.0) -> str:
    if change.failed:
        return _("⚠️ {name} was saved but could not be indexed: {reason}").format(
            name=escape(change.name), reason=escape(change.failed))
    added = ngettext("{added} passage added", "{added} passages added", change.added).format(added=change.added)
    lines = [ngettext("✅ {name} 《{title}》: {added}, {removed} removed; {chunks} in all, {clauses} numbered clause.",
                      "✅ {name} 《{title}》: {added}, {removed} removed; {chunks} in all, {clauses} numbered clauses.",
                      change.clauses).format(
        name=escape(change.name), title=escape(change.title), added=added, removed=change.removed,
        chunks=change.chunks, clauses=change.clauses)]
    if change.ocr_pages:
        confidence = change.ocr_confidence or 0.0
        lines.append(ngettext("Read by OCR: {pages} page, mean recognition confidence {confidence:.0%}.",
                              "Read by OCR: {pages} pages, mean recognition confidence {confidence:.0%}.",
                              change.ocr_pages).format(
            pages=change.ocr_pages, confidence=confidence))
        if confidence < min_confidence:
            lines.append(_("⚠️ The confidence is low (below {threshold:.0%}): the scan may be blurred, skewed or "
                           "small. Check the clauses below; a clearer scan or a Word/text copy gives better answers.").format(
                threshold=min_confidence))
    if change.preview:
        lines.append(_("First clauses:"))
        lines += [f"• <b>{escape(c.clause)}</b> {escape(_snippet(c.text))}" for c in change.preview]
    return "\n".join(lines)


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET else flat[:SNIPPET] + "…"


# --------------------------------------------------------------------- /kb
async def kb_command(message: Message, command: CommandObject, app: App, session: AsyncSession, actor: Actor) -> None:
    engine = _engine(app)
    if engine is None:
        await reply_error(message, DomainError("kb_not_ready"))
        return
    verb, _sep, rest = (command.args or "").strip().partition(" ")
    if verb == "remove":
        await _ask_remove(message, engine, rest.strip())
    elif verb == "restore":
        await _restore(message, app, session, actor, rest.strip())
    elif verb:
        await message.answer(usage_text())
    else:
        await answer_long(message, await asyncio.to_thread(_listing, engine, app))


def usage_text() -> str:
    return _("Send a document (md, txt, docx, pdf, html; scans and jpg/png photos are read by OCR) to add it. /kb lists the documents; "
             "/kb remove NAME moves one to the trash; /kb restore brings it back; /reindex rebuilds the index.")


def _listing(engine: KnowledgeEngine, app: App) -> str:
    documents = engine.documents()
    lines = [ngettext("<b>Knowledge base: {count} document</b>", "<b>Knowledge base: {count} documents</b>",
                      len(documents)).format(count=len(documents))]
    for doc in documents:
        synced = (datetime.fromtimestamp(doc.indexed_at, app.settings.tz).strftime("%m-%d %H:%M")
                  if doc.indexed_at else "—")
        lines.append(ngettext("• {file} 《{title}》: {chunks}, {clauses} clause, synced {synced}",
                              "• {file} 《{title}》: {chunks}, {clauses} clauses, synced {synced}", doc.clauses).format(
            file=escape(doc.file), title=escape(doc.title), chunks=passages(doc.chunks), clauses=doc.clauses,
            synced=synced))
    trash = kb.trashed(engine.knowledge_dir)
    if trash:
        lines.append(_("In the trash: {count} (/kb restore)").format(count=len(trash)))
    lines.append("")
    lines.append(usage_text())
    return "\n".join(lines)


async def _ask_remove(message: Message, engine: KnowledgeEngine, wanted: str) -> None:
    if not wanted:
        await message.answer(_("Which document? e.g. /kb remove 安全工器具使用与检查.md"))
        return
    try:
        name = kb.find_document(engine, wanted)
    except DomainError as error:
        await reply_error(message, error)
        return
    await message.answer(
        _("Move {name} to the trash? Members will no longer get answers from it (/kb restore brings it back).").format(
            name=escape(name)),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text=_("Remove"), callback_data=KbButton(action="remove", key=kb.key_of(name)).pack()),
            InlineKeyboardButton(text=_("Cancel"), callback_data=KbButton(action="cancel").pack()),
        ]]))


async def _restore(message: Message, app: App, session: AsyncSession, actor: Actor, wanted: str) -> None:
    engine = _engine(app)
    trash = kb.trashed(engine.knowledge_dir)
    matches = [name for name in trash if wanted and wanted in name]
    if len(matches) == 1:
        await _do_restore(message, app, session, actor, matches[0])
        return
    if not trash:
        await message.answer(_("The trash is empty."))
        return
    await message.answer(_("Which document should come back?"), reply_markup=InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=name[:60], callback_data=KbButton(action="restore", key=kb.key_of(name)).pack())]
        for name in trash[:20]]))


async def _do_restore(message: Message, app: App, session: AsyncSession, actor: Actor, name: str) -> None:
    engine = _engine(app)
    try:
        restored = await asyncio.to_thread(kb.restore, engine.knowledge_dir, name)
    except DomainError as error:
        await reply_error(message, error)
        return
    audit.record(session, actor.member, "kb.restore", "knowledge_file", None, actor_label=actor.display_name, file=restored)
    status = await message.answer(_("Restoring {name}…").format(name=escape(restored)))
    report = await _with_progress(status, lambda progress: kb.sync(engine, app.settings.redis_url, progress))
    await _edit(status, change_text(kb.describe(engine, restored, set(), report), app.settings.kb_ocr_min_confidence))


async def _do_remove(message: Message, app: App, session: AsyncSession, actor: Actor, name: str) -> None:
    engine = _engine(app)
    try:
        await asyncio.to_thread(kb.remove, engine.knowledge_dir, name)
    except DomainError as error:
        await reply_error(message, error)
        return
    audit.record(session, actor.member, "kb.remove", "knowledge_file", None, actor_label=actor.display_name, file=name)
    before = await asyncio.to_thread(engine.file_keys, name)
    await asyncio.to_thread(kb.sync, engine, app.settings.redis_url)
    await message.answer(ngettext(
        "{name} moved to the trash; {count} passage removed from the index. /kb restore brings it back.",
        "{name} moved to the trash; {count} passages removed from the index. /kb restore brings it back.",
        len(before)).format(name=escape(name), count=len(before)))


# ---------------------------------------------------------------- /reindex
async def reindex_command(message: Message, app: App, session: AsyncSession, actor: Actor) -> None:
    engine = _engine(app)
    if engine is None:
        await reply_error(message, DomainError("kb_not_ready"))
        return
    audit.record(session, actor.member, "kb.reindex", "knowledge_index", None, actor_label=actor.display_name)
    status = await message.answer(_("Rebuilding the index… Questions are answered from the current index until the new one is ready."))
    report = await _with_progress(status, lambda progress: kb.sync(engine, app.settings.redis_url, progress, rebuild=True))
    await _edit(status, sync_text(report))


def passages(count: int) -> str:
    """「12 passages」 / 「12 段」: a number of index passages inside a longer line."""
    return ngettext("{chunks} passage", "{chunks} passages", count).format(chunks=count)


def sync_text(report: SyncReport) -> str:
    files = len(report.added) + len(report.changed) + len(report.unchanged)
    text = ngettext("Index rebuilt: {files} file, {chunks} in {seconds:.0f} s.",
                    "Index rebuilt: {files} files, {chunks} in {seconds:.0f} s.", files).format(
        files=files, chunks=passages(report.chunks), seconds=report.seconds)
    if report.failed:
        text += "\n" + "\n".join(f"⚠️ {escape(name)}: {escape(why)}" for name, why in report.failed)
    return text


# ----------------------------------------------------------------- buttons
async def button_pressed(query: CallbackQuery, callback_data: KbButton, bot: Bot, app: App, session: AsyncSession,
                         actor: Actor, state: FSMContext) -> None:
    engine = _engine(app)
    if engine is None:
        await reply_error(query, DomainError("kb_not_ready"))
        return
    action, key = callback_data.action, callback_data.key
    await query.answer()
    with contextlib.suppress(TelegramBadRequest):
        await query.message.edit_reply_markup(reply_markup=None)  # a second press finds no button
    if action == "cancel":
        await state.update_data({PENDING: None})
        await query.message.answer(_("Cancelled; nothing changed."))
    elif action in ("replace", "both"):
        pending = (await state.get_data()).get(PENDING)
        if not pending or kb.key_of(pending["name"]) != key:
            await reply_error(query.message, DomainError("kb_upload_gone"))
            return
        await state.update_data({PENDING: None})
        data = await _download(bot, pending["file_id"])
        await _store(query.message, app, session, actor, pending["name"], data,
                     replace=action == "replace", keep_both=action == "both", recognised=pending.get("ocr"))
    elif action == "remove":
        name = next((d.file for d in engine.documents() if kb.key_of(d.file) == key), None)
        if name is None:
            await reply_error(query.message, DomainError("kb_no_such_document", name="—"))
            return
        await _do_remove(query.message, app, session, actor, name)
    elif action == "restore":
        name = next((n for n in kb.trashed(engine.knowledge_dir) if kb.key_of(n) == key), None)
        if name is None:
            await reply_error(query.message, DomainError("kb_no_such_document", name="—"))
            return
        await _do_restore(query.message, app, session, actor, name)


# ---------------------------------------------------------------- progress
async def _with_progress(status: Message, work: Callable[[Callable[[int, int, str], None]], T]) -> T:
    """Run `work(progress)` in a thread; edit `status` in place with the latest progress meanwhile."""
    async def show(done: int, total: int, what: str) -> None:
        await _edit(status, _("Indexing {done}/{total}: {what}").format(done=done + 1, total=max(total, 1), what=escape(what)))

    return await _run_with_progress(work, show)


async def _run_with_progress(work: Callable[[Callable[..., None]], T], show: Callable[..., Awaitable[None]]) -> T:
    """Run `work(progress)` in a thread; meanwhile `show(*latest progress)` at most every PROGRESS_EDIT_SECONDS
    and only when it changed (Telegram allows about one edit a second per chat)."""
    latest: list[tuple | None] = [None]

    def progress(*args) -> None:
        latest[0] = args

    task = asyncio.ensure_future(asyncio.to_thread(work, progress))
    shown = None
    while not task.done():
        await asyncio.wait({task}, timeout=PROGRESS_EDIT_SECONDS)
        if not task.done() and latest[0] is not None and latest[0] != shown:
            shown = latest[0]
            await show(*shown)
    return task.result()


async def _edit(status: Message, text: str) -> None:
    with contextlib.suppress(TelegramBadRequest):  # "message is not modified"
        await status.edit_text(text)


KB_ERRORS = {
    "kb_not_ready": __("The knowledge base is not ready yet. Please try again in a few minutes."),
    "kb_bad_name": __("That file name cannot be used. Please rename the file and send it again."),
    "kb_legacy_format": __("{suffix} is an old format the knowledge base cannot read: open it in Word or WPS, save it as .docx and send it again."),
    "kb_ocr_unavailable": __("Scans and photos cannot be read on this server (OCR is not installed): please send the document as text (docx, pdf with text, md, txt)."),
    "kb_ocr_no_text": __("No text was recognised on the scan or photo; nothing was saved. Check that the pages are sharp and upright, or send the document as text."),
    "kb_image_too_large": __("The photo is {width}×{height} pixels; at most {max} megapixels can be read. Please send a smaller photo."),
    "kb_bad_type": __("Files of type {suffix} are not accepted: send md, txt, docx, pdf, html, or a jpg/png photo."),
    "kb_too_large": __("The file is {mb} MB; at most {max} MB can be uploaded. Please split it into smaller documents."),
    "kb_empty": __("The file is empty; nothing was saved."),
    "kb_not_what_it_says": __("The file's content is not a {suffix} document (renamed or damaged?); nothing was saved."),
    "kb_pdf_encrypted": __("The PDF is password-protected; please send a copy without a password."),
    "kb_pdf_too_many_pages": __("The PDF has {pages} pages; at most {max} can be uploaded. Please split it into parts."),
    "kb_zip_bomb": __("The Word file would unpack to {mb} MB, far more than a document needs; it was refused as unsafe."),
    "kb_unreadable": __("The file cannot be read as a regulation ({reason}); nothing was saved."),
    "kb_clash": __("A file named {name} already exists; nothing was overwritten."),
    "kb_no_such_document": __("There is no document {name}; /kb lists them."),
    "kb_ambiguous": __("Several documents match {name}; please give the full file name from /kb."),
    "daily_list_invalid": plural_template(
        "{name} was not saved: {count} problem (file:line). Please fix it and send it again; the current list stays.\n{problems}",
        "{name} was not saved: {count} problems (file:line). Please fix them and send it again; the current list stays.\n{problems}"),
    "kb_upload_gone": __("That upload is no longer waiting; please send the file again."),
}

# daily_items.MESSAGES in the admins' language (the CLI keeps the English text)
DAILY_PROBLEMS = {
    "unreadable": __("cannot read the file: {error}"),
    "bad_yaml": __("not valid YAML: {error}; the whole file was skipped"),
    "not_a_list": __("the file must be a YAML list of items (- id: …)"),
    "not_a_mapping": __("an item must be a mapping with id, kind, text"),
    "bad_item": __("cannot read this item: {error}"),
    "duplicate_id": __("duplicate id '{id}' (first in {first})"),
    "bad_id": __("id must be 1–60 letters, digits, '.', '_' or '-' (e.g. jl-001)"),
    "bad_kind": __("kind must be one of {kinds}, not {kind}"),
    "no_text": __("text is missing or empty"),
    "text_too_long": __("text is {length} characters; a Telegram message holds at most {limit}: shorten it or split it into two items"),
    "bad_source": __("source must be text of at most 200 characters"),
    "unknown_field": __("unknown field '{field}' ignored"),
    "message_too_long": __("with its source and quiz the message would be about {length} characters; Telegram allows {limit}"),
    "quiz_not_mapping": __("quiz must be a mapping with question, options, answer, explanation"),
    "quiz_no_question": __("quiz.question is missing"),
    "quiz_bad_options": __("quiz.options must be a list of 2–4 non-empty answers"),
    "quiz_bad_answer": __("quiz.answer must be one of the letters {letters}"),
    "quiz_bad_explanation": __("quiz.explanation must be text"),
    "quiz_unknown_fields": __("quiz has unknown fields {fields}"),
    "no_items": __("no items"),
}

"""Questions: any private text that is no command or form input; in groups only when addressed."""
from __future__ import annotations

import asyncio
import logging
from html import escape
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.chat_action import ChatActionSender
from aiogram.fsm.context import FSMContext
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.knowledge_engine.present import citation, lead_sentence, phone_text
from bot.middlewares import UpdateSlot
from bot.services import audit, kb, questions
from bot.services.errors import DomainError
from bot.services.membership import Actor
from handlers.ui.access import IsAdmin, IsMember
from handlers.ui.callbacks import AskFeedback, AskFull, AskMore, GapButton
from handlers.ui.render import answer_long, reply_error
from handlers.ui.states import GapAnswerForm

if TYPE_CHECKING:
    from bot.knowledge_engine import Answer, KnowledgeEngine, Source

log = logging.getLogger("fieldmate.ask")
PAGE = 3  # clauses per page of 「更多」 (and of related clauses); an answer leads with its best clause alone
SNIPPET = 600  # characters of a clause shown in an answer; 「原文」 shows all of it
TYPING_AFTER = 1.0  # seconds a question may take before the chat shows "typing…"


class AddressedInGroup(Filter):
    """In a group the bot answers only when mentioned or replied to; returns the question text."""

    async def __call__(self, message: Message, bot: Bot) -> bool | dict:
        if message.chat.type == "private" or not message.text or message.text.startswith("/"):
            return False  # commands are commands (e.g. /report@thisbot), never questions
        me = await bot.me()
        mention = f"@{me.username}"
        replied_to_bot = bool(message.reply_to_message and message.reply_to_message.from_user
                              and message.reply_to_message.from_user.id == me.id)
        if mention.lower() in message.text.lower():
            return {"question": message.text.replace(mention, " ").strip()}
        if replied_to_bot:
            return {"question": message.text}
        return False


def router() -> Router:
    r = Router(name="ask")
    r.message.filter(IsMember())
    r.callback_query.filter(IsMember())
    r.message.register(gaps_command, Command("gaps"), IsAdmin())
    r.callback_query.register(gap_pressed, GapButton.filter(), IsAdmin())
    r.message.register(gap_answer_typed, GapAnswerForm.answer, F.text, ~F.text.startswith("/"), IsAdmin())
    r.message.register(ask_command, Command("ask"))
    r.message.register(ask_private, F.chat.type == "private", F.text, ~F.text.startswith("/"))
    r.message.register(ask_in_group, AddressedInGroup())
    r.callback_query.register(more_pressed, AskMore.filter())
    r.callback_query.register(full_pressed, AskFull.filter())
    r.callback_query.register(feedback_pressed, AskFeedback.filter())
    return r


def _engine(app: App) -> "KnowledgeEngine | None":
    return app.knowledge


async def ask_command(message: Message, command: CommandObject, session: AsyncSession, actor: Actor, app: App, bot: Bot,
                  update_slot: UpdateSlot | None = None) -> None:
    await answer_question(message, command.args or "", session, actor, app, bot, update_slot)


async def ask_private(message: Message, session: AsyncSession, actor: Actor, app: App, bot: Bot,
                  update_slot: UpdateSlot | None = None) -> None:
    await answer_question(message, message.text, session, actor, app, bot, update_slot)


async def ask_in_group(message: Message, question: str, session: AsyncSession, actor: Actor, app: App, bot: Bot,
                       update_slot: UpdateSlot | None = None) -> None:
    await answer_question(message, question, session, actor, app, bot, update_slot)


async def answer_question(message: Message, text: str, session: AsyncSession, actor: Actor, app: App, bot: Bot,
                          update_slot: UpdateSlot | None = None) -> None:
    try:
        question = questions.clean_question(text)
    except DomainError:
        await message.answer(_("Please type your question after /ask, e.g. /ask 登杆前要检查什么"))
        return
    engine = _engine(app)
    if engine is None:
        await message.answer(_("The knowledge base is not ready yet. Please try again in a few minutes."))
        return
    # "typing…" only when the answer is slow to come (a queue of questions): not an extra call for each one
    if update_slot is not None:
        await update_slot.step_aside()  # the engine's queue may be long: other updates go on meanwhile
    async with ChatActionSender.typing(bot=bot, chat_id=message.chat.id, initial_sleep=TYPING_AFTER):
        answer = await engine.aask(question, 0, PAGE)
    if not answer.refused and answer.mode != "llm":  # a phone screen: the answer, then its clause; the rest on 「更多」
        answer.sources = answer.sources[:1]
    row = await questions.log_question(session, actor, message.chat.id, question, questions.AnswerRecord(
        refused=answer.refused, top_score=answer.top_score, latency_ms=answer.latency_ms,
        source_ids=[source.chunk_id for source in answer.sources], shown=len(answer.sources),
    ))
    if answer.refused and not (answer.outcome == "related" and answer.sources):
        await message.reply(offtopic_text(answer), reply_markup=_feedback_row(row.id, more=False))
        return
    if answer.refused:  # related: the closest clauses, marked as not an answer
        text = related_header() + "\n\n" + render_answer(answer)
    else:
        text = render_answer(answer, lead=lead_sentence(question, answer.sources[0]) if answer.sources else "")
    await answer_long(message, text, reply_markup=_answer_keyboard(row.id, answer.sources))


def related_header() -> str:
    return _(
        "<b>I found no rule that answers this directly; these clauses may be related (they are not an answer).</b>\n"
        "For safety, check with your branch safety officer. Your question has been recorded so the administrators can add the missing rule."
    )


def offtopic_text(answer: "Answer") -> str:
    """The short reply to a question the knowledge folder is not about (the engine's outcome ``offtopic``)."""
    if answer.reason == "not chinese":
        return _("The knowledge base is in Chinese: please ask in Chinese, e.g. 登杆前要检查什么")
    return _("That is outside what I can answer: I only answer questions on the safety rules and branch regulations in the knowledge base.")


def _truncated(source: "Source") -> bool:
    return len(phone_text(source.text)) > SNIPPET


def render_source(source: "Source", number: int, full: bool = False) -> str:
    """One clause: a clean citation line, then its text (tables as lines; cut at SNIPPET unless `full`)."""
    text = phone_text(source.text)
    if not full and len(text) > SNIPPET:
        text = text[:SNIPPET] + "……"
    return f"<b>{number}. {escape(citation(source))}</b>\n{escape(text)}"


def render_answer(answer: "Answer", start: int = 0, lead: str = "") -> str:
    parts = []
    if answer.mode == "llm" and answer.answer:
        parts.append(escape(answer.answer))
        parts.append(_("<i>Sources:</i>"))
    elif lead:  # the sentence of the best clause that answers, word for word
        parts.append(f"📌 <b>{escape(lead)}</b>")
    parts += [render_source(source, start + index + 1) for index, source in enumerate(answer.sources)]
    return "\n\n".join(parts)


def _feedback_row(question_id: int, more: bool, shown: int = 0) -> InlineKeyboardMarkup:
    row = [
        InlineKeyboardButton(text="👍", callback_data=AskFeedback(question_id=question_id, value=1).pack()),
        InlineKeyboardButton(text="👎", callback_data=AskFeedback(question_id=question_id, value=-1).pack()),
    ]
    if more:
        row.insert(0, InlineKeyboardButton(text=_("More"), callback_data=AskMore(question_id=question_id, offset=shown).pack()))
    return InlineKeyboardMarkup(inline_keyboard=[row])


def _answer_keyboard(question_id: int, sources: list["Source"], start: int = 0) -> InlineKeyboardMarkup:
    """「原文n」 only for a clause shown cut short (the full text would repeat it otherwise), then more and
    feedback."""
    full = [
        InlineKeyboardButton(text=_("Full text {n}").format(n=start + index + 1),
                             callback_data=AskFull(question_id=question_id, index=start + index).pack())
        for index, source in enumerate(sources) if _truncated(source)
    ]
    keyboard = _feedback_row(question_id, more=True, shown=start + len(sources))
    return InlineKeyboardMarkup(inline_keyboard=[row for row in (full, *keyboard.inline_keyboard) if row])


async def _logged_question(query: CallbackQuery, session: AsyncSession, actor: Actor, app: App,
                           lookup: Awaitable[Any]):
    """The logged question (from `lookup`, a questions-service call) and the engine a follow-up button needs,
    or (None, None) after telling why not."""
    try:
        row = await lookup
    except DomainError as error:
        await reply_error(query, error)
        return None, None
    engine = _engine(app)
    if engine is None:
        await query.answer(_("The knowledge base is not ready yet. Please try again in a few minutes."), show_alert=True)
        return None, None
    return row, engine


async def more_pressed(query: CallbackQuery, callback_data: AskMore, session: AsyncSession, actor: Actor, app: App) -> None:
    row, engine = await _logged_question(
        query, session, actor, app,
        questions.question_to_page(session, actor, callback_data.question_id, callback_data.offset))
    if row is None:
        return
    answer = await engine.aask(row.text, callback_data.offset, PAGE)
    if not answer.sources:  # an off-topic question has none; a related one pages on like an answer
        await query.answer(_("No more related clauses."), show_alert=True)
        return
    questions.record_shown(row, callback_data.offset, [source.chunk_id for source in answer.sources])
    await query.answer()
    await answer_long(query.message, render_answer(answer, start=callback_data.offset),
                      reply_markup=_answer_keyboard(row.id, answer.sources, start=callback_data.offset))


async def full_pressed(query: CallbackQuery, callback_data: AskFull, session: AsyncSession, actor: Actor, app: App) -> None:
    row, engine = await _logged_question(query, session, actor, app,
                                         questions.get_question(session, actor, callback_data.question_id))
    if row is None:
        return
    ids = list(row.source_ids)
    source = engine.get_chunk(ids[callback_data.index]) if 0 <= callback_data.index < len(ids) else None
    if source is None:
        await query.answer(_("That clause is no longer in the knowledge base."), show_alert=True)
        return
    await query.answer()
    await answer_long(query.message, render_source(source, callback_data.index + 1, full=True))


async def feedback_pressed(query: CallbackQuery, callback_data: AskFeedback, session: AsyncSession, actor: Actor) -> None:
    try:
        await questions.give_feedback(session, actor, callback_data.question_id, callback_data.value)
    except DomainError as error:
        await reply_error(query, error)
        return
    await query.answer(_("Thank you for the feedback."))


MAX_GAP_BUTTONS = 20  # groups with buttons under one /gaps list (two buttons each; Telegram allows 100)
GAP_STATE_KEY = "gap_question"


async def gaps_command(message: Message, session: AsyncSession, actor: Actor, app: App) -> None:
    found = await questions.gaps(session, actor, now=app.clock.utc_naive())
    if not found:
        await message.answer(_("No refused or disliked questions in the last 30 days."))
        return
    lines = [_("<b>Questions without a good answer (last 30 days), similar ones grouped</b>")]
    for number, gap in enumerate(found, 1):
        times = " " + _("×{count}").format(count=gap.count) if gap.count > 1 else ""
        lines.append(f"{number}. {gap.last.asked_at:%m-%d} {'❓' if gap.last.refused else '👎'} "
                     f"{escape(gap.text[:80])}{times}")
        lines.append("   " + _("Closest clause: {clause}").format(clause=escape(_closest(app, gap))))
    lines.append(_("「Answer n」 adds your answer to the FAQ document; 「Out of scope n」 marks the refusal as right."))
    keyboard = [[
        InlineKeyboardButton(text=_("Answer {n}").format(n=number),
                             callback_data=GapButton(action="answer", question_id=gap.last.id).pack()),
        InlineKeyboardButton(text=_("Out of scope {n}").format(n=number),
                             callback_data=GapButton(action="out", question_id=gap.last.id).pack()),
    ] for number, gap in enumerate(found[:MAX_GAP_BUTTONS], 1)]
    await answer_long(message, "\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=keyboard))


def _closest(app: App, gap: questions.Gap) -> str:
    engine = _engine(app)
    source = engine.get_chunk(gap.source_id) if engine is not None and gap.source_id else None
    return citation(source) if source is not None else "—"



async def gap_pressed(query: CallbackQuery, callback_data: GapButton, session: AsyncSession, actor: Actor, app: App,
                      state: FSMContext) -> None:
    try:
        gap = await questions.find_gap(session, actor, callback_data.question_id, app.clock.utc_naive())
    except DomainError as error:
        await reply_error(query, error)
        return
    await query.answer()
    if callback_data.action == "out":
        questions.close_gap(gap, "out_of_scope")
        audit.record(session, actor.member, "gap.out_of_scope", "question", gap.last.id,
                     actor_label=actor.display_name, question=gap.text, questions=gap.count)
        await query.message.answer(ngettext("Marked as out of scope: 「{text}」 ({count} question) leaves the list.",
                                            "Marked as out of scope: 「{text}」 ({count} questions) leaves the list.",
                                            gap.count).format(text=escape(gap.text[:80]), count=gap.count))
        return
    await state.set_state(GapAnswerForm.answer)
    await state.update_data({GAP_STATE_KEY: gap.last.id})
    await query.message.answer(_(
        "Type the answer to 「{text}」 (at most {max} characters). It is added to the FAQ document {file} with your "
        "name and today's date, and members asking this get it from then on. /cancel stops."
    ).format(text=escape(gap.text[:200]), max=kb.MAX_FAQ_ANSWER, file=kb.FAQ_FILE))


async def gap_answer_typed(message: Message, session: AsyncSession, actor: Actor, app: App, state: FSMContext) -> None:
    engine = _engine(app)
    question_id = (await state.get_data()).get(GAP_STATE_KEY) or 0
    try:
        if engine is None:
            raise DomainError("kb_not_ready")
        gap = await questions.find_gap(session, actor, question_id, app.clock.utc_naive())
        name = await asyncio.to_thread(kb.append_faq, engine.knowledge_dir, gap.text, message.text,
                                       actor.display_name, app.local_now().date())
    except DomainError as error:
        if error.code != "faq_too_long":  # too long: the admin shortens it and sends again, still in the form
            await state.clear()
        await reply_error(message, error)
        return
    await state.clear()
    questions.close_gap(gap, "answered")
    audit.record(session, actor.member, "gap.answered", "question", gap.last.id, actor_label=actor.display_name,
                 question=gap.text, questions=gap.count, file=name, chars=len(message.text))
    await message.answer(_("Saved to {file}; indexing…").format(file=escape(name)))
    report = await asyncio.to_thread(kb.sync, engine, app.settings.redis_url)
    failed = dict(report.failed).get(name)
    if failed:
        log.error("FAQ %s saved but not indexed: %s", name, failed)
        await message.answer(_("⚠️ {file} was saved but could not be indexed: {reason}").format(
            file=escape(name), reason=escape(failed)))
        return
    await message.answer(_("✅ Answer saved to {file} and indexed: members asking 「{text}」 now get it.").format(
        file=escape(name), text=escape(gap.text[:80])))


ASK_ERRORS = {
    "gap_gone": __("That group of questions is no longer open (answered or closed meanwhile); send /gaps again."),
    "faq_empty": __("Please type the answer as text."),
    "faq_too_long": __("The answer has {length} characters; at most {max} fit a FAQ entry. Please shorten it and send it again, or /cancel."),
}

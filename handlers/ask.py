"""Questions: any private text that is no command or form input; in groups only when addressed."""
from __future__ import annotations

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
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.services import questions
from bot.services.errors import DomainError
from bot.services.membership import Actor
from handlers.ui.access import IsAdmin, IsMember
from handlers.ui.callbacks import AskFeedback, AskFull, AskMore
from handlers.ui.render import answer_long, reply_error

if TYPE_CHECKING:
    from bot.knowledge_engine import Answer, KnowledgeEngine, Source

PAGE = 3  # clauses per answer; 「更多」 shows the next ones
SNIPPET = 600  # characters of a clause shown in an answer; 「原文」 shows all of it


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
    r.message.register(ask_command, Command("ask"))
    r.message.register(ask_private, F.chat.type == "private", F.text, ~F.text.startswith("/"))
    r.message.register(ask_in_group, AddressedInGroup())
    r.callback_query.register(more_pressed, AskMore.filter())
    r.callback_query.register(full_pressed, AskFull.filter())
    r.callback_query.register(feedback_pressed, AskFeedback.filter())
    return r


def _engine(app: App) -> "KnowledgeEngine | None":
    return app.knowledge


async def ask_command(message: Message, command: CommandObject, session: AsyncSession, actor: Actor, app: App, bot: Bot) -> None:
    await answer_question(message, command.args or "", session, actor, app, bot)


async def ask_private(message: Message, session: AsyncSession, actor: Actor, app: App, bot: Bot) -> None:
    await answer_question(message, message.text, session, actor, app, bot)


async def ask_in_group(message: Message, question: str, session: AsyncSession, actor: Actor, app: App, bot: Bot) -> None:
    await answer_question(message, question, session, actor, app, bot)


async def answer_question(message: Message, text: str, session: AsyncSession, actor: Actor, app: App, bot: Bot) -> None:
    try:
        question = questions.clean_question(text)
    except DomainError:
        await message.answer(_("Please type your question after /ask, e.g. /ask 登杆前要检查什么"))
        return
    engine = _engine(app)
    if engine is None:
        await message.answer(_("The knowledge base is not ready yet. Please try again in a few minutes."))
        return
    async with ChatActionSender.typing(bot=bot, chat_id=message.chat.id):
        answer = await engine.aask(question, 0, PAGE)
    row = await questions.log_question(session, actor, message.chat.id, question, questions.AnswerRecord(
        refused=answer.refused, top_score=answer.top_score, latency_ms=answer.latency_ms,
        source_ids=[source.chunk_id for source in answer.sources], shown=len(answer.sources),
    ))
    if answer.refused:
        await message.reply(refusal_text(), reply_markup=_feedback_row(row.id, more=False))
        return
    await answer_long(message, render_answer(answer), reply_markup=_answer_keyboard(row.id, len(answer.sources)))


def refusal_text() -> str:
    return _(
        "I found no reliable basis for that in the knowledge base, so I will not guess on a safety question.\n"
        "Please ask your branch safety officer. Your question has been recorded so the administrators can add the missing rule."
    )


def render_source(source: "Source", number: int, full: bool = False) -> str:
    text = source.text if full or len(source.text) <= SNIPPET else source.text[:SNIPPET] + "……"
    where = " ".join(part for part in (source.clause, source.section) if part)
    return f"<b>{number}. 《{escape(source.title)}》 {escape(where)}</b>\n{escape(text)}"


def render_answer(answer: "Answer", start: int = 0) -> str:
    parts = []
    if answer.mode == "llm" and answer.answer:
        parts.append(escape(answer.answer))
        parts.append(_("<i>Sources:</i>"))
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


def _answer_keyboard(question_id: int, shown: int, start: int = 0) -> InlineKeyboardMarkup:
    full = [
        InlineKeyboardButton(text=_("Full text {n}").format(n=start + index + 1),
                             callback_data=AskFull(question_id=question_id, index=start + index).pack())
        for index in range(shown - start)
    ]
    keyboard = _feedback_row(question_id, more=True, shown=shown)
    return InlineKeyboardMarkup(inline_keyboard=[full, *keyboard.inline_keyboard])


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
    if answer.refused or not answer.sources:
        await query.answer(_("No more related clauses."), show_alert=True)
        return
    questions.record_shown(row, callback_data.offset, [source.chunk_id for source in answer.sources])
    await query.answer()
    await answer_long(query.message, render_answer(answer, start=callback_data.offset),
                      reply_markup=_answer_keyboard(row.id, row.shown, start=callback_data.offset))


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


async def gaps_command(message: Message, session: AsyncSession, actor: Actor) -> None:
    rows = await questions.gaps(session, actor)
    if not rows:
        await message.answer(_("No refused or disliked questions in the last 30 days."))
        return
    lines = [_("<b>Questions without a good answer (last 30 days)</b>")]
    lines += [
        f"{row.asked_at:%m-%d} {'❓' if row.refused else '👎'} {escape(row.text[:80])}" for row in rows
    ]
    await answer_long(message, "\n".join(lines))

"""The question log: what was asked, what was shown, feedback, and the admins' gap list."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import DomainError
from bot.services.membership import Actor
from storage.models import Question, utcnow

MAX_QUESTION_CHARS = 500  # longer text is cut before retrieval; the log keeps the first part too


@dataclass(frozen=True)
class AnswerRecord:
    """What the log needs from an engine answer (kept free of the engine's own types)."""

    refused: bool
    top_score: float
    latency_ms: float
    source_ids: list[str]
    shown: int


def clean_question(text: str | None) -> str:
    question = " ".join((text or "").split())
    if not question:
        raise DomainError("question_empty")
    return question[:MAX_QUESTION_CHARS]


async def log_question(session: AsyncSession, actor: Actor, chat_id: int, text: str, answer: AnswerRecord) -> Question:
    row = Question(
        member_id=actor.member.id if actor.member else None,
        chat_id=chat_id,
        text=text,
        refused=answer.refused,
        top_score=float(answer.top_score),
        latency_ms=float(answer.latency_ms),
        source_ids=list(answer.source_ids),
        shown=answer.shown,
    )
    session.add(row)
    await session.flush()
    return row


async def get_question(session: AsyncSession, actor: Actor, question_id: int, *, own_only: bool = False) -> Question:
    """A logged question for follow-up buttons. Regulations are not private, so any member may page
    through an answer shown in their chat; feedback (`own_only`) belongs to the asker alone."""
    row = await session.get(Question, question_id)
    if row is None or not actor.is_member:
        raise DomainError("question_gone")
    if own_only and (actor.member is None or row.member_id != actor.member.id):
        raise DomainError("forbidden")
    return row


async def question_to_page(session: AsyncSession, actor: Actor, question_id: int, offset: int) -> Question:
    """The asker's own logged question, for 「更多」 from `offset`: the log records what its asker was shown, so
    nobody else may page it, and an offset can only continue (or re-page) what was shown."""
    row = await get_question(session, actor, question_id)
    if actor.member is None or row.member_id != actor.member.id:
        raise DomainError("question_not_yours")
    if not 0 <= offset <= len(row.source_ids):
        raise DomainError("question_gone")
    return row


def record_shown(row: Question, offset: int, source_ids: list[str]) -> None:
    """The clauses shown from `offset` on replace whatever was shown from there before."""
    row.source_ids = list(row.source_ids)[:offset] + list(source_ids)
    row.shown = len(row.source_ids)


async def give_feedback(session: AsyncSession, actor: Actor, question_id: int, value: int) -> Question:
    row = await get_question(session, actor, question_id, own_only=True)
    row.feedback = 1 if value > 0 else -1
    return row


@dataclass
class Gap:
    """One question (as first worded) asked `count` times without a good answer; `last` is the latest."""

    text: str
    count: int
    last: Question


async def gaps(session: AsyncSession, actor: Actor, days: int = 30, limit: int = 30,
               now: datetime | None = None) -> list[Gap]:
    """Refused or 👎 questions of the last `days`, repeats merged (same words, ignoring spaces, punctuation
    and case), most recent first: what the knowledge folder is missing."""
    if not actor.is_admin:
        raise DomainError("forbidden")
    since = (now or utcnow()) - timedelta(days=days)
    query = (
        select(Question)
        .where(Question.asked_at >= since, or_(Question.refused.is_(True), Question.feedback == -1))
        .order_by(Question.asked_at.desc())
        .limit(limit * 10)
    )
    merged: dict[str, Gap] = {}
    for row in (await session.scalars(query)).all():
        key = _gap_key(row.text)
        if key in merged:
            merged[key].count += 1
        else:
            merged[key] = Gap(row.text, 1, row)
    return list(merged.values())[:limit]


def _gap_key(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())

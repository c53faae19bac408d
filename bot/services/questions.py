"""The question log: what was asked, what was shown, feedback, and the admins' gap list."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.knowledge_engine.normalize import match_form
from bot.services.errors import DomainError
from bot.services.membership import Actor
from storage.models import Question, utcnow

T = TypeVar("T")

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


SIMILAR = 0.3  # character-bigram Jaccard at or above which two questions are one gap (bench/gaps.py)
# Words that make a sentence a question but say nothing of its topic: left out of the comparison, so that
# 「工作票签发人由谁担任」 and 「工作许可人由谁担任」 are not one gap, while a retyping with 「应该…来」 still is.
QUESTION_WORDS = ("怎么样", "怎么", "怎样", "多少", "多久", "多长时间", "什么", "哪些", "哪里", "哪个", "是否", "由谁", "谁来",
                  "需要", "要求", "应该", "可以", "能不能", "有没有", "一般", "请问", "如何", "几", "吗", "呢", "的", "了",
                  "是", "要", "有", "该")
GAP_DAYS = 30
GAP_RESOLUTIONS = ("answered", "out_of_scope")


@dataclass
class Gap:
    """Questions of the gap list that ask the same thing: `text` is the latest wording, `rows` newest first,
    `source_id` the clause closest to it (the first one retrieved for any of them; "" when none was)."""

    rows: list[Question]

    @property
    def text(self) -> str:
        return self.rows[0].text

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def last(self) -> Question:
        return self.rows[0]

    @property
    def source_id(self) -> str:
        return next((row.source_ids[0] for row in self.rows if row.source_ids), "")


def bigrams(text: str) -> set[str]:
    """Character bigrams of the matching form without the question words, letters and digits only
    (punctuation and spaces say nothing); bigrams never span a removed word. A one-character question is its
    own "bigram"."""
    plain = match_form(text)
    for word in QUESTION_WORDS:
        plain = plain.replace(word, " ")
    parts = ["".join(ch for ch in part if ch.isalnum()) for part in plain.split()]
    return {part[i:i + 2] for part in parts for i in range(len(part) - 1)} or {"".join(parts)}


def similarity(a: set[str], b: set[str]) -> float:
    """Jaccard of two bigram sets. Chosen over a model because it is explainable and needs nothing loaded:
    Chinese questions on the same rule share most two-character words (接地/故障/米内), and rewording keeps
    them. Measured by bench/gaps.py on labelled retypings (precision first: a wrong merge would close a
    question the admin never read): without question words and at 0.3, no two different questions were put
    together on either set, and most retypings were (0.4 with question words kept grouped a sixth)."""
    return len(a & b) / len(a | b) if a and b else 0.0


async def gaps(session: AsyncSession, actor: Actor, days: int = GAP_DAYS, limit: int = 30,
               now: datetime | None = None) -> list[Gap]:
    """Refused or 👎 questions of the last `days` not yet closed by an admin, grouped by similarity (a
    question joins the first group whose latest wording is at least SIMILAR to it), the most asked first:
    what the knowledge folder is missing."""
    if not actor.is_admin:
        raise DomainError("forbidden")
    since = (now or utcnow()) - timedelta(days=days)
    query = (
        select(Question)
        .where(Question.asked_at >= since, Question.gap_closed.is_(None),
               or_(Question.refused.is_(True), Question.feedback == -1))
        .order_by(Question.asked_at.desc(), Question.id.desc())
        .limit(limit * 20)
    )
    found = [Gap(rows) for rows in group_similar((await session.scalars(query)).all(), lambda row: row.text)]
    found.sort(key=lambda gap: (-gap.count, -gap.last.id))
    return found[:limit]


def group_similar(items: Iterable[T], text_of: Callable[[T], str], threshold: float = SIMILAR) -> list[list[T]]:
    """Items grouped by wording, in order: each joins the first group whose first item's wording is at least
    `threshold` similar to its own, else starts a group (bench/gaps.py measures this on labelled retypings)."""
    groups: list[tuple[set[str], list[T]]] = []
    for item in items:
        grams = bigrams(text_of(item))
        home = next((members for key, members in groups if similarity(key, grams) >= threshold), None)
        if home is None:
            groups.append((grams, [item]))
        else:
            home.append(item)
    return [members for _key, members in groups]


async def find_gap(session: AsyncSession, actor: Actor, question_id: int, now: datetime) -> Gap:
    """The open gap holding `question_id` (as /gaps groups it now), re-checked for an admin: a button from an
    old list finds its group again, or DomainError('gap_gone') when it was closed meanwhile."""
    for gap in await gaps(session, actor, now=now, limit=10_000):
        if any(row.id == question_id for row in gap.rows):
            return gap
    raise DomainError("gap_gone")


def close_gap(gap: Gap, resolution: str) -> None:
    if resolution not in GAP_RESOLUTIONS:
        raise ValueError(resolution)
    for row in gap.rows:
        row.gap_closed = resolution

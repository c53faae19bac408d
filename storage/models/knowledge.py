from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class Question(Base):
    """Every question asked, answered or refused: the admins' gap list and the quality record."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_member_asked", "member_id", "asked_at"),)  # a branch's period: digests

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    refused: Mapped[bool]
    top_score: Mapped[float]
    latency_ms: Mapped[float]
    source_ids: Mapped[list] = mapped_column(JSON, default=list)
    shown: Mapped[int] = mapped_column(default=0)  # how many sources were shown (for 「更多」)
    feedback: Mapped[int | None]  # +1 👍, -1 👎
    feedback_note: Mapped[str | None] = mapped_column(String(500))
    asked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # An admin closed this question's gap in /gaps: "answered" (a FAQ section was written) or "out_of_scope"
    # (the refusal was right); either way it leaves the gap list.
    gap_closed: Mapped[str | None] = mapped_column(String(16))

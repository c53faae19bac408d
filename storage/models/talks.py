"""Talk check-ins (谈心谈话, safety talks): the talk, who took part (and confirmed), the concerns raised and the
follow-up items with an owner and a due date (knowledge/谈心谈话制度.md, 5.1–5.3)."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow


class TalkKind(StrEnum):
    HEART = "heart"  # 谈心谈话
    SAFETY = "safety"  # 安全谈话
    ONBOARDING = "onboarding"  # 新员工入职谈话
    VIOLATION = "violation"  # 违章后谈话
    OTHER = "other"  # 其他


class ConcernTag(StrEnum):
    THOUGHT = "thought"  # 思想
    WORK = "work"  # 工作
    SAFETY = "safety"  # 安全
    STUDY = "study"  # 学习
    LIFE = "life"  # 生活


class Talk(Base):
    __tablename__ = "talks"
    __table_args__ = (Index("ix_talks_branch_held", "branch_id", "held_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=TalkKind.HEART)
    held_on: Mapped[date] = mapped_column(Date)
    place: Mapped[str | None] = mapped_column(String(100))
    topic: Mapped[str] = mapped_column(String(200))
    agreement: Mapped[str | None] = mapped_column(Text)
    form_token: Mapped[str] = mapped_column(String(40), unique=True)  # one record per form, however often confirmed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    participants: Mapped[list["TalkParticipant"]] = relationship(
        back_populates="talk", order_by="TalkParticipant.id", cascade="all, delete-orphan", lazy="selectin"
    )
    concerns: Mapped[list["TalkConcern"]] = relationship(
        order_by="TalkConcern.position", cascade="all, delete-orphan", lazy="selectin"
    )
    follow_ups: Mapped[list["TalkFollowUp"]] = relationship(
        back_populates="talk", order_by="TalkFollowUp.position", cascade="all, delete-orphan", lazy="selectin"
    )


class TalkParticipant(Base):
    """A member of the branch (member_id), or someone outside the bot (only `name`)."""

    __tablename__ = "talk_participants"
    __table_args__ = (UniqueConstraint("talk_id", "member_id", name="uq_talk_participants_talk_member"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    talk_id: Mapped[int] = mapped_column(ForeignKey("talks.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    confirmed_at: Mapped[datetime | None]  # 「确认参加」 by the participant

    talk: Mapped[Talk] = relationship(back_populates="participants")


class TalkConcern(Base):
    __tablename__ = "talk_concerns"

    id: Mapped[int] = mapped_column(primary_key=True)
    talk_id: Mapped[int] = mapped_column(ForeignKey("talks.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    tag: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    secretary_only: Mapped[bool] = mapped_column(default=False)  # 「仅书记可见」


class TalkFollowUp(Base):
    __tablename__ = "talk_follow_ups"
    __table_args__ = (Index("ix_talk_follow_ups_branch_open", "branch_id", "done_at", "due_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    talk_id: Mapped[int] = mapped_column(ForeignKey("talks.id", ondelete="CASCADE"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    what: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    due_date: Mapped[date] = mapped_column(Date)
    done_at: Mapped[datetime | None]
    done_note: Mapped[str | None] = mapped_column(Text)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))

    talk: Mapped[Talk] = relationship(back_populates="follow_ups", lazy="joined")

"""Daily safety items, per-branch schedules, the branch's item of the day and members' acknowledgements."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class DailyItem(Base):
    """One item, synced from knowledge/daily/*.yaml by its stable id (or drawn from the regulations)."""

    __tablename__ = "daily_items"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # "jl-001", or "clause:<chunk id>"
    kind: Mapped[str] = mapped_column(String(16))  # 禁令 / 安规 / 案例 / 提示
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(200))
    quiz: Mapped[dict | None] = mapped_column(JSON)  # {"question", "options", "answer", "explanation"}
    origin: Mapped[str] = mapped_column(String(16), default="list")  # "list" (files) or "clause" (regulations)
    seq: Mapped[int] = mapped_column(default=0)  # order of use: kinds interleaved, file order within a kind
    active: Mapped[bool] = mapped_column(default=True)  # False when removed from the files (history keeps it)
    file: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DailySchedule(Base):
    """A branch's push time; a branch without a row uses the defaults (07:30, workdays only)."""

    __tablename__ = "daily_schedules"

    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"), primary_key=True)
    at: Mapped[str] = mapped_column(String(5), default="07:30")  # HH:MM in the TIMEZONE setting
    everyday: Mapped[bool] = mapped_column(default=False)  # False: Monday–Friday only
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DailyHoliday(Base):
    __tablename__ = "daily_holidays"
    __table_args__ = (UniqueConstraint("branch_id", "day", name="uq_daily_holidays_branch_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)


class BranchDaily(Base):
    """The item of a branch for a local date: the same for every member, so the meeting can discuss it."""

    __tablename__ = "branch_daily"
    __table_args__ = (UniqueConstraint("branch_id", "day", name="uq_branch_daily_branch_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    item_id: Mapped[str] = mapped_column(ForeignKey("daily_items.id"))
    pushed_at: Mapped[datetime | None]  # set once every member's delivery row is written
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DailyAck(Base):
    """One row per member and day, written with the delivery; acked_at stays NULL until 「已学习」."""

    __tablename__ = "daily_acks"
    __table_args__ = (
        UniqueConstraint("member_id", "day", name="uq_daily_acks_member_day"),
        Index("ix_daily_acks_branch_day", "branch_id", "day"),  # a branch's days: /acks and the digests
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("daily_items.id"), index=True)
    delivery_key: Mapped[str] = mapped_column(String(160))
    acked_at: Mapped[datetime | None]
    quiz_choice: Mapped[str | None] = mapped_column(String(1))  # "A".."D"
    quiz_correct: Mapped[bool | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

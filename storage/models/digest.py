"""Secretaries' digests: when each branch gets its weekly and monthly digest (defaults when no row)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class DigestSchedule(Base):
    """A branch's digest times; a branch without a row uses the defaults (Monday 08:30, the 1st 09:00)."""

    __tablename__ = "digest_schedules"

    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"), primary_key=True)
    weekly_on: Mapped[bool] = mapped_column(default=True)
    weekly_day: Mapped[int] = mapped_column(default=0)  # 0 = Monday … 6 = Sunday
    weekly_at: Mapped[str] = mapped_column(String(5), default="08:30")  # HH:MM in the TIMEZONE setting
    monthly_on: Mapped[bool] = mapped_column(default=True)
    monthly_day: Mapped[int] = mapped_column(default=1)  # 1–28: every month has it
    monthly_at: Mapped[str] = mapped_column(String(5), default="09:00")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

"""Points ledger: one row per award; the unique (member, reason, ref) makes awarding idempotent."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class PointsEntry(Base):
    __tablename__ = "points_ledger"
    __table_args__ = (
        UniqueConstraint("member_id", "reason", "ref", name="uq_points_ledger_award"),
        Index("ix_points_ledger_member_at", "member_id", "at"),  # a member's points in a period: /me, the digests
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32))  # e.g. "daily_ack", "report_on_time", "hazard"
    points: Mapped[int]
    ref: Mapped[str] = mapped_column(String(80))  # what was rewarded, e.g. "2026-11-23" or "report:17"
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

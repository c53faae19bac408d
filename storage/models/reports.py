"""四不伤害 monthly reports: the report, its hazards, violations and photos, status history, corrective actions."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, utcnow


class ReportStatus(StrEnum):
    DRAFT = "draft"  # reserved: drafts live in the FSM storage until submitted
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"


class Urgency(StrEnum):
    NORMAL = "一般"
    SERIOUS = "较大"
    MAJOR = "重大"


class ActionStatus(StrEnum):
    OPEN = "open"
    DONE = "done"  # the owner says it is fixed; the secretary checks it
    VERIFIED = "verified"  # the secretary confirmed the fix (a reopened action goes back to OPEN)


# Sizes of the stored rule of a hazard or violation (a document title, a clause number such as 26.2.8.1).
RULE_TITLE_MAX = 200
RULE_CLAUSE_MAX = 40


class BrokenRule:
    """The rule a hazard or violation breaks, as the knowledge engine found it when the description was typed
    and the member kept it (bot/services/item_rules.py): document title, clause number, the clause's first
    words. None of them when no confident rule was found or the member removed it."""

    rule_title: Mapped[str | None] = mapped_column(String(RULE_TITLE_MAX))
    rule_clause: Mapped[str | None] = mapped_column(String(RULE_CLAUSE_MAX))
    rule_excerpt: Mapped[str | None] = mapped_column(Text)

# The four no-harms, in the order the form asks them; each has a "what I did" and an "example" column.
SECTIONS = ("self", "others", "by_others", "protect")


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("member_id", "month", name="uq_reports_member_month"),
        Index("ix_reports_branch_status", "branch_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))  # the branch at (re)submission
    month: Mapped[str] = mapped_column(String(7))  # "YYYY-MM"
    status: Mapped[str] = mapped_column(String(16), default=ReportStatus.SUBMITTED)
    version: Mapped[int] = mapped_column(default=1)  # bumped on every resubmission of a returned report
    summary: Mapped[str] = mapped_column(Text, default="")
    self_did: Mapped[str | None] = mapped_column(Text)
    self_example: Mapped[str | None] = mapped_column(Text)
    others_did: Mapped[str | None] = mapped_column(Text)
    others_example: Mapped[str | None] = mapped_column(Text)
    by_others_did: Mapped[str | None] = mapped_column(Text)
    by_others_example: Mapped[str | None] = mapped_column(Text)
    protect_did: Mapped[str | None] = mapped_column(Text)
    protect_example: Mapped[str | None] = mapped_column(Text)
    suggestions: Mapped[str | None] = mapped_column(Text)
    first_submitted_at: Mapped[datetime] = mapped_column(default=utcnow)  # decides "on time" for points
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    review_comment: Mapped[str | None] = mapped_column(Text)
    form_token: Mapped[str | None] = mapped_column(String(40))  # the form that last (re)submitted: makes a repeated confirm a no-op

    hazards: Mapped[list["Hazard"]] = relationship(
        back_populates="report", order_by="Hazard.position", cascade="all, delete-orphan", lazy="selectin"
    )
    violations: Mapped[list["Violation"]] = relationship(
        back_populates="report", order_by="Violation.position", cascade="all, delete-orphan", lazy="selectin"
    )
    history: Mapped[list["ReportStatusChange"]] = relationship(
        order_by="ReportStatusChange.id", cascade="all, delete-orphan", lazy="selectin"
    )


class Hazard(BrokenRule, Base):
    __tablename__ = "hazards"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    urgency: Mapped[str] = mapped_column(String(8), default=Urgency.NORMAL)
    # rule_title, rule_clause, rule_excerpt: the rule it breaks (BrokenRule)

    report: Mapped[Report] = relationship(back_populates="hazards")
    photos: Mapped[list["ReportPhoto"]] = relationship(
        primaryjoin="ReportPhoto.hazard_id == Hazard.id", order_by="ReportPhoto.id",
        cascade="all, delete-orphan", lazy="selectin",
    )


class Violation(BrokenRule, Base):
    __tablename__ = "violations"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(Text)
    # rule_title, rule_clause, rule_excerpt: the rule it breaks (BrokenRule)

    report: Mapped[Report] = relationship(back_populates="violations")
    photos: Mapped[list["ReportPhoto"]] = relationship(
        primaryjoin="ReportPhoto.violation_id == Violation.id", order_by="ReportPhoto.id",
        cascade="all, delete-orphan", lazy="selectin",
    )


class ReportPhoto(Base):
    """A photo of a hazard or violation: Telegram's file_id (to resend) plus our own copy (exports, reviews)."""

    __tablename__ = "report_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"), index=True)
    violation_id: Mapped[int | None] = mapped_column(ForeignKey("violations.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[str] = mapped_column(String(200))
    file_unique_id: Mapped[str] = mapped_column(String(100))
    local_path: Mapped[str | None] = mapped_column(String(500))  # relative to settings.media_dir
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[Report] = relationship()  # sets report_id when photos are created with their hazard


class ReportStatusChange(Base):
    __tablename__ = "report_status_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CorrectiveAction(Base):
    __tablename__ = "corrective_actions"
    __table_args__ = (Index("ix_corrective_actions_branch_status", "branch_id", "status", "due_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"), unique=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    due_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(8), default=ActionStatus.OPEN)
    done_note: Mapped[str | None] = mapped_column(Text)
    done_photo_file_id: Mapped[str | None] = mapped_column(String(200))
    done_photo_path: Mapped[str | None] = mapped_column(String(500))
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    hazard: Mapped[Hazard] = relationship(lazy="joined")

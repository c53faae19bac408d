"""All models, imported here so `Base.metadata` (and Alembic) sees every table.

Each capability keeps its tables in its own module; add one import line per module.
"""
from storage.models.base import Base, utcnow
from storage.models.knowledge import Question
from storage.models.membership import AuditEntry, Branch, FsmRecord, Invite, Member, Role
from storage.models.reports import ActionStatus, CorrectiveAction, Hazard, Report, ReportPhoto, ReportStatus, ReportStatusChange, Urgency, Violation  # noqa: F401
from storage.models.delivery import Delivery, DeliveryStatus  # noqa: F401  (daily items / delivery)
from storage.models.points import PointsEntry  # noqa: F401
from storage.models.talks import ConcernTag, Talk, TalkConcern, TalkFollowUp, TalkKind, TalkParticipant  # noqa: F401
from storage.models.daily import BranchDaily, DailyAck, DailyHoliday, DailyItem, DailySchedule  # noqa: F401
from storage.models.digest import DigestSchedule  # noqa: F401

__all__ = ["AuditEntry", "Base", "Branch", "FsmRecord", "Invite", "Member", "Question", "Role", "utcnow"]

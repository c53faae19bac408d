"""All models, imported here so `Base.metadata` (and Alembic) sees every table.

Each capability keeps its tables in its own module; add one import line per module.
"""
from storage.models.base import Base, utcnow
from storage.models.membership import AuditEntry, Branch, FsmRecord, Invite, Member, Role

__all__ = ["AuditEntry", "Base", "Branch", "FsmRecord", "Invite", "Member", "Role", "utcnow"]

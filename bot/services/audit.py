from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, Member


def record(
    session: AsyncSession,
    actor: Member | None,
    action: str,
    target_type: str,
    target_id: int | None,
    *,
    actor_label: str | None = None,
    **details: object,
) -> AuditEntry:
    """Add an audit row in the caller's transaction, so it commits or rolls back with the change."""
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        actor_label=actor_label or (actor.real_name if actor else "system"),
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
    )
    session.add(entry)
    return entry

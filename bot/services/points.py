"""Points ledger (积分): idempotent awards keyed by (member, reason, ref), and totals.

Point values live in settings (points_daily_ack, …); callers pass the number in.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import PointsEntry, utcnow


async def award(
    session: AsyncSession, member_id: int, reason: str, points: int, ref: str, at: datetime | None = None
) -> bool:
    """Add `points` for (reason, ref) once; True when this call awarded them, False when already awarded.

    Uses INSERT … ON CONFLICT DO NOTHING so a double tap or a retried job never awards twice and never
    aborts the caller's transaction. Zero points (a disabled reward) writes nothing.
    """
    if points == 0:
        return False
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(PointsEntry)
        .values(member_id=member_id, reason=reason, points=points, ref=str(ref), at=at or utcnow())
        .on_conflict_do_nothing(index_elements=["member_id", "reason", "ref"])
    )
    result = await session.execute(statement)
    return result.rowcount == 1


async def total(session: AsyncSession, member_id: int, since: datetime | None = None) -> int:
    query = select(func.coalesce(func.sum(PointsEntry.points), 0)).where(PointsEntry.member_id == member_id)
    if since is not None:
        query = query.where(PointsEntry.at >= since)
    return int(await session.scalar(query) or 0)

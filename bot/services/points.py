"""Points ledger (积分): idempotent awards keyed by (member, reason, ref), and totals.

Point values live in settings (points_daily_ack, …); callers pass the number in.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DailyAck, Member, PointsEntry, utcnow


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


# --------------------------------------------------------------------------- rules, standings, /me

# Every rule of the ledger: reason → the setting (bot/config.py, POINTS_*) that says how much it earns.
# A feature awarding points uses its reason here; /me and the digests list and chart these categories.
RULES = {
    "daily_ack": "points_daily_ack",
    "report_on_time": "points_report_on_time",
    "hazard": "points_hazard",
    "talk_logged": "points_talk_logged",  # reasons as the talks feature writes them (bot/services/talks.py)
    "talk_follow_up": "points_follow_up_on_time",
}


def rules(settings: object) -> dict[str, int]:
    """reason → points, read from the one settings place; rules set to 0 (disabled) are left out."""
    values = {reason: int(getattr(settings, name, 0) or 0) for reason, name in RULES.items()}
    return {reason: points for reason, points in values.items() if points}


@dataclass(frozen=True)
class Standing:
    member_id: int
    name: str
    points: int
    by_reason: dict[str, int]


async def standings(session: AsyncSession, branch_id: int, start: datetime, end: datetime) -> list[Standing]:
    """Active members of a branch (admins aside, as in the digest) with their points in [start, end) (naive
    UTC), best first (then by name); members without points are included with 0, so a rank is among everyone."""
    members = (await session.execute(
        select(Member.id, Member.real_name)
        .where(Member.branch_id == branch_id, Member.active.is_(True), Member.role != "admin")
    )).all()
    rows = (await session.execute(
        select(PointsEntry.member_id, PointsEntry.reason, func.sum(PointsEntry.points))
        .join(Member, Member.id == PointsEntry.member_id)
        .where(Member.branch_id == branch_id, PointsEntry.at >= start, PointsEntry.at < end)
        .group_by(PointsEntry.member_id, PointsEntry.reason)
    )).all()
    by_member: dict[int, dict[str, int]] = {}
    for member_id, reason, points in rows:
        by_member.setdefault(member_id, {})[reason] = int(points)
    table = [Standing(member_id, name, sum(by_member.get(member_id, {}).values()), by_member.get(member_id, {}))
             for member_id, name in members]
    return sorted(table, key=lambda s: (-s.points, s.name, s.member_id))


def rank_of(table: list[Standing], member_id: int) -> int | None:
    """1-based competition rank (equal points share a rank), None when the member is not in the table."""
    for standing in table:
        if standing.member_id == member_id:
            return 1 + sum(1 for other in table if other.points > standing.points)
    return None


async def ack_streak(session: AsyncSession, member_id: int, today: date) -> int:
    """Acknowledged workdays in a row, counting back from today: a day the member got an item and did not
    acknowledge ends the streak (today's open item does not, the day is not over); days without an item
    (weekends, holidays) neither count nor break it."""
    rows = (await session.execute(
        select(DailyAck.day, DailyAck.acked_at).where(DailyAck.member_id == member_id, DailyAck.day <= today)
        .order_by(DailyAck.day.desc()).limit(400)
    )).all()
    streak = 0
    for day, acked_at in rows:
        if acked_at is None:
            if day == today:
                continue
            break
        streak += 1
    return streak

"""The daily safety item: branch schedules, choosing the branch's item, pushing it, acknowledgements.

Plain async functions over an AsyncSession (no aiogram). Times: `now` is an aware datetime passed in by
the caller (jobs and tests pass it explicitly); stored times are naive UTC (storage.models.utcnow);
schedule times and days are local to the TIMEZONE setting (`tz`).
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import outbox, points
from bot.services.errors import DomainError
from storage.models import (
    Branch,
    BranchDaily,
    DailyAck,
    DailyHoliday,
    DailyItem,
    DailySchedule,
    Delivery,
    Member,
)

DELIVERY_KIND = "daily"
POINTS_REASON = "daily_ack"
DEFAULT_TIME = "07:30"
DEFAULT_CUTOFF = "12:00"
MAX_HOLIDAY_SPAN = 366

# A clause drawn from the indexed regulations when a branch has used every listed item:
# clause_source(exclude_ids) -> {"id", "text", "source"[, "kind"]} | None (sync or async).
ClauseSource = Callable[[set[str]], Any]
# render(member, item, ack) -> (html text, inline buttons) in the member's language.
Render = Callable[[Member, DailyItem, DailyAck], tuple[str, list[list[dict]] | None]]


def _insert(session: AsyncSession):
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


def to_utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("pass an aware datetime (e.g. datetime.now(timezone.utc))")
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    return to_utc_naive(datetime.combine(day, time(0, 0), tzinfo=tz))


# --------------------------------------------------------------------------- schedules

def parse_hhmm(value: str) -> time:
    match = re.fullmatch(r"([01]?\d|2[0-3])[:：]([0-5]\d)", (value or "").strip())
    if not match:
        raise DomainError("daily_bad_time", value=value)
    return time(int(match.group(1)), int(match.group(2)))


def parse_day_range(value: str) -> tuple[date, date]:
    """'2026-10-01' or '2026-10-01..2026-10-07' (inclusive)."""
    first, _, last = (value or "").strip().partition("..")
    try:
        start = date.fromisoformat(first.strip())
        end = date.fromisoformat(last.strip()) if last else start
    except ValueError:
        raise DomainError("daily_bad_dates", value=value) from None
    if end < start or (end - start).days >= MAX_HOLIDAY_SPAN:
        raise DomainError("daily_bad_dates", value=value)
    return start, end


@dataclass(frozen=True)
class Schedule:
    at: time
    everyday: bool
    holidays: frozenset[date]
    custom: bool  # False: the defaults apply (no /schedule for this branch)

    def is_push_day(self, day: date) -> bool:
        return (self.everyday or day.weekday() < 5) and day not in self.holidays

    def late_until(self, cutoff: time) -> time:
        """Latest local time at which today's push is still sent after downtime: noon, or one hour after
        the push time for a branch that pushes at or after noon."""
        if self.at < cutoff:
            return cutoff
        later = (datetime.combine(date.today(), self.at) + timedelta(hours=1)).time()
        return later if later > self.at else time(23, 59)


async def get_schedule(session: AsyncSession, branch_id: int, default_time: str = DEFAULT_TIME,
                       around: date | None = None) -> Schedule:
    row = await session.get(DailySchedule, branch_id)
    query = select(DailyHoliday.day).where(DailyHoliday.branch_id == branch_id)
    if around is not None:  # only the days that matter for a scan
        query = query.where(DailyHoliday.day.between(around - timedelta(days=1), around + timedelta(days=1)))
    holidays = frozenset((await session.scalars(query)).all())
    if row is None:
        return Schedule(parse_hhmm(default_time), False, holidays, custom=False)
    return Schedule(parse_hhmm(row.at), row.everyday, holidays, custom=True)


async def set_schedule(session: AsyncSession, branch_id: int, *, at: str | None = None,
                       everyday: bool | None = None, default_time: str = DEFAULT_TIME) -> DailySchedule:
    row = await session.get(DailySchedule, branch_id)
    if row is None:
        row = DailySchedule(branch_id=branch_id, at=default_time, everyday=False)
        session.add(row)
    if at is not None:
        row.at = parse_hhmm(at).strftime("%H:%M")
    if everyday is not None:
        row.everyday = everyday
    await session.flush()
    return row


async def add_holidays(session: AsyncSession, branch_id: int, start: date, end: date) -> int:
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    statement = _insert(session)(DailyHoliday).values([{"branch_id": branch_id, "day": day} for day in days])
    result = await session.execute(statement.on_conflict_do_nothing(index_elements=["branch_id", "day"]))
    return max(result.rowcount, 0)


async def remove_holidays(session: AsyncSession, branch_id: int, start: date, end: date) -> int:
    result = await session.execute(
        delete(DailyHoliday).where(DailyHoliday.branch_id == branch_id, DailyHoliday.day.between(start, end))
    )
    return result.rowcount


async def upcoming_holidays(session: AsyncSession, branch_id: int, today: date, limit: int = 30) -> list[date]:
    return list((await session.scalars(
        select(DailyHoliday.day).where(DailyHoliday.branch_id == branch_id, DailyHoliday.day >= today)
        .order_by(DailyHoliday.day).limit(limit)
    )).all())


def due_state(schedule: Schedule, local_now: datetime, cutoff: time) -> str:
    """'due' (send now), 'early' (later today), 'missed' (too late today: skip) or 'off' (no push today)."""
    if not schedule.is_push_day(local_now.date()):
        return "off"
    current = local_now.time().replace(tzinfo=None)
    if current < schedule.at:
        return "early"
    if current >= schedule.late_until(cutoff):
        return "missed"
    return "due"


# --------------------------------------------------------------------------- choosing the item

async def _call(source: ClauseSource, exclude: set[str]) -> Any:
    result = source(exclude)
    return await result if inspect.isawaitable(result) else result


async def choose_item(session: AsyncSession, branch_id: int, clause_source: ClauseSource | None = None) -> DailyItem | None:
    """The next item for a branch: one it has never had (so no member can have had it in this branch),
    preferring one none of its current members met elsewhere; when the list is used up, a clause from the
    regulations; when those are used up too, a new round starting with the item used longest ago."""
    used = set((await session.scalars(select(BranchDaily.item_id).where(BranchDaily.branch_id == branch_id))).all())
    seen_by_members = set((await session.scalars(
        select(DailyAck.item_id).join(Member, Member.id == DailyAck.member_id)
        .where(Member.branch_id == branch_id, Member.active.is_(True)).distinct()
    )).all())
    fresh = [item for item in (await session.scalars(
        select(DailyItem).where(DailyItem.active.is_(True), DailyItem.origin == "list").order_by(DailyItem.seq, DailyItem.id)
    )).all() if item.id not in used]
    for item in fresh:
        if item.id not in seen_by_members:
            return item
    if fresh:
        return fresh[0]
    if clause_source is not None:
        drawn = await _call(clause_source, {item_id for item_id in used if item_id.startswith("clause:")})
        if drawn:
            return await _store_clause(session, drawn)
    # A new round: the active list item this branch had longest ago.
    last_used = (
        select(BranchDaily.item_id, func.max(BranchDaily.day).label("last"))
        .where(BranchDaily.branch_id == branch_id).group_by(BranchDaily.item_id).subquery()
    )
    return await session.scalar(
        select(DailyItem).join(last_used, last_used.c.item_id == DailyItem.id)
        .where(DailyItem.active.is_(True), DailyItem.origin == "list")
        .order_by(last_used.c.last, DailyItem.seq).limit(1)
    )


async def _store_clause(session: AsyncSession, drawn: Mapping[str, Any] | Any) -> DailyItem:
    get = drawn.get if isinstance(drawn, Mapping) else lambda key, default=None: getattr(drawn, key, default)
    raw_id = str(get("id"))
    item_id = raw_id if raw_id.startswith("clause:") else f"clause:{raw_id}"
    item_id = item_id[:120]
    row = await session.get(DailyItem, item_id)
    if row is None:
        text = str(get("text") or "").strip()[:3500]  # regulations clauses can be long; one message holds 4096
        row = DailyItem(id=item_id, kind=get("kind", None) or "安规", text=text, source=get("source", None),
                        quiz=None, origin="clause", seq=0, active=True)
        session.add(row)
        await session.flush()
    return row


async def branch_item(session: AsyncSession, branch_id: int, day: date,
                      clause_source: ClauseSource | None = None) -> BranchDaily | None:
    """The branch's item for `day`, choosing it on first use (race-safe: unique branch + day)."""
    found = await session.scalar(select(BranchDaily).where(BranchDaily.branch_id == branch_id, BranchDaily.day == day))
    if found is not None:
        return found
    item = await choose_item(session, branch_id, clause_source)
    if item is None:
        return None
    await session.execute(
        _insert(session)(BranchDaily).values(branch_id=branch_id, day=day, item_id=item.id)
        .on_conflict_do_nothing(index_elements=["branch_id", "day"])
    )
    return await session.scalar(select(BranchDaily).where(BranchDaily.branch_id == branch_id, BranchDaily.day == day))


# --------------------------------------------------------------------------- pushing

@dataclass
class PushResult:
    branch_id: int
    day: date
    item_id: str | None
    enqueued: int
    state: str  # "pushed", "already", "no_items", "no_members", or a due_state other than "due"


def delivery_key(member_id: int, day: date) -> str:
    return f"{DELIVERY_KIND}:{member_id}:{day.isoformat()}"


async def push_branch(session: AsyncSession, branch_id: int, day: date, *, tz: ZoneInfo, render: Render,
                      clause_source: ClauseSource | None = None) -> PushResult:
    """Write today's ack + delivery rows for every member of the branch (idempotent; the caller commits).

    Members who joined on `day` (local) start the next morning. Members marked unreachable are included:
    the sender's 403 keeps them marked, and a member who unblocked the bot gets the item again."""
    if not await session.scalar(select(func.count(Member.id)).where(Member.branch_id == branch_id, Member.active.is_(True))):
        return PushResult(branch_id, day, None, 0, "no_members")
    chosen = await branch_item(session, branch_id, day, clause_source)
    if chosen is None:
        return PushResult(branch_id, day, None, 0, "no_items")
    if chosen.pushed_at is not None:
        return PushResult(branch_id, day, chosen.item_id, 0, "already")
    item = await session.get(DailyItem, chosen.item_id)
    members = (await session.scalars(
        select(Member).where(Member.branch_id == branch_id, Member.active.is_(True),
                             Member.joined_at < local_midnight_utc(day, tz)).order_by(Member.id)
    )).all()
    acks = {ack.member_id: ack for ack in (await session.scalars(
        select(DailyAck).where(DailyAck.branch_id == branch_id, DailyAck.day == day)
    )).all()}
    new_acks = []
    for member in members:
        if member.id not in acks:
            ack = DailyAck(member_id=member.id, branch_id=branch_id, day=day, item_id=item.id,
                           delivery_key=delivery_key(member.id, day))
            session.add(ack)
            acks[member.id] = ack
            new_acks.append(ack)
    await session.flush()  # ack ids go into the buttons' callback data
    rows = []
    for member in members:
        ack = acks[member.id]
        text, buttons = render(member, item, ack)
        rows.append({"key": ack.delivery_key, "chat_id": member.telegram_id, "kind": DELIVERY_KIND, "text": text,
                     "member_id": member.id, "buttons": buttons})
    enqueued = await outbox.enqueue_many(session, rows)
    chosen.pushed_at = datetime.now(timezone.utc).replace(tzinfo=None)
    await session.flush()
    return PushResult(branch_id, day, item.id, enqueued, "pushed")


async def due_branches(session: AsyncSession, now: datetime, tz: ZoneInfo, *, default_time: str = DEFAULT_TIME,
                       cutoff: str = DEFAULT_CUTOFF) -> list[tuple[int, date]]:
    """Branches whose push for today (local) is due and not yet done, at `now`."""
    local_now = now.astimezone(tz)
    today = local_now.date()
    done = set((await session.scalars(
        select(BranchDaily.branch_id).where(BranchDaily.day == today, BranchDaily.pushed_at.is_not(None))
    )).all())
    due = []
    cutoff_time = parse_hhmm(cutoff)
    for branch_id in (await session.scalars(select(Branch.id).order_by(Branch.id))).all():
        if branch_id in done:
            continue
        schedule = await get_schedule(session, branch_id, default_time, around=today)
        if due_state(schedule, local_now, cutoff_time) == "due":
            due.append((branch_id, today))
    return due


# --------------------------------------------------------------------------- acknowledgements

@dataclass
class AckOutcome:
    status: str  # "recorded", "late" (recorded on a later day), "already"
    ack: DailyAck
    item: DailyItem
    points: int = 0


async def _own_ack(session: AsyncSession, member: Member | None, ack_id: int) -> DailyAck:
    ack = await session.get(DailyAck, ack_id)
    if ack is None or member is None or ack.member_id != member.id:
        raise DomainError("daily_not_yours")  # forged or someone else's button: reveal nothing
    return ack


async def acknowledge(session: AsyncSession, member: Member | None, ack_id: int, *, now: datetime, tz: ZoneInfo,
                      points_per_ack: int = 1) -> AckOutcome:
    ack = await _own_ack(session, member, ack_id)
    item = await session.get(DailyItem, ack.item_id)
    if ack.acked_at is not None:
        return AckOutcome("already", ack, item)
    at = to_utc_naive(now)
    ack.acked_at = at
    awarded = points_per_ack if await points.award(session, member.id, POINTS_REASON, points_per_ack, ack.day.isoformat(), at=at) else 0
    if not member.reachable:
        member.reachable = True  # they pressed a button: the bot can reach them
    await session.flush()
    status = "late" if now.astimezone(tz).date() > ack.day else "recorded"
    return AckOutcome(status, ack, item, awarded)


@dataclass
class QuizOutcome:
    first_answer: bool  # False: they had answered before; their first choice stands
    choice: str
    correct: bool
    answer: str
    explanation: str
    ack: AckOutcome


async def answer_quiz(session: AsyncSession, member: Member | None, ack_id: int, choice: int, *, now: datetime,
                      tz: ZoneInfo, points_per_ack: int = 1) -> QuizOutcome:
    ack = await _own_ack(session, member, ack_id)
    item = await session.get(DailyItem, ack.item_id)
    quiz = item.quiz if item else None
    if not quiz or not 0 <= choice < len(quiz["options"]):
        raise DomainError("daily_no_quiz")
    first = ack.quiz_choice is None
    if first:
        ack.quiz_choice = "ABCD"[choice]
        ack.quiz_correct = ack.quiz_choice == quiz["answer"]
    acked = await acknowledge(session, member, ack_id, now=now, tz=tz, points_per_ack=points_per_ack)
    return QuizOutcome(first, ack.quiz_choice, bool(ack.quiz_correct), quiz["answer"], quiz.get("explanation", ""), acked)


async def today_for(session: AsyncSession, member: Member, day: date) -> tuple[DailyItem, DailyAck | None] | None:
    """The member's item for `day`: their own (with its ack), or the branch's when they joined today."""
    ack = await session.scalar(select(DailyAck).where(DailyAck.member_id == member.id, DailyAck.day == day))
    if ack is not None:
        return await session.get(DailyItem, ack.item_id), ack
    if member.branch_id is None:
        return None
    chosen = await session.scalar(
        select(BranchDaily).where(BranchDaily.branch_id == member.branch_id, BranchDaily.day == day,
                                  BranchDaily.pushed_at.is_not(None))
    )
    if chosen is None:
        return None
    return await session.get(DailyItem, chosen.item_id), None


# --------------------------------------------------------------------------- secretaries' view

@dataclass
class AckLine:
    member: Member
    state: str  # "acked", "late" (acked on a later day), "waiting", "unreachable", "failed", "new" (starts tomorrow)
    acked_at: datetime | None = None  # naive UTC
    quiz_choice: str | None = None
    quiz_correct: bool | None = None


@dataclass
class AckBoard:
    branch: Branch
    day: date
    item: DailyItem | None
    lines: list[AckLine]

    def count(self, *states: str) -> int:
        return sum(1 for line in self.lines if line.state in states)


async def ack_board(session: AsyncSession, branch: Branch, day: date, tz: ZoneInfo) -> AckBoard:
    chosen = await session.scalar(select(BranchDaily).where(BranchDaily.branch_id == branch.id, BranchDaily.day == day))
    item = await session.get(DailyItem, chosen.item_id) if chosen else None
    members = (await session.scalars(
        select(Member).where(Member.branch_id == branch.id, Member.active.is_(True)).order_by(Member.real_name, Member.id)
    )).all()
    acks = {ack.member_id: ack for ack in (await session.scalars(
        select(DailyAck).where(DailyAck.branch_id == branch.id, DailyAck.day == day))).all()}
    statuses = dict((await session.execute(
        select(Delivery.member_id, Delivery.status).where(Delivery.key.in_([a.delivery_key for a in acks.values()]))
    )).all()) if acks else {}
    lines = []
    for member in members:
        ack = acks.get(member.id)
        if ack is None:
            state = "new" if chosen is not None else ("unreachable" if not member.reachable else "waiting")
            lines.append(AckLine(member, state))
            continue
        if ack.acked_at is not None:
            late = ack.acked_at.replace(tzinfo=timezone.utc).astimezone(tz).date() > day
            lines.append(AckLine(member, "late" if late else "acked", ack.acked_at, ack.quiz_choice, ack.quiz_correct))
            continue
        delivery = statuses.get(member.id)
        if delivery == "blocked" or (not member.reachable and delivery != "sent"):
            state = "unreachable"
        elif delivery in ("failed", "uncertain"):
            state = "failed" if delivery == "failed" else "waiting"
        else:
            state = "waiting"
        lines.append(AckLine(member, state))
    return AckBoard(branch, day, item, lines)


def members_by_state(board: AckBoard, states: Iterable[str]) -> list[AckLine]:
    wanted = set(states)
    return [line for line in board.lines if line.state in wanted]

"""Secretaries' digests: a branch's numbers for a period, one section per capability.

Each capability contributes a `DigestSection` through the feature registry (bot/features.py, `Feature.digest`):
`compute(session, scope)` returns its numbers (a `SectionResult`), `sheets(session, scope)` its rows for the
Excel file. The digest is the loop over whatever sections are registered, so a capability that does not exist
(yet) is a missing section, not an error; a section that fails is logged and left out, never the whole digest.

Texts are English msgids marked with `_` (a no-op here, so babel extracts them into the catalogs) and
translated where they are rendered (handlers/ui/digest_view.py): services stay free of aiogram.
Numbers first; names only where someone must act (`attention`), and digests go to private chats only.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import DomainError
from storage.models import Branch, DigestSchedule, Member, Role

log = logging.getLogger("fieldmate.digest")

WEEKLY, MONTHLY = "weekly", "monthly"


def _(message: str) -> str:
    """Marks a msgid for the catalogs; it is translated where the digest is rendered."""
    return message


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    kind: str  # WEEKLY or MONTHLY
    start: date
    end: date  # exclusive
    label: str  # "2026-W47" or "2026-11": part of delivery keys and file names

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)


def week_of(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    year, week, _weekday = monday.isocalendar()
    return Period(WEEKLY, monday, monday + timedelta(days=7), f"{year}-W{week:02d}")


def month_period(month: str) -> Period:
    """'2026-11' → the month as a period; raises DomainError('digest_bad_period') for anything else."""
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", (month or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise DomainError("digest_bad_period", value=month)
    start = date(int(match.group(1)), int(match.group(2)), 1)
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return Period(MONTHLY, start, end, start.strftime("%Y-%m"))


def previous_month(day: date) -> Period:
    return month_period((day.replace(day=1) - timedelta(days=1)).strftime("%Y-%m"))


THIS_WEEK = {"", "this", "week", "本周", "这周"}
LAST_WEEK = {"last", "lastweek", "上周"}
THIS_MONTH = {"month", "本月"}
LAST_MONTH = {"lastmonth", "上月", "上个月"}


def parse_period(text: str | None, today: date) -> Period:
    """What `/digest …` and `/export …` accept: nothing or 本周 (this week so far), 上周 (last week),
    本月 / 上月, a month 2026-11, or an ISO week 2026-W47."""
    value = (text or "").strip().lower().replace(" ", "")
    if value in THIS_WEEK:
        return week_of(today)
    if value in LAST_WEEK:
        return week_of(today - timedelta(days=7))
    if value in THIS_MONTH:
        return month_period(today.strftime("%Y-%m"))
    if value in LAST_MONTH:
        return previous_month(today)
    week = re.fullmatch(r"(\d{4})-?w(\d{1,2})", value)
    if week:
        try:
            return week_of(date.fromisocalendar(int(week.group(1)), int(week.group(2)), 1))
        except ValueError:
            raise DomainError("digest_bad_period", value=text) from None
    return month_period(value)


# --------------------------------------------------------------------------- what sections return


@dataclass(frozen=True)
class Fact:
    """One line: a msgid with its `{placeholders}` filled from params when rendered.

    A line whose wording depends on a number ("1 member", "2 members") also has the plural msgid, and
    `n` names the param whose value picks the form (build it with `plural_fact`)."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    plural: str | None = None
    n: str = "count"


def plural_fact(singular: str, plural: str, params: dict[str, Any], n: str = "count") -> Fact:
    """A Fact in singular or plural as `params[n]` asks (babel extracts the pair for the catalogs)."""
    return Fact(singular, params, plural=plural, n=n)


@dataclass(frozen=True)
class Label:
    """A cell value in a sheet that is translated (a status, a category), not data to copy as is."""

    msgid: str


@dataclass
class SectionResult:
    key: str
    title: str  # msgid
    facts: list[Fact] = field(default_factory=list)  # numbers first
    attention: list[Fact] = field(default_factory=list)  # who must act (names): private chats only
    headline: list[Fact] = field(default_factory=list)  # the branch's line in the all-branches digest
    health: float | None = None  # 0..1, lower is worse: orders the all-branches digest
    series: dict[str, list[float | None]] = field(default_factory=dict)  # msgid → a value (0..1) per trend week
    radar: list[tuple[str, dict[str, int]]] = field(default_factory=list)  # (name, points per category)


class Share(float):
    """A share (0..1) in a sheet: shown as a percentage."""


@dataclass(frozen=True)
class Sheet:
    title: str  # msgid; also the sheet name
    columns: tuple[str | date, ...]  # msgids (translated), or dates (a register's day columns)
    rows: list[tuple[Any, ...]]  # str, int, float, Share, date, datetime (local, naive), Label, None


@dataclass(frozen=True)
class Scope:
    """One branch and one period, with what every section needs to compute its numbers."""

    branch_id: int
    period: Period
    tz: ZoneInfo
    now: datetime  # aware
    trend_weeks: int = 8
    rules: dict[str, int] = field(default_factory=dict)  # points per reason (bot/services/points.py RULES)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()

    @property
    def start_utc(self) -> datetime:
        return self.utc(self.period.start)

    @property
    def end_utc(self) -> datetime:
        return self.utc(self.period.end)

    def utc(self, day: date) -> datetime:
        """Local midnight of `day` as the database stores times (naive UTC)."""
        return datetime.combine(day, time(0, 0), tzinfo=self.tz).astimezone(timezone.utc).replace(tzinfo=None)

    def local(self, naive_utc: datetime | None) -> datetime | None:
        """A stored time as a local wall-clock time (naive: how Excel shows times)."""
        if naive_utc is None:
            return None
        return naive_utc.replace(tzinfo=timezone.utc).astimezone(self.tz).replace(tzinfo=None)

    @property
    def reference_day(self) -> date:
        """The last day the period has had so far (a running week or month ends today)."""
        return min(self.period.last_day, self.today)

    def trend(self) -> list[Period]:
        """The weeks of the trend lines, oldest first, ending with the week of `reference_day`."""
        last = week_of(self.reference_day)
        return [week_of(last.start - timedelta(days=7 * n)) for n in range(self.trend_weeks - 1, -1, -1)]


Compute = Callable[[AsyncSession, Scope], Awaitable[SectionResult | None]]
Sheets = Callable[[AsyncSession, Scope], Awaitable[list[Sheet]]]


@dataclass(frozen=True)
class DigestSection:
    """A capability's part of the digest (registered as `Feature(digest=…)`)."""

    key: str
    compute: Compute
    sheets: Sheets | None = None


@dataclass
class Digest:
    branch_id: int
    branch_name: str
    scope: Scope
    sections: list[SectionResult]
    missing: list[str] = field(default_factory=list)  # keys of sections that failed (logged)

    @property
    def health(self) -> float | None:
        values = [s.health for s in self.sections if s.health is not None]
        return sum(values) / len(values) if values else None

    def series(self) -> dict[str, list[float | None]]:
        return {label: values for section in self.sections for label, values in section.series.items()}

    def radar(self) -> list[tuple[str, dict[str, int]]]:
        return next((s.radar for s in self.sections if s.radar), [])


async def build_digest(session: AsyncSession, scope: Scope, sections: Iterable[DigestSection]) -> Digest:
    branch = await session.get(Branch, scope.branch_id)
    if branch is None:
        raise DomainError("branch_not_found", name=scope.branch_id)
    results, missing = [], []
    for section in sections:
        try:
            async with session.begin_nested():  # a failing section must not abort the others' transaction
                result = await section.compute(session, scope)
        except Exception:
            log.exception("digest section %s failed for branch %s, %s", section.key, scope.branch_id, scope.period.label)
            missing.append(section.key)
            continue
        if result is not None:
            results.append(result)
    return Digest(branch.id, branch.name, scope, results, missing)


async def build_sheets(session: AsyncSession, scope: Scope, sections: Iterable[DigestSection]) -> list[Sheet]:
    """Every registered section's sheets for the Excel file, in registry order."""
    sheets: list[Sheet] = []
    for section in sections:
        if section.sheets is not None:
            sheets.extend(await section.sheets(session, scope))
    return sheets


async def all_branches(session: AsyncSession, scope_for: Callable[[int], Scope],
                       sections: Iterable[DigestSection]) -> list[Digest]:
    """Every branch's digest, worst first (lowest health; branches without numbers last)."""
    sections = tuple(sections)
    branch_ids = (await session.scalars(select(Branch.id).order_by(Branch.id))).all()
    digests = [await build_digest(session, scope_for(branch_id), sections) for branch_id in branch_ids]
    return sorted(digests, key=lambda d: (d.health is None, d.health if d.health is not None else 0, d.branch_name))


# --------------------------------------------------------------------------- the core section: members


async def members_section(session: AsyncSession, scope: Scope) -> SectionResult:
    rows = (await session.execute(
        select(Member.real_name, Member.reachable, Member.joined_at)
        .where(Member.branch_id == scope.branch_id, Member.active.is_(True), Member.role != Role.ADMIN)
        .order_by(Member.real_name)
    )).all()
    unreachable = [name for name, reachable, _joined in rows if not reachable]
    joined = sum(1 for _name, _reachable, joined_at in rows if scope.start_utc <= joined_at < scope.end_utc)
    result = SectionResult("members", _("Members"), facts=[
        Fact(_("Active members: {count} (new in this period: {joined})"), {"count": len(rows), "joined": joined}),
        Fact(_("Unreachable (blocked the bot or never started it): {count}"), {"count": len(unreachable)}),
    ], headline=[plural_fact("{count} member", "{count} members", {"count": len(rows)})])
    if unreachable:
        result.attention.append(Fact(_("Unreachable, please contact them: {names}"), {"names": names(unreachable)}))
    return result


MEMBERS = DigestSection("members", members_section)


def names(items: Iterable[str], limit: int = 10) -> str:
    """'甲、乙、丙 …+3': names where someone must act, capped so a digest stays one message."""
    items = list(items)
    shown = "、".join(items[:limit])
    return shown + (f" …+{len(items) - limit}" if len(items) > limit else "")


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percent(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


# --------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class Plan:
    """When a branch gets its digests (local times); `DigestSchedule` rows override the settings' defaults."""

    weekly_on: bool = True
    weekly_day: int = 0  # 0 = Monday
    weekly_at: time = time(8, 30)
    monthly_on: bool = True
    monthly_day: int = 1
    monthly_at: time = time(9, 0)

    def due(self, local_now: datetime, catch_up: dict[str, timedelta]) -> list[Period]:
        """The periods whose digest time has come at `local_now` and is at most `catch_up` old (after
        downtime a digest is still sent that long; the delivery keys make it once per period)."""
        periods = []
        if self.weekly_on:
            this_week = week_of(local_now.date())
            moment = _at(this_week.start + timedelta(days=self.weekly_day), self.weekly_at, local_now)
            if moment > local_now:
                moment -= timedelta(days=7)
            if local_now - moment <= catch_up[WEEKLY]:
                periods.append(week_of(moment.date() - timedelta(days=7 + moment.weekday())))
        if self.monthly_on:
            moment = _at(local_now.date().replace(day=self.monthly_day), self.monthly_at, local_now)
            if moment > local_now:
                moment = _at((moment.date().replace(day=1) - timedelta(days=1)).replace(day=self.monthly_day),
                             self.monthly_at, local_now)
            if local_now - moment <= catch_up[MONTHLY]:
                periods.append(previous_month(moment.date()))
        return periods

    def describe_weekly(self) -> tuple[int, str] | None:
        return (self.weekly_day, self.weekly_at.strftime("%H:%M")) if self.weekly_on else None

    def describe_monthly(self) -> tuple[int, str] | None:
        return (self.monthly_day, self.monthly_at.strftime("%H:%M")) if self.monthly_on else None


def _at(day: date, at: time, like: datetime) -> datetime:
    return datetime.combine(day, at, tzinfo=like.tzinfo)


def _hhmm(value: str) -> time:
    match = re.fullmatch(r"([01]?\d|2[0-3])[:：]([0-5]\d)", (value or "").strip())
    if not match:
        raise DomainError("digest_bad_time", value=value)
    return time(int(match.group(1)), int(match.group(2)))


WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
            "周一": 0, "周二": 1, "周三": 2, "周四": 3, "周五": 4, "周六": 5, "周日": 6, "周天": 6}


def default_plan(settings: Any) -> Plan:
    return Plan(True, settings.digest_weekly_day, _hhmm(settings.digest_weekly_at),
                True, settings.digest_monthly_day, _hhmm(settings.digest_monthly_at))


async def plans(session: AsyncSession, default: Plan) -> dict[int, Plan]:
    """Every branch's plan, in one query."""
    rows = (await session.execute(
        select(Branch.id, DigestSchedule).outerjoin(DigestSchedule, DigestSchedule.branch_id == Branch.id)
        .order_by(Branch.id)
    )).all()
    return {branch_id: _plan(row) if row else default for branch_id, row in rows}


def _plan(row: DigestSchedule) -> Plan:
    return Plan(row.weekly_on, row.weekly_day, _hhmm(row.weekly_at), row.monthly_on, row.monthly_day,
                _hhmm(row.monthly_at))


async def plan_of(session: AsyncSession, branch_id: int, default: Plan) -> Plan:
    row = await session.get(DigestSchedule, branch_id)
    return _plan(row) if row else default


async def set_plan(session: AsyncSession, branch_id: int, kind: str, default: Plan, *, off: bool = False,
                   day: str | None = None, at: str | None = None) -> Plan:
    """Change one kind of a branch's digest: `off`, or a day (weekly: mon…sun / 周一…周日 / 0–6; monthly: 1–28)
    and/or a time HH:MM. Raises DomainError with a message the user can act on."""
    if kind not in (WEEKLY, MONTHLY):
        raise DomainError("digest_bad_kind", value=kind)
    row = await session.get(DigestSchedule, branch_id)
    if row is None:
        row = DigestSchedule(branch_id=branch_id, weekly_on=default.weekly_on, weekly_day=default.weekly_day,
                             weekly_at=default.weekly_at.strftime("%H:%M"), monthly_on=default.monthly_on,
                             monthly_day=default.monthly_day, monthly_at=default.monthly_at.strftime("%H:%M"))
        session.add(row)
    setattr(row, f"{kind}_on", not off)
    if at is not None:
        setattr(row, f"{kind}_at", _hhmm(at).strftime("%H:%M"))
    if day is not None:
        setattr(row, f"{kind}_day", _weekday(day) if kind == WEEKLY else _month_day(day))
    await session.flush()
    return _plan(row)


def _weekday(value: str) -> int:
    value = value.strip().lower()
    if value in WEEKDAYS:
        return WEEKDAYS[value]
    if value.isdigit() and 0 <= int(value) <= 6:
        return int(value)
    raise DomainError("digest_bad_day", value=value)


def _month_day(value: str) -> int:
    if value.strip().isdigit() and 1 <= int(value) <= 28:
        return int(value)
    raise DomainError("digest_bad_day", value=value)


def delivery_key(kind: str, period: Period, recipient: str, part: str) -> str:
    """One digest per (recipient, kind, period): e.g. digest:weekly:2026-W47:m12:text.
    `recipient` is 'm<member id>' for a branch digest, 'all<chat id>' for the admins' all-branches one."""
    return f"digest:{kind}:{period.label}:{recipient}:{part}"

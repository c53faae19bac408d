"""Talk check-ins (谈心谈话 and safety talks): log and confirm talks, follow-ups, coverage, who needs a talk now,
and who may read a talk's notes. The rules are those of knowledge/谈心谈话制度.md (section numbers below).

Dates are local dates (the bot's time zone); callers pass `today`, `now` (naive UTC, as stored) and `tz`.
No aiogram here: handlers, jobs, the CLI and the digests all call these functions.

Privacy (5.5 and 4.3 of the rules): a talk's notes (place, topic, concerns, agreement) are read by its author,
the branch's secretaries and admins; a participant sees the date, the kind, who took part and the agreed
follow-ups; a concern marked 「仅书记可见」 is shown to the branch secretaries (and its author, who wrote it)
only. An admin reading notes of a talk they did not write leaves an audit entry.
"""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, points
from bot.services.errors import DomainError
from bot.services.membership import Actor
from storage.models import (
    ConcernTag,
    DailyAck,
    Member,
    Report,
    ReportStatus,
    Role,
    Talk,
    TalkConcern,
    TalkFollowUp,
    TalkKind,
    TalkParticipant,
)

MAX_TOPIC = 100
MAX_PLACE = 60
MAX_NOTE = 500  # a concern, the agreement, a follow-up, a done note: a few sentences read on a phone
MAX_PEOPLE = 10  # a group talk
MAX_ITEMS = 10  # concerns, follow-ups
NAME_MAX = 20
REASON_LOGGED = "talk_logged"
REASON_FOLLOW_UP = "talk_follow_up"


# --- input ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PersonInput:
    """A branch member (member_id) or someone outside the bot (name only)."""

    member_id: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class ConcernInput:
    tag: str
    note: str
    secretary_only: bool = False


@dataclass(frozen=True)
class FollowUpInput:
    what: str
    owner_id: int
    due: date


@dataclass(frozen=True)
class TalkInput:
    kind: str
    held_on: date
    topic: str
    people: list[PersonInput]
    place: str | None = None
    concerns: list[ConcernInput] = field(default_factory=list)
    agreement: str | None = None
    follow_ups: list[FollowUpInput] = field(default_factory=list)

    @classmethod
    def from_form(cls, data: dict[str, Any]) -> TalkInput:
        """From the form draft's answers (bot/forms/talk.py)."""
        return cls(
            kind=data.get("kind") or "",
            held_on=date.fromisoformat(data["held_on"]) if data.get("held_on") else date.min,
            topic=data.get("topic") or "",
            place=data.get("place"),
            agreement=data.get("agreement"),
            people=[PersonInput(p.get("member_id"), p.get("name")) for p in data.get("people") or []],
            concerns=[ConcernInput(c["tag"], c["note"], bool(c.get("secretary_only"))) for c in data.get("concerns") or []],
            follow_ups=[FollowUpInput(f["what"], int(f["owner_id"]), date.fromisoformat(f["due"]))
                        for f in data.get("follow_ups") or []],
        )


def clean_text(raw: str | None) -> str:
    """Trimmed text; Chinese punctuation is kept as typed (no NFKC: it would turn ， into ,)."""
    return re.sub(r"[ \t]+", " ", raw or "").strip()


def check_length(text: str | None, limit: int = MAX_NOTE) -> None:
    if text is not None and len(text) > limit:
        raise DomainError("talk_text_too_long", max=limit, length=len(text))


def clean_outside_name(raw: str) -> str:
    """A typed name of someone outside the bot: 2–20 letters (a name, not a sentence)."""
    name = clean_text(unicodedata.normalize("NFKC", raw or ""))
    if not 2 <= len(name) <= NAME_MAX or any(ch in name for ch in "<>/\\@#") or any(ch.isdigit() for ch in name):
        raise DomainError("talk_name_invalid", max=NAME_MAX)
    return name


def may_log(actor: Actor) -> bool:
    """Talks are logged by secretaries, committee members and party members (rules 2.1–2.3)."""
    member = actor.member
    return actor.is_member and member is not None and member.branch_id is not None and (
        actor.is_secretary or member.is_committee or member.is_party_member)


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    """A stored (naive UTC) time as a local date."""
    return moment.replace(tzinfo=timezone.utc).astimezone(tz).date()


def check_date(held_on: date, today: date) -> None:
    if held_on > today:
        raise DomainError("talk_future_date")


def check_input(data: TalkInput, today: date) -> None:
    """The form's rules again on the server side: a stale or forged form cannot store nonsense."""
    if data.kind not in tuple(TalkKind):
        raise DomainError("talk_bad_kind")
    check_date(data.held_on, today)
    if not data.people:
        raise DomainError("talk_no_people")
    if len(data.people) > MAX_PEOPLE:
        raise DomainError("talk_too_many_people", max=MAX_PEOPLE)
    if not clean_text(data.topic):
        raise DomainError("talk_topic_empty")
    check_length(data.topic, MAX_TOPIC)
    check_length(data.place, MAX_PLACE)
    check_length(data.agreement)
    if len(data.concerns) > MAX_ITEMS or len(data.follow_ups) > MAX_ITEMS:
        raise DomainError("talk_too_many_items", max=MAX_ITEMS)
    for concern in data.concerns:
        if concern.tag not in tuple(ConcernTag):
            raise DomainError("talk_bad_tag")
        if not clean_text(concern.note):
            raise DomainError("talk_note_required")
        check_length(concern.note)
    for item in data.follow_ups:
        if not clean_text(item.what):
            raise DomainError("talk_note_required")
        check_length(item.what)
        if item.due < data.held_on:
            raise DomainError("talk_due_before_talk")


async def check_person(session: AsyncSession, author: Member, member_id: int, held_on: date | None,
                       tz: ZoneInfo) -> Member:
    """A participant chosen from the branch list: not the author, active, of the author's branch, and
    (when the date is known) already a member on the day of the talk."""
    member = await session.get(Member, member_id)
    if member is None:
        raise DomainError("member_not_found")
    if member.id == author.id:
        raise DomainError("talk_with_self")
    if member.branch_id != author.branch_id:
        raise DomainError("talk_other_branch", name=member.real_name)
    if not member.active:
        raise DomainError("talk_inactive_member", name=member.real_name)
    joined = local_date(member.joined_at, tz)
    if held_on is not None and held_on < joined:
        raise DomainError("talk_before_joined", name=member.real_name, date=joined.isoformat())
    return member


async def check_owner(session: AsyncSession, author: Member, owner_id: int) -> Member:
    """A follow-up owner: an active member of the author's branch (the author included)."""
    owner = await session.get(Member, owner_id)
    if owner is None or owner.branch_id != author.branch_id or owner.role == Role.ADMIN:
        raise DomainError("talk_owner_outside")
    if not owner.active:
        raise DomainError("talk_inactive_member", name=owner.real_name)
    return owner


# --- logging and confirming -----------------------------------------------------------------------

@dataclass
class LogResult:
    talk: Talk
    created: bool = False
    duplicate: bool = False  # the same form confirmed again: nothing new was stored
    awarded: int = 0


async def log_talk(session: AsyncSession, actor: Actor, data: TalkInput, *, form_token: str, today: date,
                   now: datetime, tz: ZoneInfo, points_logged: int = 0) -> LogResult:
    """Store a talk the actor held. One record per form: confirming the same form twice (a double tap, two
    confirms at once) returns the stored talk; the unique form token decides between concurrent confirms."""
    existing = await _talk_by_token(session, form_token)
    if existing is not None:
        return LogResult(existing, duplicate=True)
    if not may_log(actor):
        raise DomainError("talk_not_allowed")
    author = actor.member
    check_input(data, today)
    people = await _people(session, author, data, tz)
    for item in data.follow_ups:
        await check_owner(session, author, item.owner_id)
    talk = Talk(
        branch_id=author.branch_id, author_id=author.id, kind=data.kind, held_on=data.held_on,
        place=clean_text(data.place) or None, topic=clean_text(data.topic),
        agreement=clean_text(data.agreement) or None, form_token=form_token, created_at=now,
        participants=people,
        concerns=[TalkConcern(position=i, tag=c.tag, note=clean_text(c.note), secretary_only=c.secretary_only)
                  for i, c in enumerate(data.concerns)],
        follow_ups=[TalkFollowUp(position=i, branch_id=author.branch_id, what=clean_text(f.what), owner_id=f.owner_id,
                                 due_date=f.due) for i, f in enumerate(data.follow_ups)],
    )
    try:
        async with session.begin_nested():
            session.add(talk)
            await session.flush()
    except IntegrityError:
        existing = await _talk_by_token(session, form_token)
        if existing is None:
            raise
        return LogResult(existing, duplicate=True)
    audit.record(session, author, "talk.log", "talk", talk.id, kind=talk.kind, people=len(people))
    awarded = points_logged if await points.award(session, author.id, REASON_LOGGED, points_logged,
                                                  f"talk:{talk.id}", at=now) else 0
    return LogResult(talk, created=True, awarded=awarded)


async def _people(session: AsyncSession, author: Member, data: TalkInput, tz: ZoneInfo) -> list[TalkParticipant]:
    people: list[TalkParticipant] = []
    seen: set[int | str] = set()
    for person in data.people:
        if person.member_id is not None:
            member = await check_person(session, author, person.member_id, data.held_on, tz)
            key: int | str = member.id
            participant = TalkParticipant(member_id=member.id, name=member.real_name)
        else:
            name = clean_outside_name(person.name or "")
            key, participant = name, TalkParticipant(member_id=None, name=name)
        if key not in seen:
            seen.add(key)
            people.append(participant)
    return people


async def _talk_by_token(session: AsyncSession, token: str) -> Talk | None:
    return await session.scalar(select(Talk).where(Talk.form_token == token))


@dataclass
class ConfirmResult:
    talk: Talk
    confirmed: bool  # False: it was already confirmed (a second tap, two taps at once)


async def confirm_participation(session: AsyncSession, member: Member | None, talk_id: int,
                                now: datetime) -> ConfirmResult:
    """「确认参加」: the participant confirms they took part. Only their own participation (a forged or
    forwarded button finds nothing); a conditional UPDATE makes two taps at once confirm once."""
    participant = None if member is None else await session.scalar(
        select(TalkParticipant).where(TalkParticipant.talk_id == talk_id, TalkParticipant.member_id == member.id))
    if participant is None:
        raise DomainError("talk_not_found")
    result = await session.execute(
        update(TalkParticipant).where(TalkParticipant.id == participant.id, TalkParticipant.confirmed_at.is_(None))
        .values(confirmed_at=now).execution_options(synchronize_session=False))
    talk = await session.get(Talk, talk_id)
    await session.refresh(participant)
    return ConfirmResult(talk, confirmed=result.rowcount == 1)


# --- follow-ups -----------------------------------------------------------------------------------

async def get_follow_up_for(session: AsyncSession, actor: Actor, follow_up_id: int) -> TalkFollowUp:
    """A follow-up the actor may complete: its owner, the talk's author or the branch secretary."""
    item = await session.get(TalkFollowUp, follow_up_id)
    if item is None:
        raise DomainError("talk_follow_up_not_found")
    me = actor.member.id if actor.member else None
    if me not in (item.owner_id, item.talk.author_id) and not (
            actor.is_secretary and actor.branch_id == item.branch_id):
        raise DomainError("talk_follow_up_not_found")
    return item


async def complete_follow_up(session: AsyncSession, actor: Actor, follow_up_id: int, note: str, *, today: date,
                             now: datetime, points_on_time: int = 0) -> TalkFollowUp:
    """Mark a follow-up done with a note on what was done (rule 5.3); the owner earns points when it is
    done by its due date. Done once: a second completion is refused."""
    item = await get_follow_up_for(session, actor, follow_up_id)
    note = clean_text(note)
    if not note:
        raise DomainError("talk_note_required")
    check_length(note)
    done = await session.execute(
        update(TalkFollowUp).where(TalkFollowUp.id == item.id, TalkFollowUp.done_at.is_(None))
        .values(done_at=now, done_note=note, done_by=actor.member.id if actor.member else None)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise DomainError("talk_follow_up_done")
    await session.refresh(item)
    audit.record(session, actor.member, "talk.follow_up_done", "talk_follow_up", item.id, talk=item.talk_id)
    if today <= item.due_date:
        await points.award(session, item.owner_id, REASON_FOLLOW_UP, points_on_time, f"talk-follow-up:{item.id}",
                           at=now)
    return item


async def open_follow_ups(session: AsyncSession, branch_id: int | None = None, owner_id: int | None = None
                          ) -> list[TalkFollowUp]:
    """Follow-ups not done yet, soonest due first (a branch's, an owner's, or all)."""
    query = select(TalkFollowUp).where(TalkFollowUp.done_at.is_(None))
    if branch_id is not None:
        query = query.where(TalkFollowUp.branch_id == branch_id)
    if owner_id is not None:
        query = query.where(TalkFollowUp.owner_id == owner_id)
    return list((await session.scalars(query.order_by(TalkFollowUp.due_date, TalkFollowUp.id))).all())


async def follow_ups_due(session: AsyncSession, today: date) -> list[TalkFollowUp]:
    """Open follow-ups due today or earlier: the reminder job tells each owner once (its delivery key)."""
    query = select(TalkFollowUp).where(TalkFollowUp.done_at.is_(None), TalkFollowUp.due_date <= today)
    return list((await session.scalars(query.order_by(TalkFollowUp.id))).all())


# --- reading talks (privacy) ----------------------------------------------------------------------

class Access(StrEnum):
    FULL = "full"  # notes and 「仅书记可见」 concerns: the author and the branch secretaries
    NOTES = "notes"  # notes without the secretary-only concerns: admins (audited)
    SUMMARY = "summary"  # date, kind, people, follow-ups: a participant


def access_of(actor: Actor, talk: Talk) -> Access | None:
    """What the actor may read of a talk; None: nothing (it does not exist for them)."""
    me = actor.member.id if actor.member else None
    if me == talk.author_id or (actor.is_secretary and actor.branch_id == talk.branch_id):
        return Access.FULL
    if actor.is_admin:
        return Access.NOTES
    if me is not None and any(p.member_id == me for p in talk.participants):
        return Access.SUMMARY
    return None


@dataclass
class TalkView:
    """A talk as one reader may see it: the handlers render only what is here."""

    talk: Talk
    access: Access
    author_name: str
    concerns: list[TalkConcern]  # empty for a participant; without the secretary-only ones for admins

    @property
    def shows_notes(self) -> bool:
        return self.access != Access.SUMMARY


async def view_talk(session: AsyncSession, actor: Actor, talk_id: int) -> TalkView:
    talk = await session.get(Talk, talk_id)
    access = None if talk is None else access_of(actor, talk)
    if access is None:
        raise DomainError("talk_not_found")
    if access == Access.NOTES and (actor.member is None or actor.member.id != talk.author_id):
        audit.record(session, actor.member, "talk.view_notes", "talk", talk.id, branch=talk.branch_id)
    concerns = [] if access == Access.SUMMARY else [
        c for c in talk.concerns if access == Access.FULL or not c.secretary_only]
    author = await session.get(Member, talk.author_id)
    return TalkView(talk, access, author.real_name if author else "", concerns)


async def talks_of_member(session: AsyncSession, member: Member, limit: int = 10) -> list[Talk]:
    """Talks a member wrote or took part in, newest first (their own /talks)."""
    joined = select(TalkParticipant.talk_id).where(TalkParticipant.member_id == member.id)
    query = select(Talk).where((Talk.author_id == member.id) | Talk.id.in_(joined))
    return list((await session.scalars(query.order_by(Talk.held_on.desc(), Talk.id.desc()).limit(limit))).all())


async def recent_talks(session: AsyncSession, branch_id: int, limit: int = 5) -> list[Talk]:
    query = select(Talk).where(Talk.branch_id == branch_id).order_by(Talk.held_on.desc(), Talk.id.desc())
    return list((await session.scalars(query.limit(limit))).all())


async def branch_members(session: AsyncSession, branch_id: int, search: str | None = None) -> list[Member]:
    """Active members of a branch by name (the form's people list), optionally those whose name contains
    `search`."""
    query = select(Member).where(Member.branch_id == branch_id, Member.active.is_(True), Member.role != Role.ADMIN)
    needle = clean_text(search)
    if needle:
        query = query.where(Member.real_name.contains(needle, autoescape=True))
    return list((await session.scalars(query.order_by(Member.real_name, Member.id))).all())


# --- periods --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive
    label: str  # "2026Q4"

    def __contains__(self, day: date) -> bool:
        return self.start <= day < self.end


def quarter_of(day: date) -> Period:
    number = (day.month - 1) // 3 + 1
    start = date(day.year, 3 * number - 2, 1)
    end = date(day.year + 1, 1, 1) if number == 4 else date(day.year, 3 * number + 1, 1)
    return Period(start, end, f"{day.year}Q{number}")


def parse_quarter(text: str) -> Period:
    """'2026Q4' (also 2026q4, 2026-Q4) → that quarter; DomainError('talk_bad_quarter') otherwise."""
    match = re.fullmatch(r"(\d{4})-?[Qq]([1-4])", (text or "").strip())
    if not match:
        raise DomainError("talk_bad_quarter", value=text)
    return quarter_of(date(int(match.group(1)), 3 * int(match.group(2)) - 2, 1))


# --- who took part in what ------------------------------------------------------------------------

@dataclass(frozen=True)
class Involvement:
    """One member's part in one talk."""

    talk_id: int
    held_on: date
    kind: str
    authored: bool
    confirmed: bool  # the author of a talk, or a participant who pressed 「确认参加」
    with_secretary: bool  # a secretary of the branch was the other side (rule 2.1)


async def _involvements(session: AsyncSession, branch_id: int, start: date, end: date
                        ) -> dict[int, list[Involvement]]:
    """member id → their talks in [start, end), from the branch's talks (a handful of queries per branch)."""
    talks = (await session.scalars(
        select(Talk).where(Talk.branch_id == branch_id, Talk.held_on >= start, Talk.held_on < end))).all()
    secretaries = set((await session.scalars(select(Member.id).where(
        Member.branch_id == branch_id, Member.role == Role.SECRETARY))).all())
    found: dict[int, list[Involvement]] = defaultdict(list)
    for talk in talks:
        sides = {talk.author_id: True} | {p.member_id: p.confirmed_at is not None
                                           for p in talk.participants if p.member_id is not None}
        for member_id, confirmed in sides.items():
            others = set(sides) - {member_id}
            found[member_id].append(Involvement(talk.id, talk.held_on, talk.kind, member_id == talk.author_id,
                                                confirmed, bool(others & secretaries)))
    return found


# --- coverage -------------------------------------------------------------------------------------

@dataclass
class CoverageLine:
    member: Member
    talks: list[Involvement]

    @property
    def covered(self) -> bool:
        return bool(self.talks)

    @property
    def confirmed(self) -> bool:
        return any(t.confirmed for t in self.talks)


@dataclass
class Coverage:
    branch_id: int
    period: Period
    lines: list[CoverageLine]
    talks_held: int
    talks_confirmed: int  # every member participant confirmed

    @property
    def eligible(self) -> int:
        return len(self.lines)

    @property
    def covered(self) -> int:
        return sum(line.covered for line in self.lines)

    @property
    def confirmed(self) -> int:
        return sum(line.confirmed for line in self.lines)

    @property
    def party(self) -> tuple[int, int]:
        """(party members with a talk, party members): rule 2.3 asks one talk per quarter of each."""
        party = [line for line in self.lines if line.member.is_party_member]
        return sum(line.covered for line in party), len(party)


async def coverage(session: AsyncSession, branch_id: int, period: Period, tz: ZoneInfo) -> Coverage:
    """Who has had which talks in the period: every active non-admin member who had joined by its end."""
    found = await _involvements(session, branch_id, period.start, period.end)
    members = [m for m in await branch_members(session, branch_id) if local_date(m.joined_at, tz) < period.end]
    talks = (await session.scalars(select(Talk).where(
        Talk.branch_id == branch_id, Talk.held_on >= period.start, Talk.held_on < period.end))).all()
    confirmed = sum(all(p.confirmed_at for p in t.participants if p.member_id) for t in talks)
    lines = [CoverageLine(m, sorted(found.get(m.id, []), key=lambda i: i.held_on)) for m in members]
    return Coverage(branch_id, period, lines, len(talks), confirmed)


# --- who needs a talk now -------------------------------------------------------------------------

@dataclass(frozen=True)
class DueRules:
    """Thresholds of 「待谈」 (settings talk_*; knowledge/谈心谈话制度.md section 3)."""

    new_hire_days: int = 30
    event_days: int = 30
    missed_reports: int = 2
    report_months: int = 3
    missed_daily: int = 5
    daily_workdays: int = 10

    @classmethod
    def from_settings(cls, settings: Any) -> DueRules:
        return cls(settings.talk_new_hire_days, settings.talk_event_days, settings.talk_missed_reports,
                   settings.talk_report_months, settings.talk_missed_daily, settings.talk_daily_workdays)


@dataclass(frozen=True)
class Reason:
    code: str  # new_hire, violation, report_returned, missed_reports, missed_daily, no_talk_quarter, no_secretary_talk
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = TalkKind.HEART  # the kind of talk it calls for (prefills /talk)


@dataclass
class DueMember:
    member: Member
    reasons: list[Reason]

    @property
    def suggested_kind(self) -> str:
        return self.reasons[0].kind


def _month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _months_before(today: date, count: int) -> list[tuple[str, date]]:
    """The `count` months before today's month: ("YYYY-MM", that month's last day), newest first."""
    months, cursor = [], today.replace(day=1)
    for _ in range(count):
        last = cursor - timedelta(days=1)
        months.append((_month_label(last), last))
        cursor = last.replace(day=1)
    return months


async def who_needs_a_talk(session: AsyncSession, branch_id: int, today: date, tz: ZoneInfo,
                           rules: DueRules = DueRules()) -> list[DueMember]:
    """Members of the branch a talk is due with now, each with the reasons (most urgent first). Event reasons
    (new hire, violation, returned report, missed reports or daily items) end with a talk held after the event."""
    since = min(date(today.year, 1, 1), today - timedelta(days=max(rules.event_days, rules.new_hire_days, 400)))
    involved = await _involvements(session, branch_id, since, today + timedelta(days=1))
    members = await branch_members(session, branch_id)
    ids = [m.id for m in members]
    reports = (await session.scalars(select(Report).where(Report.member_id.in_(ids)))).all() if ids else []
    by_member: dict[int, list[Report]] = defaultdict(list)
    for report in reports:
        by_member[report.member_id].append(report)
    acks = await _recent_acks(session, ids, today, rules.daily_workdays)
    quarter = quarter_of(today)
    due = []
    for member in members:
        talks = involved.get(member.id, [])
        reasons = _event_reasons(member, talks, by_member[member.id], acks.get(member.id, []), today, tz, rules)
        reasons += _routine_reasons(member, talks, today, quarter)
        if reasons:
            due.append(DueMember(member, reasons))
    return due


def _talked_since(talks: list[Involvement], day: date, kind: str | None = None) -> bool:
    return any(t.held_on >= day and (kind is None or t.kind == kind) for t in talks)


def _event_reasons(member: Member, talks: list[Involvement], reports: list[Report], acks: list[DailyAck],
                   today: date, tz: ZoneInfo, rules: DueRules) -> list[Reason]:
    reasons = []
    joined = local_date(member.joined_at, tz)
    if (today - joined).days <= rules.new_hire_days and not _talked_since(talks, joined, TalkKind.ONBOARDING):
        reasons.append(Reason("new_hire", {"date": joined.isoformat()}, TalkKind.ONBOARDING))
    recent = today - timedelta(days=rules.event_days)
    for report in sorted(reports, key=lambda r: r.month, reverse=True):
        filed = local_date(report.first_submitted_at, tz)
        if report.violations and filed >= recent and not _talked_since(talks, filed):
            reasons.append(Reason("violation", {"month": report.month}, TalkKind.VIOLATION))
        returned = local_date(report.reviewed_at, tz) if report.reviewed_at else None
        if report.status == ReportStatus.RETURNED and returned and returned >= recent and not _talked_since(talks, returned):
            reasons.append(Reason("report_returned", {"month": report.month}))
    filed_months = {r.month for r in reports if r.status in (ReportStatus.SUBMITTED, ReportStatus.APPROVED)}
    missed = [(month, last) for month, last in _months_before(today, rules.report_months)
              if last >= joined and month not in filed_months]
    if len(missed) >= rules.missed_reports and not _talked_since(talks, missed[0][1] + timedelta(days=1)):
        reasons.append(Reason("missed_reports", {"count": len(missed), "months": rules.report_months}))
    unacked = [ack.day for ack in acks if ack.acked_at is None]
    if len(unacked) >= rules.missed_daily and not _talked_since(talks, max(unacked)):
        reasons.append(Reason("missed_daily", {"count": len(unacked), "days": len(acks)}))
    return reasons


def _routine_reasons(member: Member, talks: list[Involvement], today: date, quarter: Period) -> list[Reason]:
    reasons = []
    if member.is_party_member and not any(t.held_on in quarter for t in talks):
        reasons.append(Reason("no_talk_quarter", {"quarter": quarter.label}))
    year_start = date(today.year, 1, 1)
    if ((member.is_party_member or member.is_committee) and member.role != Role.SECRETARY
            and not any(t.with_secretary and t.held_on >= year_start for t in talks)):
        reasons.append(Reason("no_secretary_talk", {"year": today.year}))
    return reasons


async def _recent_acks(session: AsyncSession, member_ids: list[int], today: date, workdays: int
                       ) -> dict[int, list[DailyAck]]:
    """Each member's last `workdays` daily items sent before today (the days an item reached them)."""
    if not member_ids:
        return {}
    rows = (await session.scalars(select(DailyAck).where(
        DailyAck.member_id.in_(member_ids), DailyAck.day < today, DailyAck.day >= today - timedelta(days=3 * workdays + 14),
    ).order_by(DailyAck.member_id, DailyAck.day.desc()))).all()
    found: dict[int, list[DailyAck]] = defaultdict(list)
    for ack in rows:
        if len(found[ack.member_id]) < workdays:
            found[ack.member_id].append(ack)
    return found


# --- numbers for the digests and the CLI ----------------------------------------------------------

@dataclass
class TalkNumbers:
    """A branch's talk figures for a period, for the secretaries' digest (the lead wires the section).

    talks_held: talks dated in the period; talks_confirmed: of those, every member participant confirmed;
    covered/eligible: members with at least one talk in the period / active non-admin members;
    party_covered/party_eligible: the same for party members (rule 2.3);
    due: who needs a talk as of `today` with reasons (names: someone must act on them);
    open_follow_ups / overdue_follow_ups: follow-ups not done, and of those past their due date, as of `today`."""

    period: Period
    talks_held: int
    talks_confirmed: int
    covered: int
    eligible: int
    party_covered: int
    party_eligible: int
    due: list[DueMember]
    open_follow_ups: int
    overdue_follow_ups: int


async def talks_held(session: AsyncSession, branch_id: int, period: Period) -> list[Talk]:
    """The branch's talks dated in the period, oldest first (CLI listing, digest Excel rows)."""
    query = select(Talk).where(Talk.branch_id == branch_id, Talk.held_on >= period.start, Talk.held_on < period.end)
    return list((await session.scalars(query.order_by(Talk.held_on, Talk.id))).all())


async def branch_numbers(session: AsyncSession, branch_id: int, period: Period, today: date, tz: ZoneInfo,
                         rules: DueRules = DueRules()) -> TalkNumbers:
    """Everything a digest needs about talks for one branch and period."""
    cover = await coverage(session, branch_id, period, tz)
    follow_ups = await open_follow_ups(session, branch_id)
    party_covered, party_eligible = cover.party
    return TalkNumbers(
        period=period, talks_held=cover.talks_held, talks_confirmed=cover.talks_confirmed, covered=cover.covered,
        eligible=cover.eligible, party_covered=party_covered, party_eligible=party_eligible,
        due=await who_needs_a_talk(session, branch_id, today, tz, rules),
        open_follow_ups=len(follow_ups), overdue_follow_ups=sum(f.due_date < today for f in follow_ups),
    )


def period_of(start: date, end: date, label: str) -> Period:
    """Any period (a digest's week or month) as the talk functions take it."""
    return Period(start, end, label)

"""四不伤害 monthly reports: submit (idempotent), review, visibility, corrective actions, points.

No aiogram here: handlers and scheduler jobs call these with an AsyncSession and plain values.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.services import audit
from bot.services.errors import DomainError
from bot.services.item_rules import ItemRule, store_rule
from bot.services.membership import Actor
from storage.models import Member, Role, utcnow
from storage.models.reports import (
    SECTIONS,
    ActionStatus,
    CorrectiveAction,
    Hazard,
    Report,
    ReportPhoto,
    ReportStatus,
    ReportStatusChange,
    Urgency,
    Violation,
)

MAX_ANSWER = 1000  # characters per free-text answer: long enough for an example, short enough to read on a phone
MAX_HAZARD_PHOTOS = 3
MIN_SECTIONS = 2  # of the four no-harms, at least this many must be filled
EARLY_DAYS = 5  # during the first days of a month the previous month can still be reported
PAGE_SIZE = 5


# --- plain input objects (what the form collects) -----------------------------------------------

@dataclass
class PhotoInput:
    file_id: str
    file_unique_id: str
    local_path: str | None = None


@dataclass
class HazardInput:
    description: str
    id: int | None = None  # a hazard already stored (a returned report being edited): updated, never replaced
    place: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    urgency: str = Urgency.NORMAL
    photos: list[PhotoInput] = field(default_factory=list)
    rule: ItemRule | None = None  # the rule it breaks, as looked up and kept by the member


@dataclass
class ViolationInput:
    description: str
    photos: list[PhotoInput] = field(default_factory=list)
    rule: ItemRule | None = None  # the rule it breaks, as looked up and kept by the member


@dataclass
class ReportInput:
    month: str
    summary: str
    sections: dict[str, tuple[str | None, str | None]]  # section -> (what I did, example)
    hazards: list[HazardInput] = field(default_factory=list)
    violations: list[ViolationInput] = field(default_factory=list)
    suggestions: str | None = None

    @classmethod
    def from_form(cls, data: dict[str, Any]) -> "ReportInput":
        """Build from the FSM form data (JSON-friendly dicts, see handlers/reports.py)."""
        return cls(
            month=data["month"],
            summary=data.get("summary") or "",
            sections={name: (data.get(f"{name}_did"), data.get(f"{name}_example")) for name in SECTIONS},
            hazards=[
                HazardInput(
                    description=h["description"], id=h.get("id"), place=h.get("place"), latitude=h.get("latitude"),
                    longitude=h.get("longitude"), urgency=h.get("urgency") or Urgency.NORMAL,
                    photos=[PhotoInput(**p) for p in h.get("photos", [])],
                    rule=ItemRule.from_dict(h.get("rule")),
                )
                for h in data.get("hazards", [])
            ],
            violations=[
                ViolationInput(description=v["description"], photos=[PhotoInput(**p) for p in v.get("photos", [])],
                               rule=ItemRule.from_dict(v.get("rule")))
                for v in data.get("violations", [])
            ],
            suggestions=data.get("suggestions"),
        )


def report_to_form(report: Report, with_action: set[int] = frozenset()) -> dict[str, Any]:
    """The reverse of ReportInput.from_form: a returned report loaded back into the form for editing.
    `with_action`: ids of its hazards that have a corrective action (the form will not let those go)."""
    data: dict[str, Any] = {"month": report.month, "summary": report.summary, "suggestions": report.suggestions}
    for name in SECTIONS:
        data[f"{name}_did"] = getattr(report, f"{name}_did")
        data[f"{name}_example"] = getattr(report, f"{name}_example")
    data["hazards"] = [
        {
            "id": h.id, "description": h.description, "place": h.place, "latitude": h.latitude,
            "longitude": h.longitude, "urgency": h.urgency, "photos": [_photo_dict(p) for p in h.photos],
            "has_action": h.id in with_action,
            "rule": _rule_dict(h),
        }
        for h in report.hazards
    ]
    data["violations"] = [
        {"description": v.description, "photos": [_photo_dict(p) for p in v.photos], "rule": _rule_dict(v)}
        for v in report.violations
    ]
    return data


def _rule_dict(row: Hazard | Violation) -> dict[str, str] | None:
    rule = ItemRule.of_row(row)
    return rule.as_dict() if rule else None


def _photo_dict(photo: ReportPhoto) -> dict[str, Any]:
    return {"file_id": photo.file_id, "file_unique_id": photo.file_unique_id, "local_path": photo.local_path}


# --- months and deadlines -------------------------------------------------------------------------

def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_choices(today: date) -> list[str]:
    """The months a member may report now, the one to preselect first: early in a month the previous month
    (whose report is usually the one still missing) comes before the current one."""
    current = month_of(today)
    if today.day <= EARLY_DAYS:
        previous = month_of(today.replace(day=1) - timedelta(days=1))
        return [previous, current]
    return [current]


def deadline(month: str, deadline_day: int = 0) -> date:
    """The due date of a month's report: `deadline_day` of that month, or its last day when 0 (or too large)."""
    year, number = (int(part) for part in month.split("-"))
    last = calendar.monthrange(year, number)[1]
    return date(year, number, deadline_day if 0 < deadline_day <= last else last)


def check_input(data: ReportInput) -> None:
    """The form's rules again, on the server side: a forged or stale form cannot store nonsense."""
    if not data.summary.strip():
        raise DomainError("report_summary_missing")
    filled = sum(1 for did, _ in data.sections.values() if did and did.strip())
    if filled < MIN_SECTIONS:
        raise DomainError("report_sections_missing", min=MIN_SECTIONS)
    texts = [data.summary, data.suggestions or ""] + [t or "" for pair in data.sections.values() for t in pair]
    texts += [h.description for h in data.hazards] + [h.place or "" for h in data.hazards]
    texts += [v.description for v in data.violations]
    if any(len(text) > MAX_ANSWER for text in texts):
        raise DomainError("report_answer_too_long", max=MAX_ANSWER)
    for hazard in data.hazards:
        if len(hazard.photos) > MAX_HAZARD_PHOTOS:
            raise DomainError("report_too_many_photos", max=MAX_HAZARD_PHOTOS)
        if hazard.urgency not in tuple(Urgency):
            raise DomainError("report_bad_urgency")


# --- submit ---------------------------------------------------------------------------------------

@dataclass
class SubmitResult:
    report: Report
    created: bool = False  # a new record
    resubmitted: bool = False  # a returned report submitted again (same record, version bumped)
    duplicate: bool = False  # this form was already submitted: nothing changed

    @property
    def changed(self) -> bool:
        return self.created or self.resubmitted


async def submit(
    session: AsyncSession, member: Member, data: ReportInput, *, form_token: str, now: datetime | None = None
) -> SubmitResult:
    """File the member's report for `data.month`.

    One record per member and month: a repeated confirm of the same form (`form_token`) returns the
    stored report unchanged; a returned report is updated in place and its version bumped; a report
    already pending or approved cannot be filed again."""
    check_input(data)
    now = now or utcnow()
    existing = await _report_of(session, member.id, data.month)
    if existing is None:
        report = Report(
            member_id=member.id, branch_id=member.branch_id, month=data.month, status=ReportStatus.SUBMITTED,
            version=1, first_submitted_at=now, submitted_at=now, form_token=form_token, hazards=[], violations=[],
        )
        _fill(report, data)
        report.hazards = [_hazard(report, index, item) for index, item in enumerate(data.hazards)]
        report.violations = [_violation(report, index, item) for index, item in enumerate(data.violations)]
        try:
            async with session.begin_nested():  # a concurrent confirm may insert first: the unique key decides
                session.add(report)
                await session.flush()
        except IntegrityError:
            existing = await _report_of(session, member.id, data.month)
            if existing is not None and existing.form_token == form_token:
                return SubmitResult(existing, duplicate=True)
            raise DomainError("report_exists", month=data.month) from None
        _history(session, report, member, None, ReportStatus.SUBMITTED, now=now)
        audit.record(session, member, "report.submit", "report", report.id, month=data.month)
        return SubmitResult(report, created=True)
    if existing.form_token == form_token:
        return SubmitResult(existing, duplicate=True)
    if existing.status == ReportStatus.APPROVED:
        raise DomainError("report_already_approved", month=data.month)
    if existing.status != ReportStatus.RETURNED:
        raise DomainError("report_exists", month=data.month)
    await _resubmit(session, existing, member, data, form_token, now)
    return SubmitResult(existing, resubmitted=True)


async def _resubmit(
    session: AsyncSession, report: Report, member: Member, data: ReportInput, form_token: str, now: datetime
) -> None:
    previous = report.status
    _fill(report, data)
    report.version += 1
    report.status = ReportStatus.SUBMITTED
    report.branch_id = member.branch_id  # a member moved mid-month reports to the branch they are in now
    report.submitted_at = now
    report.form_token = form_token
    # Hazards keep their identity across edits (matched by id, not by position): a corrective action stays
    # with the hazard it was made for, and a hazard that has one cannot be dropped (the secretary set it up).
    stored = {hazard.id: hazard for hazard in report.hazards}
    kept = {item.id for item in data.hazards if item.id in stored}
    guarded = await hazards_with_action(session, set(stored) - kept)
    if guarded:
        raise DomainError("hazard_has_action", hazard=stored[min(guarded)].description[:40])
    for gone in set(stored) - kept:
        report.hazards.remove(stored[gone])
    for index, item in enumerate(data.hazards):
        hazard = stored.get(item.id) if item.id is not None else None
        if hazard is None:
            report.hazards.append(_hazard(report, index, item))
            continue
        hazard.position = index
        hazard.description, hazard.place, hazard.urgency = item.description, item.place, item.urgency
        hazard.latitude, hazard.longitude = item.latitude, item.longitude
        hazard.photos = [_photo(report, p) for p in item.photos]
        store_rule(hazard, item.rule)
    report.violations.clear()
    await session.flush()
    for index, item in enumerate(data.violations):
        report.violations.append(_violation(report, index, item))
    await session.flush()
    _history(session, report, member, previous, ReportStatus.SUBMITTED, now=now)
    audit.record(session, member, "report.resubmit", "report", report.id, version=report.version)


async def hazards_with_action(session: AsyncSession, hazard_ids: set[int]) -> set[int]:
    """Which of these hazards have a corrective action."""
    if not hazard_ids:
        return set()
    rows = await session.scalars(select(CorrectiveAction.hazard_id).where(CorrectiveAction.hazard_id.in_(hazard_ids)))
    return set(rows.all())


def _fill(report: Report, data: ReportInput) -> None:
    report.summary = data.summary.strip()
    report.suggestions = (data.suggestions or "").strip() or None
    for name in SECTIONS:
        did, example = data.sections.get(name, (None, None))
        setattr(report, f"{name}_did", (did or "").strip() or None)
        setattr(report, f"{name}_example", (example or "").strip() or None)


def _photo(report: Report, photo: PhotoInput) -> ReportPhoto:
    return ReportPhoto(
        report=report, file_id=photo.file_id, file_unique_id=photo.file_unique_id, local_path=photo.local_path
    )


def _hazard(report: Report, index: int, item: HazardInput) -> Hazard:
    hazard = Hazard(
        position=index, description=item.description, place=item.place,
        latitude=item.latitude, longitude=item.longitude, urgency=item.urgency,
        photos=[_photo(report, p) for p in item.photos],
    )
    store_rule(hazard, item.rule)
    return hazard


def _violation(report: Report, index: int, item: ViolationInput) -> Violation:
    violation = Violation(
        position=index, description=item.description,
        photos=[_photo(report, p) for p in item.photos],
    )
    store_rule(violation, item.rule)
    return violation


def _history(
    session: AsyncSession, report: Report, actor: Member | None, old: str | None, new: str,
    *, comment: str | None = None, now: datetime | None = None,
) -> None:
    session.add(ReportStatusChange(
        report_id=report.id, actor_id=actor.id if actor else None,
        actor_label=actor.real_name if actor else "system", from_status=old, to_status=new,
        version=report.version, comment=comment, at=now or utcnow(),
    ))


async def _report_of(session: AsyncSession, member_id: int, month: str) -> Report | None:
    return await session.scalar(
        select(Report).where(Report.member_id == member_id, Report.month == month).execution_options(populate_existing=True)
    )


async def report_for_month(session: AsyncSession, member: Member, month: str) -> Report | None:
    return await _report_of(session, member.id, month)


# --- visibility -----------------------------------------------------------------------------------

async def get_report_for(session: AsyncSession, actor: Actor, report_id: int) -> Report:
    """A report the actor may see: their own, or (staff) one of their branch. Absent and foreign look alike."""
    report = await session.get(Report, report_id)
    if report is None or not _may_see(actor, report):
        raise DomainError("report_not_found")
    return report


def _may_see(actor: Actor, report: Report) -> bool:
    own = actor.member is not None and report.member_id == actor.member.id
    return own or actor.can_manage_branch(report.branch_id)


async def pending_reports(
    session: AsyncSession, actor: Actor, page: int = 0, per_page: int = PAGE_SIZE
) -> tuple[list[Report], int]:
    """Submitted reports awaiting review in the actor's branch (admins: all branches), oldest first."""
    if not (actor.is_admin or actor.is_secretary):
        raise DomainError("forbidden")
    query = select(Report).where(Report.status == ReportStatus.SUBMITTED)
    if actor.member is not None:
        query = query.where(Report.member_id != actor.member.id)  # someone else reviews it
    if not actor.is_admin:
        query = query.where(Report.branch_id == actor.branch_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(Report.submitted_at, Report.id).offset(max(page, 0) * per_page).limit(per_page)
    )
    return list(rows.all()), total


async def members_by_id(session: AsyncSession, ids: set[int]) -> dict[int, Member]:
    if not ids:
        return {}
    return {m.id: m for m in (await session.scalars(select(Member).where(Member.id.in_(ids)))).all()}


# --- review ---------------------------------------------------------------------------------------

@dataclass
class ReviewResult:
    report: Report
    changed: bool  # False when the same decision was already recorded (a button pressed twice)


async def review(
    session: AsyncSession, actor: Actor, report_id: int, *, approve: bool, comment: str | None = None,
    version: int | None = None, points_on_time: int = 0, points_hazard: int = 0, deadline_day: int = 0,
    tz_offset: timedelta | None = None, now: datetime | None = None,
) -> ReviewResult:
    """Approve or return a submitted report. Only staff of the report's branch (or an admin) may; others get
    the same 'not found' as for a missing report; nobody reviews their own report. `version` guards against
    deciding on an outdated copy.

    Two reviewers may decide at the same moment (approve in one chat, return in another). The decision is
    one conditional UPDATE (still submitted, same version): the database lets exactly one through, on SQLite
    and PostgreSQL alike (`with_for_update` does nothing on SQLite); the other gets 'report_decided', and
    history, audit and points are written only by the winner."""
    report = await session.get(Report, report_id, populate_existing=True)
    if report is None or not actor.can_manage_branch(report.branch_id):
        raise DomainError("report_not_found")
    target = ReportStatus.APPROVED if approve else ReportStatus.RETURNED
    if version is not None and version != report.version:
        raise DomainError("report_changed")
    if report.status == target:
        return ReviewResult(report, changed=False)
    if report.status != ReportStatus.SUBMITTED:
        raise DomainError("report_not_pending")
    if actor.member is not None and report.member_id == actor.member.id:
        raise DomainError("report_own")
    comment = (comment or "").strip() or None
    if not approve and not comment:
        raise DomainError("report_comment_required")
    if comment and len(comment) > MAX_ANSWER:
        raise DomainError("report_answer_too_long", max=MAX_ANSWER)
    now = now or utcnow()
    decided = await session.execute(
        update(Report)
        .where(Report.id == report.id, Report.version == report.version, Report.status == ReportStatus.SUBMITTED)
        .values(status=target, reviewed_at=now, reviewed_by=actor.member.id if actor.member else None,
                review_comment=comment)
        .execution_options(synchronize_session=False)
    )
    # Read back what the database now holds (ours, or the other reviewer's decision); columns only, so the
    # loaded hazards and photos stay as they are.
    await session.refresh(report, ["status", "version", "reviewed_at", "reviewed_by", "review_comment"])
    if decided.rowcount != 1:
        if report.status == target:
            return ReviewResult(report, changed=False)
        raise DomainError("report_decided", status=report.status)
    _history(session, report, actor.member, ReportStatus.SUBMITTED, target, comment=comment, now=now)
    audit.record(session, actor.member, "report.approve" if approve else "report.return", "report", report.id,
                 version=report.version)
    if approve:
        await award_points(session, report, points_on_time=points_on_time, points_hazard=points_hazard,
                           deadline_day=deadline_day, tz_offset=tz_offset)
    await session.flush()
    return ReviewResult(report, changed=True)


async def award_points(
    session: AsyncSession, report: Report, *, points_on_time: int, points_hazard: int, deadline_day: int = 0,
    tz_offset: timedelta | None = None,
) -> int:
    """Points for an approved report: on time (first submission by the deadline, local date) and per hazard.

    Awarded at approval, not at submission, so a report returned as empty of substance earns nothing until
    it is fixed; the ledger's unique (member, reason, ref) makes a second call a no-op."""
    from bot.services import points  # the shared ledger (daily-items capability)

    awarded = 0
    local_day = (report.first_submitted_at + (tz_offset or timedelta(0))).date()
    if points_on_time and local_day <= deadline(report.month, deadline_day):
        if await points.award(session, report.member_id, "report_on_time", points_on_time, f"report:{report.id}",
                              at=report.reviewed_at):  # dated by the bot's clock, like the approval
            awarded += points_on_time
    if points_hazard:
        for hazard in report.hazards:
            if await points.award(session, report.member_id, "hazard", points_hazard, f"hazard:{hazard.id}",
                                  at=report.reviewed_at):
                awarded += points_hazard
    return awarded


# --- reminders ------------------------------------------------------------------------------------

async def members_without_report(session: AsyncSession, month: str) -> list[Member]:
    """Active members of a branch whose report for `month` is missing or was returned (they must act)."""
    done = select(Report.member_id).where(
        Report.month == month, Report.status.in_((ReportStatus.SUBMITTED, ReportStatus.APPROVED))
    )
    rows = await session.scalars(
        select(Member).where(
            Member.active.is_(True), Member.branch_id.is_not(None), Member.role != Role.ADMIN,
            Member.id.not_in(done),
        ).order_by(Member.id)
    )
    return list(rows.all())


async def branch_secretaries(session: AsyncSession, branch_id: int | None) -> list[Member]:
    if branch_id is None:
        return []
    rows = await session.scalars(
        select(Member).where(Member.branch_id == branch_id, Member.role == Role.SECRETARY, Member.active.is_(True))
    )
    return list(rows.all())


async def reviewers_for(session: AsyncSession, branch_id: int | None, author_id: int | None = None) -> list[Member]:
    """Who is told of a new report: the branch's secretaries, or the admins while a branch has none
    (a report must never wait unseen). The author never reviews their own report: a secretary's report
    goes to the branch's other secretaries, else to the admins."""
    secretaries = [m for m in await branch_secretaries(session, branch_id) if m.id != author_id]
    if secretaries:
        return secretaries
    admins = await session.scalars(select(Member).where(Member.role == Role.ADMIN, Member.active.is_(True)))
    return [m for m in admins.all() if m.id != author_id]


# --- corrective actions ---------------------------------------------------------------------------

async def hazards_without_action(session: AsyncSession, actor: Actor, limit: int = 20) -> list[Hazard]:
    """Hazards in the branch's submitted or approved reports that have no corrective action yet."""
    if not (actor.is_admin or actor.is_secretary):
        raise DomainError("forbidden")
    query = (
        select(Hazard).join(Report, Hazard.report_id == Report.id)
        .outerjoin(CorrectiveAction, CorrectiveAction.hazard_id == Hazard.id)
        .where(CorrectiveAction.id.is_(None), Report.status.in_((ReportStatus.SUBMITTED, ReportStatus.APPROVED)))
        .options(selectinload(Hazard.report))
        .order_by(Hazard.id).limit(limit)
    )
    if not actor.is_admin:
        query = query.where(Report.branch_id == actor.branch_id)
    return list((await session.scalars(query)).all())


async def get_hazard_for_staff(session: AsyncSession, actor: Actor, hazard_id: int) -> Hazard:
    hazard = await session.get(Hazard, hazard_id)
    if hazard is None:
        raise DomainError("hazard_not_found")
    report = await session.get(Report, hazard.report_id)
    if report is None or not actor.can_manage_branch(report.branch_id):
        raise DomainError("hazard_not_found")
    return hazard


async def create_action(
    session: AsyncSession, actor: Actor, hazard_id: int, owner_id: int, due: date, *, today: date | None = None
) -> tuple[CorrectiveAction, bool]:
    """Turn a hazard into a corrective action (one per hazard). Returns (action, created)."""
    hazard = await get_hazard_for_staff(session, actor, hazard_id)
    report = await session.get(Report, hazard.report_id)
    existing = await session.scalar(select(CorrectiveAction).where(CorrectiveAction.hazard_id == hazard.id))
    if existing is not None:
        return existing, False
    owner = await session.get(Member, owner_id)
    if owner is None or not owner.active or owner.branch_id != report.branch_id:
        raise DomainError("member_not_found")
    if due < (today or utcnow().date()):
        raise DomainError("action_due_in_past")
    action = CorrectiveAction(
        hazard_id=hazard.id, branch_id=report.branch_id, owner_id=owner.id,
        created_by=actor.member.id if actor.member else None, due_date=due,
    )
    session.add(action)
    await session.flush()
    audit.record(session, actor.member, "action.create", "corrective_action", action.id,
                 hazard=hazard.id, owner=owner.id, due=due.isoformat())
    return action, True


async def get_action_for(session: AsyncSession, actor: Actor, action_id: int) -> CorrectiveAction:
    action = await session.get(CorrectiveAction, action_id)
    own = action is not None and actor.member is not None and action.owner_id == actor.member.id
    if action is None or not (own or actor.can_manage_branch(action.branch_id)):
        raise DomainError("action_not_found")
    return action


async def complete_action(
    session: AsyncSession, actor: Actor, action_id: int, note: str, photo: PhotoInput | None = None,
    now: datetime | None = None,
) -> tuple[CorrectiveAction, bool]:
    """The owner (or branch staff) marks an action done with a note and optionally a photo. Returns (action, changed)."""
    action = await get_action_for(session, actor, action_id)
    if action.status != ActionStatus.OPEN:
        return action, False
    note = (note or "").strip()
    if not note:
        raise DomainError("action_note_required")
    if len(note) > MAX_ANSWER:
        raise DomainError("report_answer_too_long", max=MAX_ANSWER)
    action.status = ActionStatus.DONE
    action.done_note = note
    action.done_at = now or utcnow()
    if photo is not None:
        action.done_photo_file_id = photo.file_id
        action.done_photo_path = photo.local_path
    audit.record(session, actor.member, "action.done", "corrective_action", action.id)
    await session.flush()
    return action, True


async def check_action(session: AsyncSession, actor: Actor, action_id: int, *, accept: bool,
                       now: datetime | None = None) -> tuple[CorrectiveAction, bool]:
    """Branch staff check an action its owner marked done: accept it (verified) or reopen it (open again,
    the owner's note kept in the audit log). Returns (action, changed)."""
    action = await session.get(CorrectiveAction, action_id)
    if action is None or not actor.can_manage_branch(action.branch_id):
        raise DomainError("action_not_found")
    if action.status != ActionStatus.DONE:
        return action, False
    if accept:
        action.status = ActionStatus.VERIFIED
    else:
        audit.record(session, actor.member, "action.reopen", "corrective_action", action.id, note=action.done_note)
        action.status, action.done_at, action.done_note = ActionStatus.OPEN, None, None
        action.done_photo_file_id = action.done_photo_path = None
    if accept:
        audit.record(session, actor.member, "action.verify", "corrective_action", action.id)
    await session.flush()
    return action, True


async def actions_to_check(session: AsyncSession, actor: Actor) -> list[CorrectiveAction]:
    """Actions marked done and not yet checked, in the branches the actor manages."""
    if not (actor.is_admin or actor.is_secretary):
        return []
    query = select(CorrectiveAction).where(CorrectiveAction.status == ActionStatus.DONE)
    if not actor.is_admin:
        query = query.where(CorrectiveAction.branch_id == actor.branch_id)
    return list((await session.scalars(query.order_by(CorrectiveAction.done_at))).all())


async def open_actions(session: AsyncSession, actor: Actor) -> list[CorrectiveAction]:
    """Staff: the branch's open actions (admins: all); members: their own open actions. Due date first."""
    query = select(CorrectiveAction).where(CorrectiveAction.status == ActionStatus.OPEN)
    if actor.is_admin:
        pass
    elif actor.is_secretary:
        query = query.where(CorrectiveAction.branch_id == actor.branch_id)
    elif actor.member is not None:
        query = query.where(CorrectiveAction.owner_id == actor.member.id)
    else:
        return []
    return list((await session.scalars(query.order_by(CorrectiveAction.due_date, CorrectiveAction.id))).all())


async def overdue_actions(session: AsyncSession, today: date, branch_id: int | None = None) -> list[CorrectiveAction]:
    """Open actions past their due date (for /actions and the secretaries' digests)."""
    query = select(CorrectiveAction).where(
        CorrectiveAction.status == ActionStatus.OPEN, CorrectiveAction.due_date < today
    )
    if branch_id is not None:
        query = query.where(CorrectiveAction.branch_id == branch_id)
    return list((await session.scalars(query.order_by(CorrectiveAction.due_date))).all())


def is_inside_china(latitude: float, longitude: float) -> bool:
    """A coarse bounding box of China (incl. Hainan and the north-east); enough to catch a wrong pin or GPS
    spoofing. Hand-written: a geodata library would be a heavy dependency for a plausibility check."""
    return 18.0 <= latitude <= 53.6 and 73.5 <= longitude <= 135.1

"""The digest sections of the existing capabilities (registered in bot/features.py as `Feature(digest=…)`):
daily acknowledgements, 四不伤害 reports with hazards and corrective actions, talks, questions, points.

Each section reads one branch and one period with a few queries filtered by branch (indexed: the cost does
not grow with the number of branches; tests/digest/test_queries.py checks the plans) and counts in Python.
Definitions, so the numbers can be checked by hand:
- an acknowledgement is *expected* for every item pushed to a member on a day of the period before today
  (today's item may still be studied); one acknowledged on the same or a later day counts as done;
- a report is *expected* from every active non-admin member for the month of the period's last day so far;
  submitted or approved counts as done (a returned report is not);
- hazards *raised* are those of reports first submitted in the period; actions are counted as they are now;
- questions and points are those of the branch's members dated in the period.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.digest import (
    MONTHLY,
    DigestSection,
    Fact,
    Label,
    Scope,
    SectionResult,
    Share,
    Sheet,
    _,
    names,
    plural_fact,
    percent,
    share,
)
from bot.services import talks
from bot.services.points import rank_of, standings
from bot.services.questions import clean_question
from storage.models import (
    ActionStatus,
    CorrectiveAction,
    DailyAck,
    Hazard,
    Member,
    Question,
    Report,
    ReportStatus,
    Role,
    Violation,
)

DONE_REPORT = (ReportStatus.SUBMITTED, ReportStatus.APPROVED)


def _month(day: date) -> str:
    return day.strftime("%Y-%m")


# --------------------------------------------------------------------------- daily acknowledgements


async def _acks_by_day(session: AsyncSession, scope: Scope, first: date, end: date) -> dict[date, tuple[int, int]]:
    """day → (expected, acknowledged), counted in the database (a year of a big branch is many rows)."""
    acked = func.count(DailyAck.acked_at)
    rows = (await session.execute(
        select(DailyAck.day, func.count(DailyAck.id), acked)
        .where(DailyAck.branch_id == scope.branch_id, DailyAck.day >= first, DailyAck.day < end)
        .group_by(DailyAck.day)
    )).all()
    # today's item may still be studied: only those already acknowledged count for today
    return {day: (done if day >= scope.today else total, done) for day, total, done in rows}


async def _most_missed(session: AsyncSession, scope: Scope, limit: int = 5) -> list[tuple[str, int]]:
    missed = func.count(DailyAck.id)
    return [tuple(row) for row in (await session.execute(
        select(Member.real_name, missed).join(Member, Member.id == DailyAck.member_id)
        .where(DailyAck.branch_id == scope.branch_id, DailyAck.day >= scope.period.start,
               DailyAck.day < min(scope.period.end, scope.today), DailyAck.acked_at.is_(None))
        .group_by(Member.id, Member.real_name).order_by(missed.desc(), Member.real_name).limit(limit)
    )).all()]


def _rate(days: dict[date, tuple[int, int]], start: date, end: date) -> tuple[int, int, float | None]:
    expected = sum(e for day, (e, _a) in days.items() if start <= day < end)
    acked = sum(a for day, (_e, a) in days.items() if start <= day < end)
    return acked, expected, share(acked, expected)


async def daily_section(session: AsyncSession, scope: Scope) -> SectionResult | None:
    weeks = scope.trend()
    days = await _acks_by_day(session, scope, min(weeks[0].start, scope.period.start),
                              max(weeks[-1].end, scope.period.end))
    acked, expected, rate = _rate(days, scope.period.start, scope.period.end)
    trend = [_rate(days, week.start, week.end)[2] for week in weeks]
    result = SectionResult("daily", _("Daily safety item"), facts=[
        Fact(_("Acknowledged: {acked} of {expected} ({rate})"),
             {"acked": acked, "expected": expected, "rate": percent(rate)}),
        Fact(_("Trend, week by week: {trend}"), {"trend": _trend_text(trend)}),
    ], headline=[Fact(_("studied {rate}"), {"rate": percent(rate)})], health=rate,
        series={_("Daily item acknowledged"): trend})
    missed = await _most_missed(session, scope)
    if missed:
        result.attention.append(Fact(_("Missed most days: {names}"),
                                     {"names": names(f"{name}（{count}）" for name, count in missed)}))
    return result


def _trend_text(trend: list[float | None]) -> str:
    """'50% → 80%' from the first week with data on (a new branch has no history to show)."""
    start = next((n for n, value in enumerate(trend) if value is not None), len(trend) - 1)
    return " → ".join(percent(value) for value in trend[start:])


async def daily_sheets(session: AsyncSession, scope: Scope) -> list[Sheet]:
    """One row per member, one column per day with an item (a register, as branches keep on paper):
    ✓ studied that day, 迟 studied later, ✗ not studied; then the member's totals."""
    rows = (await session.execute(
        select(DailyAck.member_id, DailyAck.day, DailyAck.acked_at)
        .where(DailyAck.branch_id == scope.branch_id, DailyAck.day >= scope.period.start,
               DailyAck.day < scope.period.end)
    )).all()
    names_by_id = dict((await session.execute(select(Member.id, Member.real_name).where(
        Member.id.in_({row.member_id for row in rows} | {0})))).all())
    days = sorted({row.day for row in rows})
    register: dict[tuple[str, int], dict[date, str]] = {}
    for member_id, day, acked_at in rows:
        register.setdefault((names_by_id[member_id], member_id), {})[day] = _mark(day, acked_at, scope)
    table = []
    for (name, _member_id), marks in sorted(register.items()):
        done = sum(1 for mark in marks.values() if mark in ("✓", "迟"))
        due = sum(1 for mark in marks.values() if mark)
        table.append((name, done, due, Share(done / due) if due else None, *(marks.get(day) for day in days)))
    return [Sheet(_("Acknowledgements"), (_("Member"), _("Studied"), _("Items"), _("Share"), *days), table)]


def _mark(day: date, acked_at, scope: Scope) -> str | None:
    if acked_at is None:
        return None if day >= scope.today else "✗"
    return "✓" if scope.local(acked_at).date() <= day else "迟"


def _yes_no(value: bool | None) -> Label | None:
    return None if value is None else Label(_("yes") if value else _("no"))


DAILY = DigestSection("daily", daily_section, daily_sheets)


# --------------------------------------------------------------------------- reports, hazards, actions


async def _expected_members(session: AsyncSession, branch_id: int) -> dict[int, str]:
    return dict((await session.execute(
        select(Member.id, Member.real_name)
        .where(Member.branch_id == branch_id, Member.active.is_(True), Member.role != Role.ADMIN)
    )).all())


async def reports_section(session: AsyncSession, scope: Scope) -> SectionResult | None:
    month = _month(scope.reference_day)
    expected = await _expected_members(session, scope.branch_id)
    done, trend = await _report_progress(session, scope, month, expected)
    missing = sorted(name for member_id, name in expected.items() if member_id not in done)
    rate = share(len(done), len(expected))
    pending, oldest = await _pending_reviews(session, scope)
    hazards = await session.scalar(
        select(func.count(Hazard.id)).join(Report, Report.id == Hazard.report_id)
        .where(Report.branch_id == scope.branch_id, Report.first_submitted_at >= scope.start_utc,
               Report.first_submitted_at < scope.end_utc)
    ) or 0
    open_count, overdue, closed = await _actions(session, scope)
    result = SectionResult("reports", _("四不伤害 reports and hazards"), facts=[
        Fact(_("Reports for {month}: {done} of {expected} submitted ({rate})"),
             {"month": month, "done": len(done), "expected": len(expected), "rate": percent(rate)}),
        plural_fact("Waiting for review: {count} (oldest {days} day)", "Waiting for review: {count} (oldest {days} days)",
                    {"count": pending, "days": oldest}, n="days"),
        Fact(_("Hazards raised: {count}"), {"count": hazards}),
        Fact(_("Corrective actions: {open} open, {overdue} overdue, {closed} closed in this period"),
             {"open": open_count, "overdue": len(overdue), "closed": closed}),
    ], headline=[Fact(_("reports {done}/{expected}"), {"done": len(done), "expected": len(expected)}),
                 Fact(_("overdue actions {count}"), {"count": len(overdue)})],
        health=rate, series={_("Reports submitted"): trend})
    if missing:
        result.attention.append(Fact(_("No report for {month} yet: {names}"), {"month": month, "names": names(missing)}))
    if overdue:
        owners = [f"{name}（{due.strftime('%m-%d')}）" for due, name in overdue]
        result.attention.append(Fact(_("Overdue actions (owner, due): {names}"), {"names": names(owners)}))
    return result


async def _report_progress(session: AsyncSession, scope: Scope, month: str,
                           expected: dict[int, str]) -> tuple[set[int], list[float | None]]:
    """Who filed `month`'s report, and per trend week the share of members with that week's month's report
    in by the week's end."""
    weeks = scope.trend()
    months = sorted({_month(min(week.last_day, scope.today)) for week in weeks} | {month})
    reports = [r for r in (await session.execute(
        select(Report.member_id, Report.month, Report.status, Report.first_submitted_at)
        .where(Report.branch_id == scope.branch_id, Report.month.in_(months))
    )).all() if r.status in DONE_REPORT and r.member_id in expected]
    done = {r.member_id for r in reports if r.month == month}
    trend = []
    for week in weeks:
        cutoff, week_month = scope.utc(week.end), _month(min(week.last_day, scope.today))
        filed = {r.member_id for r in reports if r.month == week_month and r.first_submitted_at < cutoff}
        trend.append(share(len(filed), len(expected)))
    return done, trend


async def _pending_reviews(session: AsyncSession, scope: Scope) -> tuple[int, int]:
    """Reports waiting for the secretary, and the age in days of the oldest."""
    pending = (await session.scalars(
        select(Report.submitted_at).where(Report.branch_id == scope.branch_id, Report.status == ReportStatus.SUBMITTED)
    )).all()
    return len(pending), max(((scope.today - scope.local(at).date()).days for at in pending), default=0)


async def _actions(session: AsyncSession, scope: Scope) -> tuple[int, list[tuple[date, str]], int]:
    """Open corrective actions now, the overdue ones (due date, owner), and those closed in the period."""
    rows = (await session.execute(
        select(CorrectiveAction.due_date, CorrectiveAction.status, CorrectiveAction.done_at, Member.real_name)
        .join(Member, Member.id == CorrectiveAction.owner_id)
        .where(CorrectiveAction.branch_id == scope.branch_id,
               or_(CorrectiveAction.status == ActionStatus.OPEN, CorrectiveAction.done_at >= scope.start_utc))
    )).all()
    still_open = [a for a in rows if a.status == ActionStatus.OPEN]
    overdue = sorted((a.due_date, a.real_name) for a in still_open if a.due_date < scope.today)
    closed = sum(1 for a in rows if a.done_at is not None and scope.start_utc <= a.done_at < scope.end_utc)
    return len(still_open), overdue, closed


async def reports_sheets(session: AsyncSession, scope: Scope) -> list[Sheet]:
    month = _month(scope.reference_day)
    reports = (await session.scalars(
        select(Report).where(Report.branch_id == scope.branch_id, Report.month == month).order_by(Report.id)
    )).all()
    who = dict((await session.execute(select(Member.id, Member.real_name).where(
        Member.id.in_({r.member_id for r in reports} | {0})))).all())
    report_rows = [(who.get(r.member_id, ""), r.month, Label(_STATUS[r.status]), r.version,
                    scope.local(r.first_submitted_at), scope.local(r.submitted_at), scope.local(r.reviewed_at),
                    len(r.hazards), len(r.violations), r.summary, r.review_comment) for r in reports]
    actions = {a.hazard_id: a for a in (await session.scalars(
        select(CorrectiveAction).where(CorrectiveAction.hazard_id.in_(
            {h.id for r in reports for h in r.hazards} | {0})))).all()}
    owners = dict((await session.execute(select(Member.id, Member.real_name).where(
        Member.id.in_({a.owner_id for a in actions.values()} | {0})))).all())
    hazard_rows = []
    for report in reports:
        for hazard in report.hazards:
            action = actions.get(hazard.id)
            hazard_rows.append((
                who.get(report.member_id, ""), scope.local(report.first_submitted_at), hazard.description,
                hazard.place, hazard.urgency, owners.get(action.owner_id) if action else None,
                action.due_date if action else None,
                Label(_ACTION[action.status]) if action else Label(_("no action yet")),
                scope.local(action.done_at) if action else None))
    return [
        Sheet(_("Reports"), (_("Member"), _("Month"), _("Status"), _("Version"), _("First submitted"),
                             _("Submitted"), _("Reviewed"), _("Hazards"), _("Violations"), _("Summary"),
                             _("Review comment")), report_rows),
        Sheet(_("Hazards and actions"), (_("Member"), _("Reported"), _("Hazard"), _("Place"), _("Urgency"),
                                         _("Action owner"), _("Due"), _("Action status"), _("Done at")),
              hazard_rows),
    ]


_STATUS = {ReportStatus.DRAFT: _("draft"), ReportStatus.SUBMITTED: _("waiting for review"),
           ReportStatus.RETURNED: _("returned"), ReportStatus.APPROVED: _("approved")}
_ACTION = {ActionStatus.OPEN: _("open"), ActionStatus.DONE: _("done"), ActionStatus.VERIFIED: _("verified")}

REPORTS = DigestSection("reports", reports_section, reports_sheets)


# --------------------------------------------------------------------------- the rules hazards and violations break

RULES_SHOWN = 5  # the most-broken rules listed in the digest
RULE_EXCERPT_SHOWN = 30  # characters of a clause's text beside its number


@dataclass
class BrokenRuleCount:
    title: str
    clause: str
    excerpt: str
    hazards: int = 0  # how many hazards break it
    violations: int = 0  # how many violations break it

    @property
    def total(self) -> int:
        return self.hazards + self.violations

    def row(self) -> tuple[str, str, str, int, int]:
        return self.title, self.clause, self.excerpt, self.hazards, self.violations


async def _broken_rules(session: AsyncSession, scope: Scope, month: str,
                        limit: int | None = RULES_SHOWN) -> list[BrokenRuleCount]:
    """The rules the hazards and violations of the branch's `month` reports break (submitted or approved, as
    the member kept them on the form), with how many of each break them; the most often broken (both kinds
    together) first."""
    counted: dict[tuple[str, str], BrokenRuleCount] = {}
    for model, kind in ((Hazard, "hazards"), (Violation, "violations")):
        query = (
            select(model.rule_title, model.rule_clause, func.max(model.rule_excerpt), func.count(model.id))
            .join(Report, Report.id == model.report_id)
            .where(Report.branch_id == scope.branch_id, Report.month == month, Report.status.in_(DONE_REPORT),
                   model.rule_clause.is_not(None))
            .group_by(model.rule_title, model.rule_clause)
        )
        for title, clause, excerpt, n in (await session.execute(query)).all():
            rule = counted.setdefault((title or "", clause), BrokenRuleCount(title or "", clause, ""))
            rule.excerpt = max(rule.excerpt, excerpt or "")
            setattr(rule, kind, getattr(rule, kind) + n)
    ranked = sorted(counted.values(), key=lambda rule: (-rule.total, rule.clause, rule.title))
    return ranked if limit is None else ranked[:limit]


def _rule_text(title: str, clause: str, excerpt: str) -> str:
    cited = f"《{title}》 {clause}" if title else clause
    if excerpt:
        cut = excerpt if len(excerpt) <= RULE_EXCERPT_SHOWN else excerpt[: RULE_EXCERPT_SHOWN - 1] + "…"
        cited += f"「{cut}」"
    return cited


def _rule_fact(rank: int, rule: BrokenRuleCount) -> Fact:
    text = _rule_text(rule.title, rule.clause, rule.excerpt)
    if rule.hazards and rule.violations:
        return Fact(_("{rank}. {rule} — hazards: {hazards}, violations: {violations}"),
                    {"rank": rank, "rule": text, "hazards": rule.hazards, "violations": rule.violations})
    if rule.violations:
        return Fact(_("{rank}. {rule} — violations: {count}"), {"rank": rank, "rule": text, "count": rule.violations})
    return Fact(_("{rank}. {rule} — hazards: {count}"), {"rank": rank, "rule": text, "count": rule.hazards})


async def rules_section(session: AsyncSession, scope: Scope) -> SectionResult | None:
    """The rules this month's hazards and violations break most often (the month of the period's last day so
    far, like the reports section); no section while no hazard or violation of that month has a rule."""
    month = _month(scope.reference_day)
    top = await _broken_rules(session, scope, month)
    if not top:
        return None
    with_hazards, with_violations = any(r.hazards for r in top), any(r.violations for r in top)
    if with_hazards and with_violations:
        heading = _("The rules the hazards and violations in {month}'s reports break most often:")
    elif with_violations:
        heading = _("The rules the violations in {month}'s reports break most often:")
    else:
        heading = _("The rules the hazards in {month}'s reports break most often:")
    result = SectionResult("rules", _("Most-broken rules"), facts=[Fact(heading, {"month": month})])
    result.facts += [_rule_fact(rank, rule) for rank, rule in enumerate(top, start=1)]
    return result


async def rules_sheets(session: AsyncSession, scope: Scope) -> list[Sheet]:
    rules = await _broken_rules(session, scope, _month(scope.reference_day), limit=None)
    columns = (_("Document"), _("Clause"), _("Clause text"), _("Hazards"), _("Violations"))
    return [Sheet(_("Rules broken"), columns, [rule.row() for rule in rules])] if rules else []


RULES = DigestSection("rules", rules_section, rules_sheets)


# --------------------------------------------------------------------------- questions


async def _questions(session: AsyncSession, scope: Scope):
    return (await session.execute(
        select(Question.asked_at, Member.real_name, Question.text, Question.refused, Question.top_score)
        .join(Member, Member.id == Question.member_id)
        .where(Member.branch_id == scope.branch_id, Question.asked_at >= scope.start_utc,
               Question.asked_at < scope.end_utc)
        .order_by(Question.asked_at)
    )).all()


async def questions_section(session: AsyncSession, scope: Scope) -> SectionResult | None:
    rows = await _questions(session, scope)
    refused = [row for row in rows if row.refused]
    result = SectionResult("questions", _("Questions"), facts=[
        Fact(_("Questions asked: {count}, without an answer: {refused} ({rate})"),
             {"count": len(rows), "refused": len(refused), "rate": percent(share(len(refused), len(rows)))}),
    ])
    topics = Counter(_topic(row.text) for row in refused)
    if topics:
        top = [f"「{text}」×{count}" for text, count in sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
        result.facts.append(Fact(_("Most asked without an answer: {topics}"), {"topics": "；".join(top)}))
    return result


def _topic(text: str) -> str:
    """A refused question as a topic: the same question with other punctuation or spacing is the same topic."""
    cleaned = unicodedata.normalize("NFKC", clean_question(text))
    return "".join(ch for ch in cleaned if not unicodedata.category(ch).startswith(("P", "Z")))[:30]


async def questions_sheets(session: AsyncSession, scope: Scope) -> list[Sheet]:
    rows = await _questions(session, scope)
    return [Sheet(_("Questions"), (_("Asked at"), _("Member"), _("Question"), _("Answered"), _("Best match score")),
                  [(scope.local(at), name, text, _yes_no(not refused), round(score, 3))
                   for at, name, text, refused, score in rows])]


QUESTIONS = DigestSection("questions", questions_section, questions_sheets)


# --------------------------------------------------------------------------- points


LEADERBOARD_SIZE = 5
RADAR_MEMBERS = 5


async def points_section(session: AsyncSession, scope: Scope) -> SectionResult | None:
    table = await standings(session, scope.branch_id, scope.start_utc, scope.end_utc)
    leaders = [s for s in table if s.points > 0][:LEADERBOARD_SIZE]
    total = sum(s.points for s in table)
    result = SectionResult("points", _("Points"), facts=[Fact(_("Points earned: {total}"), {"total": total})])
    if leaders:
        board = "  ".join(f"{n}. {s.name} {s.points}" for n, s in enumerate(leaders, start=1))
        result.facts.append(Fact(_("Leaderboard: {board}"), {"board": board}))
    if scope.period.kind == MONTHLY and leaders:  # the seeds' 先锋指数: points per category of the top members
        categories = list(scope.rules) or sorted({r for s in leaders for r in s.by_reason})
        result.radar = [(s.name, {c: s.by_reason.get(c, 0) for c in categories}) for s in leaders[:RADAR_MEMBERS]]
    return result


async def points_sheets(session: AsyncSession, scope: Scope) -> list[Sheet]:
    """One row per member: points per category in the period, the total and the rank in the branch."""
    table = await standings(session, scope.branch_id, scope.start_utc, scope.end_utc)
    categories = list(scope.rules) or sorted({reason for s in table for reason in s.by_reason})
    rows = [(rank_of(table, s.member_id), s.name, s.points, *(s.by_reason.get(c, 0) for c in categories))
            for s in table]
    return [Sheet(_("Points"), (_("Rank"), _("Member"), _("Total"), *(POINT_CATEGORIES.get(c, c) for c in categories)),
                  rows)]


# The ledger's reasons as people read them (bot/services/points.py RULES).
POINT_CATEGORIES = {
    "daily_ack": _("Daily study"),
    "report_on_time": _("Report on time"),
    "hazard": _("Hazards raised"),
    "talk_logged": _("Talks"),
    "talk_follow_up": _("Follow-ups"),
}

POINTS = DigestSection("points", points_section, points_sheets)



# --------------------------------------------------------------------------- talks (谈心谈话)


async def talks_section(session: AsyncSession, scope: Scope) -> SectionResult | None:
    """Talks held in the period, who had one (members and party members), open and overdue follow-ups, and
    who needs a talk now (names: the secretary acts on them). Thresholds: the talks feature's defaults."""
    period = talks.period_of(scope.period.start, scope.period.end, scope.period.label)
    numbers = await talks.branch_numbers(session, scope.branch_id, period, scope.today, scope.tz)
    covered = share(numbers.covered, numbers.eligible)
    result = SectionResult("talks", _("Talks (谈心谈话)"), facts=[
        Fact(_("Talks held: {held} (confirmed by the other side: {confirmed})"),
             {"held": numbers.talks_held, "confirmed": numbers.talks_confirmed}),
        Fact(_("Members who had a talk: {covered} of {eligible} ({rate}); party members: {party_covered} of {party_eligible}"),
             {"covered": numbers.covered, "eligible": numbers.eligible, "rate": percent(covered),
              "party_covered": numbers.party_covered, "party_eligible": numbers.party_eligible}),
        Fact(_("Open follow-ups: {open}, overdue: {overdue}"),
             {"open": numbers.open_follow_ups, "overdue": numbers.overdue_follow_ups}),
    ], headline=[Fact(_("talks {rate}"), {"rate": percent(covered)})], health=covered)
    if numbers.due:
        result.attention.append(Fact(_("Needs a talk now: {names}"),
                                     {"names": names(due.member.real_name for due in numbers.due)}))
    return result


TALKS = DigestSection("talks", talks_section)

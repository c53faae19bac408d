"""The digest's numbers equal the ones worked out by hand for tests/digest/world.py (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import timedelta

from bot.features import digest_sections
from bot.services import digest as digests
from bot.services import points
from bot.services.digest import DigestSection, Scope, SectionResult, build_digest, week_of
from bot.services.digest_sections import DAILY
from tests.digest.world import NOW, TZ, make_world

RULES = {"daily_ack": 1, "report_on_time": 5, "hazard": 2}


def weekly_scope(world, now=NOW) -> Scope:
    return Scope(world.a.id, week_of(NOW.date().replace(day=16)), TZ, now, trend_weeks=8, rules=RULES)


def facts(section: SectionResult) -> dict[str, dict]:
    """msgid → params; a plural fact by its plural msgid."""
    return {fact.plural or fact.msgid: fact.params for fact in section.facts + section.attention + section.headline}


async def test_weekly_digest_numbers_match_the_hand_count(session):
    world = await make_world(session)
    digest = await build_digest(session, weekly_scope(world), digest_sections())
    sections = {s.key: s for s in digest.sections}
    assert list(sections) == ["members", "reports", "daily", "points", "talks", "questions"]  # registry order

    talks = facts(sections["talks"])  # no talks in this branch's week: zeros, not an error
    assert talks["Talks held: {held} (confirmed by the other side: {confirmed})"] == {"held": 0, "confirmed": 0}
    assert talks["Open follow-ups: {open}, overdue: {overdue}"] == {"open": 0, "overdue": 0}

    members = facts(sections["members"])
    assert members["Active members: {count} (new in this period: {joined})"] == {"count": 4, "joined": 0}
    assert members["Unreachable, please contact them: {names}"] == {"names": "赵敏"}

    daily = facts(sections["daily"])
    # 李海波 5 (one late), 陈书记 3, 王强 1, 赵敏 0 of 5 workdays each; branch B's ack is not counted
    assert daily["Acknowledged: {acked} of {expected} ({rate})"] == {"acked": 9, "expected": 20, "rate": "45%"}
    assert daily["Trend, week by week: {trend}"] == {"trend": "100% → 45%"}  # the week before: 李海波 5 of 5
    assert daily["Missed most days: {names}"] == {"names": "赵敏（5）、王强（4）、陈书记（2）"}
    assert sections["daily"].series["Daily item acknowledged"] == [None] * 6 + [1.0, 0.45]

    reports = facts(sections["reports"])
    # expected: 陈书记, 李海波, 王强, 赵敏 (not the admin); done: 李海波 (approved), 王强 (submitted); 陈书记's was returned
    assert reports["Reports for {month}: {done} of {expected} submitted ({rate})"] == {
        "month": "2026-11", "done": 2, "expected": 4, "rate": "50%"}
    assert reports["No report for {month} yet: {names}"] == {"month": "2026-11", "names": "赵敏、陈书记"}
    assert reports["Waiting for review: {count} (oldest {days} days)"] == {"count": 1, "days": 3}
    assert reports["Hazards raised: {count}"] == {"count": 3}  # 李海波 2 + 王强 1; 陈书记's was first filed on the 10th
    assert reports["Corrective actions: {open} open, {overdue} overdue, {closed} closed in this period"] == {
        "open": 2, "overdue": 1, "closed": 1}
    assert reports["Overdue actions (owner, due): {names}"] == {"names": "王强（11-20）"}
    assert sections["reports"].series["Reports submitted"][-2:] == [0.0, 0.5]  # by Nov 16: none; by Nov 23: 2 of 4

    questions = facts(sections["questions"])
    assert questions["Questions asked: {count}, without an answer: {refused} ({rate})"] == {
        "count": 4, "refused": 2, "rate": "50%"}
    assert questions["Most asked without an answer: {topics}"] == {"topics": "「接地线怎么挂」×2"}

    board = facts(sections["points"])
    assert board["Points earned: {total}"] == {"total": 20}  # 李海波 5+5+4, 王强 1+2, 陈书记 3
    assert board["Leaderboard: {board}"] == {"board": "1. 李海波 14  2. 王强 3  3. 陈书记 3"}
    assert sections["points"].radar == []  # the radar belongs to the monthly digest
    assert digest.health == (0.45 + 0.5 + 0.0) / 3  # daily, reports, talks (no talk this week)


async def test_monthly_digest_has_the_radar_of_point_categories(session):
    world = await make_world(session)
    scope = Scope(world.a.id, digests.month_period("2026-11"), TZ, NOW, rules=RULES)
    digest = await build_digest(session, scope, digest_sections())
    assert digest.radar()[:2] == [("李海波", {"daily_ack": 6, "report_on_time": 5, "hazard": 4}),
                                  ("王强", {"daily_ack": 1, "report_on_time": 0, "hazard": 2})]


async def test_a_missing_or_failing_section_leaves_the_rest_of_the_digest(session, caplog):
    world = await make_world(session)

    async def broken(session, scope):
        raise RuntimeError("talks table missing")

    digest = await build_digest(session, weekly_scope(world), [DigestSection("talks", broken), DAILY])
    assert [s.key for s in digest.sections] == ["daily"] and digest.missing == ["talks"]
    assert "talks table missing" in caplog.text


async def test_all_branches_digest_is_worst_first(session):
    await make_world(session)
    found = await digests.all_branches(session, lambda b: Scope(b, week_of(NOW.date().replace(day=16)), TZ, NOW),
                                       digest_sections())
    # B: 1 of 1 acks, 1 of 2 reports (0.75); A: 0.475
    assert [d.branch_name for d in found] == ["余山供电所", "城关供电所"]


async def test_points_rank_and_streak_for_me(session):
    world = await make_world(session)
    table = await points.standings(session, world.a.id, weekly_scope(world).start_utc, weekly_scope(world).end_utc)
    assert [(s.name, s.points) for s in table] == [("李海波", 14), ("王强", 3), ("陈书记", 3), ("赵敏", 0)]
    assert points.rank_of(table, world.wang.id) == points.rank_of(table, world.chen.id) == 2
    assert points.rank_of(table, world.zhao.id) == 4
    # 李海波: the 20th … 16th and the week before (9th … 13th) all acknowledged; weekends have no item
    assert await points.ack_streak(session, world.li.id, NOW.date()) == 10
    assert await points.ack_streak(session, world.chen.id, NOW.date()) == 0  # the 20th was missed
    assert await points.ack_streak(session, world.chen.id, NOW.date().replace(day=18)) == 3


def test_periods_parse_as_people_write_them():
    today = NOW.date()  # Monday 2026-11-23
    assert digests.parse_period("", today).label == "2026-W48"
    assert digests.parse_period("上周", today) == week_of(today.replace(day=16))
    assert digests.parse_period("2026-11", today).end.isoformat() == "2026-12-01"
    assert digests.parse_period("2026-12", today).end.isoformat() == "2027-01-01"
    assert digests.parse_period("上月", today).label == "2026-10"
    assert digests.parse_period("2026-W47", today).start.isoformat() == "2026-11-16"


def test_plan_says_which_digest_is_due():
    plan = digests.Plan()  # Monday 08:30, the 1st 09:00
    catch_up = {"weekly": timedelta(days=2), "monthly": timedelta(days=5)}
    at = lambda *a: NOW.replace(year=a[0], month=a[1], day=a[2], hour=a[3], minute=a[4])  # noqa: E731
    assert plan.due(at(2026, 11, 23, 8, 29), catch_up) == []
    assert [p.label for p in plan.due(at(2026, 11, 23, 8, 30), catch_up)] == ["2026-W47"]
    assert [p.label for p in plan.due(at(2026, 11, 25, 9, 0), catch_up)] == []  # too late: next Monday brings W48
    # Tuesday the 1st: the month, and Monday's weekly digest is still caught up after downtime
    assert [p.label for p in plan.due(at(2026, 12, 1, 9, 0), catch_up)] == ["2026-W48", "2026-11"]
    assert [p.label for p in plan.due(at(2026, 12, 3, 9, 0), catch_up)] == ["2026-11"]
    assert [p.label for p in plan.due(at(2027, 1, 4, 9, 0), catch_up)] == ["2026-W53", "2026-12"]


async def test_points_of_an_approved_report_are_dated_by_the_bots_clock(session):
    """A script or test that sets the clock sees report points in the week they were earned (they used to be
    dated by the machine's real time and fell outside every digest period)."""
    from sqlalchemy import select

    from bot.services import reports
    from bot.services.membership import Actor
    from storage.models import PointsEntry, Report
    from tests.digest.world import utc

    world = await make_world(session)
    report = await session.scalar(select(Report).where(Report.member_id == world.wang.id))
    approved_at = utc(2026, 11, 21, 10, 0)
    await reports.review(session, Actor(world.chen.telegram_id, world.chen, False), report.id, approve=True,
                         points_on_time=5, points_hazard=2, now=approved_at)
    entries = (await session.scalars(select(PointsEntry).where(PointsEntry.member_id == world.wang.id,
                                                               PointsEntry.reason == "report_on_time"))).all()
    assert [e.at for e in entries] == [approved_at]

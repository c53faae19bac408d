"""The talk service: logging and its bad input, confirming, follow-ups, privacy per role, who needs a talk,
coverage per quarter and the numbers for the digests (SQLite and PostgreSQL)."""
from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bot.services import talks
from bot.services.errors import DomainError
from bot.services.talks import Access, FollowUpInput, PersonInput
from storage.models import AuditEntry, DailyAck, DailyItem, PointsEntry, Report, Talk, TalkParticipant, Violation
from tests.talks.helpers import actor, talk_input


def clock(app):
    return dict(today=app.local_now().date(), now=app.clock.utc_naive())


async def log(app, author, data, token="form-1", **extra):
    async with app.sessionmaker() as session:
        author = await session.get(type(author), author.id)
        result = await talks.log_talk(session, actor(author), data, form_token=token, tz=app.settings.tz, **clock(app),
                                      **extra)
        await session.commit()
        return result.talk.id if result.talk else None, result


async def refused(app, author, data) -> str:
    with pytest.raises(DomainError) as caught:
        await log(app, author, data)
    return caught.value.code


async def test_a_talk_is_stored_with_people_concerns_follow_ups_and_points(app, world):
    today = app.local_now().date()
    talk_id, result = await log(app, world.sec_a, talk_input(today, world.li, world.wang, owner=world.li,
                                                             due=today + timedelta(days=3)), points_logged=3)
    assert result.created and result.awarded == 3
    async with app.sessionmaker() as session:
        talk = await session.get(Talk, talk_id)
        assert [p.name for p in talk.participants] == ["李海波", "王强"]
        assert [c.tag for c in talk.concerns] == ["life", "safety"] and talk.follow_ups[0].owner_id == world.li.id
        assert await session.scalar(select(func.sum(PointsEntry.points)).where(PointsEntry.member_id == world.sec_a.id)) == 3


@pytest.mark.parametrize("case, code", [
    ("future", "talk_future_date"),
    ("before_joined", "talk_before_joined"),
    ("self", "talk_with_self"),
    ("other_branch", "talk_other_branch"),
    ("deactivated", "talk_inactive_member"),
    ("empty_topic", "talk_topic_empty"),
    ("long_notes", "talk_text_too_long"),
    ("owner_outside", "talk_owner_outside"),
    ("nobody", "talk_no_people"),
    ("bad_name", "talk_name_invalid"),
])
async def test_bad_input_is_refused_with_a_reason(app, world, case, code):
    today = app.local_now().date()
    good = talk_input(today, world.li)
    data = {
        "future": replace(good, held_on=today + timedelta(days=1)),
        "before_joined": talk_input(today - timedelta(days=6), world.xiao),
        "self": talk_input(today, world.sec_a),
        "other_branch": talk_input(today, world.zhao),
        "deactivated": talk_input(today, world.gone),
        "empty_topic": replace(good, topic="   "),
        "long_notes": replace(good, agreement="很" * 2000),
        "owner_outside": replace(good, follow_ups=[FollowUpInput("回访", world.zhao.id, today)]),
        "nobody": replace(good, people=[]),
        "bad_name": replace(good, people=[PersonInput(name="<b>x")]),
    }[case]
    assert await refused(app, world.sec_a, data) == code
    async with app.sessionmaker() as session:
        assert await session.scalar(select(func.count(Talk.id))) == 0


async def test_a_plain_member_may_not_log_talks_but_a_party_or_committee_member_may(app, world):
    today = app.local_now().date()
    assert await refused(app, world.wang, talk_input(today, world.li)) == "talk_not_allowed"
    assert (await log(app, world.li, talk_input(today, world.wang), token="li"))[1].created
    assert (await log(app, world.wei, talk_input(today, world.wang), token="wei"))[1].created


async def test_someone_outside_the_bot_can_be_named(app, world):
    today = app.local_now().date()
    data = replace(talk_input(today), people=[PersonInput(name="退休师傅 老张")])
    talk_id, _ = await log(app, world.sec_a, data)
    async with app.sessionmaker() as session:
        talk = await session.get(Talk, talk_id)
        assert [(p.member_id, p.name) for p in talk.participants] == [(None, "退休师傅 老张")]


async def test_confirming_the_same_form_twice_at_once_stores_one_talk(app, world):
    today = app.local_now().date()
    data = talk_input(today, world.li)
    first, second = await asyncio.gather(log(app, world.sec_a, data, "same"), log(app, world.sec_a, data, "same"))
    assert first[0] == second[0]
    assert [first[1].created, second[1].created].count(True) == 1
    async with app.sessionmaker() as session:
        assert await session.scalar(select(func.count(Talk.id))) == 1


async def test_participation_is_confirmed_once_and_only_by_the_participant(app, world):
    today = app.local_now().date()
    talk_id, _ = await log(app, world.sec_a, talk_input(today, world.li))
    now = app.clock.utc_naive()

    async def confirm(member):
        async with app.sessionmaker() as session:
            member = await session.get(type(member), member.id)
            result = await talks.confirm_participation(session, member, talk_id, now)
            await session.commit()
            return result.confirmed

    with pytest.raises(DomainError, match="talk_not_found"):
        await confirm(world.wang)  # a forged button of someone who was not there
    results = await asyncio.gather(confirm(world.li), confirm(world.li))
    assert sorted(results) == [False, True]
    async with app.sessionmaker() as session:
        part = await session.scalar(select(TalkParticipant).where(TalkParticipant.talk_id == talk_id))
        assert part.confirmed_at == now


async def test_privacy_what_each_role_reads(app, world):
    today = app.local_now().date()
    talk_id, _ = await log(app, world.li, talk_input(today, world.wang, private=True))
    seen = {}
    async with app.sessionmaker() as session:
        for name, who in [("author", actor(world.li)), ("secretary", actor(world.sec_a)),
                          ("admin", actor(world.admin)), ("participant", actor(world.wang))]:
            view = await talks.view_talk(session, who, talk_id)
            seen[name] = (view.access, [c.note for c in view.concerns])
        for stranger in (world.wei, world.zhao, world.sec_b):  # same branch not present, other branch, other secretary
            with pytest.raises(DomainError, match="talk_not_found"):
                await talks.view_talk(session, actor(stranger), talk_id)
        await session.commit()
        audits = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "talk.view_notes"))).all()
    private, public = "家中老人住院，想调整几天班次", "登杆作业的安全带老化"
    assert seen["author"] == (Access.FULL, [private, public])
    assert seen["secretary"] == (Access.FULL, [private, public])
    assert seen["admin"] == (Access.NOTES, [public])  # 「仅书记可见」 stays with the secretary
    assert seen["participant"] == (Access.SUMMARY, [])
    assert [(a.actor_id, a.target_id) for a in audits] == [(world.admin.id, talk_id)]  # only the admin's view


async def test_follow_up_done_once_by_its_owner_with_points_on_time(app, world):
    today = app.local_now().date()
    talk_id, result = await log(app, world.sec_a, talk_input(today, world.li, owner=world.li, due=today))
    async with app.sessionmaker() as session:
        item_id = (await session.get(Talk, talk_id)).follow_ups[0].id
        with pytest.raises(DomainError, match="talk_follow_up_not_found"):
            await talks.complete_follow_up(session, actor(world.wang), item_id, "做完了", **clock(app))
        with pytest.raises(DomainError, match="talk_note_required"):
            await talks.complete_follow_up(session, actor(world.li), item_id, "  ", **clock(app))
        item = await talks.complete_follow_up(session, actor(world.li), item_id, "已领新安全带", points_on_time=2,
                                              **clock(app))
        assert item.done_note == "已领新安全带"
        with pytest.raises(DomainError, match="talk_follow_up_done"):
            await talks.complete_follow_up(session, actor(world.li), item_id, "再来一次", **clock(app))
        await session.commit()
        assert await session.scalar(select(func.sum(PointsEntry.points)).where(PointsEntry.member_id == world.li.id)) == 2
        assert await talks.open_follow_ups(session, world.branch_a.id) == []


async def _report(session, member, month, *, violation=False, status="submitted", at=None, reviewed=None):
    report = Report(member_id=member.id, branch_id=member.branch_id, month=month, status=status, summary="s",
                    first_submitted_at=at, submitted_at=at, reviewed_at=reviewed)
    if violation:
        report.violations = [Violation(position=0, description="未戴安全帽")]
    session.add(report)


def _month(day: date, back: int) -> str:
    first = day.replace(day=1)
    for _ in range(back):
        first = (first - timedelta(days=1)).replace(day=1)
    return first.strftime("%Y-%m")


async def test_who_needs_a_talk_names_each_person_with_reasons(app, world):
    today = app.local_now().date()
    now = app.clock.utc_naive()
    async with app.sessionmaker() as session:
        for member in (world.sec_a, world.wei, world.li, world.xiao):  # everyone else reported every month
            for back in (1, 2, 3):
                await _report(session, member, _month(today, back), at=now - timedelta(days=31 * back))
        await _report(session, world.wei, _month(today, 0), violation=True, at=now - timedelta(days=1))
        await _report(session, world.wang, _month(today, 1), at=now - timedelta(days=20))  # 2 of 3 missing
        session.add(DailyItem(id="d1", kind="提示", text="t"))
        await session.flush()
        for n in range(1, 11):  # Li left 6 of his last 10 daily items unacknowledged
            day = today - timedelta(days=n)
            session.add(DailyAck(member_id=world.li.id, branch_id=world.branch_a.id, day=day, item_id="d1",
                                 delivery_key=f"k{n}", acked_at=None if n <= 6 else now))
        await session.commit()
        due = {d.member.real_name: [r.code for r in d.reasons]
               for d in await talks.who_needs_a_talk(session, world.branch_a.id, today, app.settings.tz)}
    assert due["肖新"] == ["new_hire"]
    assert due["魏委员"][0] == "violation" and "no_secretary_talk" in due["魏委员"]
    assert due["王强"] == ["missed_reports"]
    assert due["李海波"] == ["missed_daily", "no_talk_quarter", "no_secretary_talk"]
    assert due["陈书记"] == ["no_talk_quarter"]  # a party member too, but talks with herself do not count
    assert "钱离" not in due and "赵敏" not in due

    await log(app, world.sec_a, talk_input(today, world.xiao, kind="onboarding"), token="a")
    await log(app, world.sec_a, talk_input(today, world.wei, world.li, world.wang), token="b")
    async with app.sessionmaker() as session:
        after = await talks.who_needs_a_talk(session, world.branch_a.id, today, app.settings.tz)
    assert after == []  # each reason ends with a talk held after it


async def test_coverage_per_quarter_counts_confirmed_talks(app, world):
    today = app.local_now().date()
    quarter = talks.quarter_of(today)
    talk_id, _ = await log(app, world.sec_a, talk_input(today, world.li), token="now")
    earlier = quarter.start - timedelta(days=1)
    await log(app, world.sec_a, talk_input(earlier, world.wang), token="last-quarter")
    async with app.sessionmaker() as session:
        li = await session.get(type(world.li), world.li.id)
        await talks.confirm_participation(session, li, talk_id, app.clock.utc_naive())
        await session.commit()
        cover = await talks.coverage(session, world.branch_a.id, quarter, app.settings.tz)
        numbers = await talks.branch_numbers(session, world.branch_a.id, quarter, today, app.settings.tz)
    covered = {line.member.real_name: (line.covered, line.confirmed) for line in cover.lines}
    assert covered["李海波"] == (True, True) and covered["陈书记"] == (True, True)
    assert covered["王强"] == (False, False)  # last quarter's talk is not this quarter's
    assert (cover.talks_held, cover.talks_confirmed, cover.covered, cover.eligible) == (1, 1, 2, 5)
    assert cover.party == (2, 3)
    assert (numbers.talks_held, numbers.covered, numbers.open_follow_ups) == (1, 2, 0)


def test_quarters_parse_and_cover_the_year():
    assert talks.parse_quarter("2026Q4") == talks.Period(date(2026, 10, 1), date(2027, 1, 1), "2026Q4")
    assert talks.quarter_of(date(2026, 3, 31)).label == "2026Q1"
    with pytest.raises(DomainError, match="talk_bad_quarter"):
        talks.parse_quarter("2026Q5")


def test_typed_dates():
    from bot.forms.talk import parse_day

    today = date(2026, 1, 3)
    assert parse_day("昨天", today) == date(2026, 1, 2)
    assert parse_day("12-30", today) == date(2025, 12, 30)  # a talk's date: the past
    assert parse_day("12-30", today, future=True) == date(2026, 12, 30)  # a due date: ahead
    assert parse_day("1月2日", today, future=True) == date(2026, 1, 2)  # yesterday: refused by the caller
    assert parse_day("1-2", date(2026, 12, 28), future=True) == date(2027, 1, 2)  # across New Year
    assert parse_day("2026/02/30", today) is None and parse_day("明年", today) is None

"""Choosing the branch's item, due times, workdays, holidays, the noon rule — all with an explicit `now`."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.services import daily
from bot.services.daily_items import Item, sync_items
from bot.services.errors import DomainError
from storage.models import BranchDaily, DailyAck, Delivery
from tests.daily.helpers import make_branch, make_members

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 11, 23)


def at(day: date, hhmm: str) -> datetime:
    """An aware local time (Asia/Shanghai) as the scheduler would be handed it."""
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=TZ)


def items(n: int) -> list[Item]:
    kinds = ["禁令", "安规", "案例", "提示"]
    return [Item(f"it-{i:03d}", kinds[i % 4], f"第{i}条安全内容") for i in range(n)]


def render(member, item, ack):
    return f"{item.id} for {member.real_name}", [[{"text": "已学习", "callback_data": f"dly:a:{ack.id}:-1"}]]


async def push_day(session, branch, day, clause_source=None):
    result = await daily.push_branch(session, branch.id, day, tz=TZ, render=render, clause_source=clause_source)
    await session.commit()
    return result


# ---------------------------------------------------------------------------------- selection

async def test_same_item_for_the_whole_branch_and_no_repeats_until_the_list_is_used_up(session):
    await sync_items(session, items(4))
    branch = await make_branch(session)
    members = await make_members(session, branch, 3, joined_at=datetime(2026, 1, 1))
    seen = []
    for n in range(4):
        result = await push_day(session, branch, MONDAY + timedelta(days=n))
        assert result.state == "pushed" and result.enqueued == 3
        seen.append(result.item_id)
    assert len(set(seen)) == 4  # no repeats within the list
    per_member = {m.id: [a.item_id for a in (await session.scalars(
        select(DailyAck).where(DailyAck.member_id == m.id).order_by(DailyAck.day))).all()] for m in members}
    assert all(history == seen for history in per_member.values())  # the same item for everyone each day
    texts = (await session.scalars(select(Delivery.text).where(Delivery.key.like(f"daily:%:{MONDAY}")))).all()
    assert sorted(texts) == sorted(f"{seen[0]} for {m.real_name}" for m in members)


async def test_kinds_are_interleaved_in_order_of_use(session):
    await sync_items(session, items(8))
    branch = await make_branch(session)
    await make_members(session, branch, 1, joined_at=datetime(2026, 1, 1))
    kinds = [(await push_day(session, branch, MONDAY + timedelta(days=n))).item_id for n in range(4)]
    assert kinds == ["it-000", "it-001", "it-002", "it-003"]  # 禁令, 安规, 案例, 提示


async def test_when_the_list_is_used_up_a_clause_is_drawn_then_a_new_round_starts(session):
    await sync_items(session, items(2))
    branch = await make_branch(session)
    await make_members(session, branch, 2, joined_at=datetime(2026, 1, 1))
    asked = []
    clauses = iter([{"id": "chunk-9", "text": "6.9.5 作业人员应……", "source": "《安规》6.9.5"}, None])

    def clause_source(exclude_ids):
        asked.append(set(exclude_ids))
        return next(clauses)

    used = [(await push_day(session, branch, MONDAY + timedelta(days=n), clause_source)).item_id for n in range(4)]
    assert used[:2] == ["it-000", "it-001"]
    assert used[2] == "clause:chunk-9"
    assert asked == [set(), {"clause:chunk-9"}]  # the engine is told which clauses the branch already had
    assert used[3] == "it-000"  # regulations exhausted too: the item used longest ago


async def test_an_item_a_new_member_already_had_in_another_branch_is_avoided(session):
    await sync_items(session, items(3))
    old_branch = await make_branch(session, "老所")
    new_branch = await make_branch(session, "新所")
    (mover,) = await make_members(session, old_branch, 1, joined_at=datetime(2026, 1, 1))
    await make_members(session, new_branch, 1, first_tg=5000, joined_at=datetime(2026, 1, 1))
    assert (await push_day(session, old_branch, MONDAY)).item_id == "it-000"
    mover.branch_id = new_branch.id
    await session.flush()
    assert (await push_day(session, new_branch, MONDAY + timedelta(days=1))).item_id == "it-001"


async def test_pushing_twice_writes_nothing_new_and_new_members_start_next_morning(session):
    await sync_items(session, items(3))
    branch = await make_branch(session)
    await make_members(session, branch, 2, joined_at=datetime(2026, 1, 1))
    assert (await push_day(session, branch, MONDAY)).enqueued == 2
    # joined during Monday (local): not in Monday's push, even if the push were repeated
    await make_members(session, branch, 1, first_tg=9000, joined_at=datetime(2026, 11, 23, 1, 0))
    again = await push_day(session, branch, MONDAY)
    assert (again.state, again.enqueued) == ("already", 0)
    assert await session.scalar(select(func.count(Delivery.id))) == 2
    assert (await push_day(session, branch, MONDAY + timedelta(days=1))).enqueued == 3


async def test_a_branch_with_no_members_gets_nothing_and_no_item_is_used(session):
    await sync_items(session, items(2))
    branch = await make_branch(session)
    result = await push_day(session, branch, MONDAY)
    assert (result.state, result.enqueued) == ("no_members", 0)
    assert await session.scalar(select(func.count(BranchDaily.id))) == 0


# ---------------------------------------------------------------------------------- schedule

@pytest.mark.parametrize("hhmm, state", [
    ("07:29", "early"), ("07:30", "due"), ("09:00", "due"), ("11:59", "due"), ("12:00", "missed"), ("23:00", "missed"),
])
def test_default_schedule_is_due_from_0730_until_noon_on_workdays(hhmm, state):
    plan = daily.Schedule(time(7, 30), everyday=False, holidays=frozenset(), custom=False)
    assert daily.due_state(plan, at(MONDAY, hhmm), time(12, 0)) == state


def test_weekends_and_holidays_are_off_unless_every_day():
    saturday = MONDAY + timedelta(days=5)
    workdays = daily.Schedule(time(7, 30), False, frozenset({MONDAY}), True)
    everyday = daily.Schedule(time(7, 30), True, frozenset({MONDAY}), True)
    assert daily.due_state(workdays, at(saturday, "08:00"), time(12)) == "off"
    assert daily.due_state(everyday, at(saturday, "08:00"), time(12)) == "due"
    assert daily.due_state(everyday, at(MONDAY, "08:00"), time(12)) == "off"  # a holiday


def test_a_branch_pushing_after_noon_has_one_hour_of_grace():
    plan = daily.Schedule(time(13, 0), True, frozenset(), True)
    assert daily.due_state(plan, at(MONDAY, "13:59"), time(12)) == "due"
    assert daily.due_state(plan, at(MONDAY, "14:00"), time(12)) == "missed"


async def test_due_branches_follow_each_branch_time_and_skip_done_ones(session):
    await sync_items(session, items(3))
    early = await make_branch(session, "早所")
    late = await make_branch(session, "晚所")
    await make_members(session, early, 1, joined_at=datetime(2026, 1, 1))
    await daily.set_schedule(session, late.id, at="08:15")
    await session.commit()
    utc = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)  # 08:00 in Shanghai
    assert await daily.due_branches(session, utc, TZ) == [(early.id, MONDAY)]
    assert await daily.due_branches(session, utc + timedelta(minutes=20), TZ) == [(early.id, MONDAY), (late.id, MONDAY)]
    await push_day(session, early, MONDAY)
    assert await daily.due_branches(session, utc + timedelta(minutes=20), TZ) == [(late.id, MONDAY)]


async def test_after_downtime_today_is_sent_before_noon_and_missed_days_are_not(session):
    await sync_items(session, items(3))
    branch = await make_branch(session)
    await make_members(session, branch, 1, joined_at=datetime(2026, 1, 1))
    # the bot was down Monday 07:00 .. Tuesday 11:40: Monday is never sent, Tuesday still is
    tuesday = MONDAY + timedelta(days=1)
    assert await daily.due_branches(session, at(tuesday, "11:40"), TZ) == [(branch.id, tuesday)]
    assert await daily.due_branches(session, at(tuesday, "12:05"), TZ) == []
    assert await session.scalar(select(func.count(BranchDaily.id))) == 0  # nothing was written for Monday


async def test_holidays_and_schedule_changes(session):
    branch = await make_branch(session)
    await daily.set_schedule(session, branch.id, at="07:20", everyday=True)
    assert await daily.add_holidays(session, branch.id, *daily.parse_day_range("2026-10-01..2026-10-07")) == 7
    assert await daily.add_holidays(session, branch.id, *daily.parse_day_range("2026-10-07")) == 0  # already there
    assert await daily.remove_holidays(session, branch.id, *daily.parse_day_range("2026-10-03..2026-10-04")) == 2
    plan = await daily.get_schedule(session, branch.id)
    assert (plan.at, plan.everyday, len(plan.holidays)) == (time(7, 20), True, 5)
    for bad_time in ["7.20", "24:00", "", "0720x"]:
        with pytest.raises(DomainError):
            daily.parse_hhmm(bad_time)
    for bad_range in ["2026-10-07..2026-10-01", "2026-13-01", "2026-01-01..2027-06-01"]:
        with pytest.raises(DomainError):
            daily.parse_day_range(bad_range)

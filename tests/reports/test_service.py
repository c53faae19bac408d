"""The report service: idempotent submit, return/resubmit on the same record, history, visibility, points."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.services import points, reports
from bot.services.errors import DomainError
from storage.models import Report, ReportPhoto, ReportStatusChange
from tests.reports.helpers import actor, make_world, sample_input
from tests.support.waiting import wait_until

NOV_20 = datetime(2026, 11, 20, 2, 0)


async def count(session, model) -> int:
    return await session.scalar(select(func.count()).select_from(model))


async def test_submit_stores_report_with_hazards_photos_and_history(session):
    w = await make_world(session)
    result = await reports.submit(session, w.li, sample_input(), form_token="t1", now=NOV_20)
    assert result.created and result.report.version == 1 and result.report.branch_id == w.branch_a.id
    assert [h.description for h in result.report.hazards] == ["隐患1：拉线松动", "隐患2：拉线松动"]
    assert await count(session, ReportPhoto) == 2
    history = (await session.scalars(select(ReportStatusChange))).all()
    assert [(h.from_status, h.to_status, h.actor_label) for h in history] == [(None, "submitted", "李海波")]


async def test_repeated_confirm_of_the_same_form_creates_one_record(session):
    w = await make_world(session)
    first = await reports.submit(session, w.li, sample_input(), form_token="t1", now=NOV_20)
    again = await reports.submit(session, w.li, sample_input(), form_token="t1", now=NOV_20)
    assert again.duplicate and not again.changed and again.report.id == first.report.id
    assert await count(session, Report) == 1


async def test_second_form_for_a_pending_month_is_refused(session):
    w = await make_world(session)
    await reports.submit(session, w.li, sample_input(), form_token="t1", now=NOV_20)
    with pytest.raises(DomainError) as error:
        await reports.submit(session, w.li, sample_input(), form_token="t2", now=NOV_20)
    assert error.value.code == "report_exists"


async def test_fewer_than_two_sections_is_refused(session):
    w = await make_world(session)
    data = sample_input()
    data.sections["others"] = (None, None)
    with pytest.raises(DomainError) as error:
        await reports.submit(session, w.li, data, form_token="t1")
    assert error.value.code == "report_sections_missing"


async def test_return_then_resubmit_updates_the_same_record_and_bumps_version(session):
    w = await make_world(session)
    report = (await reports.submit(session, w.li, sample_input(), form_token="t1", now=NOV_20)).report
    with pytest.raises(DomainError):  # a comment is required to return
        await reports.review(session, actor(w.sec_a), report.id, approve=False, comment="  ")
    returned = await reports.review(session, actor(w.sec_a), report.id, approve=False, comment="请补充隐患照片")
    assert returned.changed and returned.report.status == "returned"
    edited = sample_input(hazards=1, photos=3)
    result = await reports.submit(session, w.li, edited, form_token="t2", now=NOV_20 + timedelta(days=1))
    assert result.resubmitted and result.report.id == report.id and result.report.version == 2
    assert len(result.report.hazards) == 1 and len(result.report.hazards[0].photos) == 3
    assert await count(session, Report) == 1
    approved = await reports.review(session, actor(w.sec_a), report.id, approve=True, version=2)
    assert approved.report.status == "approved"
    history = (await session.scalars(select(ReportStatusChange).order_by(ReportStatusChange.id))).all()
    assert [(h.to_status, h.version, h.actor_label, h.comment) for h in history] == [
        ("submitted", 1, "李海波", None),
        ("returned", 1, "陈书记", "请补充隐患照片"),
        ("submitted", 2, "李海波", None),
        ("approved", 2, "陈书记", None),
    ]


async def test_pressing_a_review_button_twice_is_harmless(session):
    w = await make_world(session)
    report = (await reports.submit(session, w.li, sample_input(), form_token="t1")).report
    assert (await reports.review(session, actor(w.sec_a), report.id, approve=True)).changed
    assert not (await reports.review(session, actor(w.sec_a), report.id, approve=True)).changed
    with pytest.raises(DomainError) as error:
        await reports.review(session, actor(w.sec_a), report.id, approve=False, comment="晚了")
    assert error.value.code == "report_not_pending"
    assert await count(session, ReportStatusChange) == 2


async def test_review_of_an_outdated_version_is_refused(session):
    w = await make_world(session)
    report = (await reports.submit(session, w.li, sample_input(), form_token="t1")).report
    with pytest.raises(DomainError) as error:
        await reports.review(session, actor(w.sec_a), report.id, approve=True, version=5)
    assert error.value.code == "report_changed"


async def test_only_the_branch_secretary_or_an_admin_may_review(session):
    w = await make_world(session)
    report = (await reports.submit(session, w.li, sample_input(), form_token="t1")).report
    for outsider in (actor(w.sec_b), actor(w.wang), actor(w.li)):
        with pytest.raises(DomainError) as error:
            await reports.review(session, outsider, report.id, approve=True)
        assert error.value.code == "report_not_found"  # the same answer as for a report that does not exist
    assert report.status == "submitted"
    assert (await reports.review(session, actor(None, admin=True), report.id, approve=True)).changed


async def test_visibility_own_report_or_own_branch(session):
    w = await make_world(session)
    report = (await reports.submit(session, w.li, sample_input(), form_token="t1")).report
    assert (await reports.get_report_for(session, actor(w.li), report.id)).id == report.id
    assert (await reports.get_report_for(session, actor(w.sec_a), report.id)).id == report.id
    for outsider in (actor(w.wang), actor(w.sec_b), actor(w.zhao)):
        with pytest.raises(DomainError):
            await reports.get_report_for(session, outsider, report.id)
    await reports.submit(session, w.zhao, sample_input(), form_token="t2")
    pending_a, total_a = await reports.pending_reports(session, actor(w.sec_a))
    assert total_a == 1 and [r.member_id for r in pending_a] == [w.li.id]
    _, total_admin = await reports.pending_reports(session, actor(None, admin=True))
    assert total_admin == 2
    with pytest.raises(DomainError):
        await reports.pending_reports(session, actor(w.li))


async def test_pending_list_is_paginated(session):
    w = await make_world(session)
    for index, month in enumerate(["2026-07", "2026-08", "2026-09"]):
        await reports.submit(session, w.li, sample_input(month), form_token=f"t{index}",
                             now=NOV_20 + timedelta(minutes=index))
    page0, total = await reports.pending_reports(session, actor(w.sec_a), page=0, per_page=2)
    page1, _ = await reports.pending_reports(session, actor(w.sec_a), page=1, per_page=2)
    assert total == 3 and [r.month for r in page0 + page1] == ["2026-07", "2026-08", "2026-09"]


async def test_member_moved_mid_month_reports_to_the_branch_at_submission(session):
    w = await make_world(session)
    w.li.branch_id = w.branch_b.id
    report = (await reports.submit(session, w.li, sample_input(), form_token="t1")).report
    assert report.branch_id == w.branch_b.id
    with pytest.raises(DomainError):
        await reports.review(session, actor(w.sec_a), report.id, approve=True)
    assert (await reports.review(session, actor(w.sec_b), report.id, approve=True)).changed


async def test_points_on_time_and_per_hazard_awarded_once_at_approval(session):
    w = await make_world(session)
    report = (await reports.submit(session, w.li, sample_input(), form_token="t1", now=NOV_20)).report
    assert await points.total(session, w.li.id) == 0  # nothing before approval
    rules = dict(points_on_time=5, points_hazard=2)
    await reports.review(session, actor(w.sec_a), report.id, approve=True, **rules)
    assert await points.total(session, w.li.id) == 5 + 2 * 2
    assert await reports.award_points(session, report, **rules) == 0  # idempotent
    assert await points.total(session, w.li.id) == 9


async def test_late_report_gets_hazard_points_only(session):
    w = await make_world(session)
    late = datetime(2026, 12, 2, 3, 0)  # reporting November on 2 December (allowed during the first days)
    report = (await reports.submit(session, w.li, sample_input("2026-11"), form_token="t1", now=late)).report
    await reports.review(session, actor(w.sec_a), report.id, approve=True, points_on_time=5, points_hazard=2)
    assert await points.total(session, w.li.id) == 4


def test_month_choices_and_deadline():
    assert reports.month_choices(date(2026, 12, 3)) == ["2026-11", "2026-12"]
    assert reports.month_choices(date(2026, 12, 6)) == ["2026-12"]
    assert reports.month_choices(date(2027, 1, 1)) == ["2026-12", "2027-01"]
    assert reports.deadline("2026-02") == date(2026, 2, 28)
    assert reports.deadline("2026-11", 25) == date(2026, 11, 25)
    assert reports.deadline("2026-02", 31) == date(2026, 2, 28)


async def test_members_without_report_excludes_submitted_but_not_returned(session):
    w = await make_world(session)
    r1 = (await reports.submit(session, w.li, sample_input(), form_token="t1")).report
    await reports.submit(session, w.wang, sample_input(), form_token="t2")
    await reports.review(session, actor(w.sec_a), r1.id, approve=False, comment="补充")
    missing = {m.real_name for m in await reports.members_without_report(session, "2026-11")}
    assert missing == {"陈书记", "李海波", "周书记", "赵敏"}


async def test_corrective_action_lifecycle_and_overdue(session):
    w = await make_world(session)
    report = (await reports.submit(session, w.li, sample_input(), form_token="t1")).report
    hazard = report.hazards[0]
    open_hazards = await reports.hazards_without_action(session, actor(w.sec_a))
    assert [h.id for h in open_hazards] == [h.id for h in report.hazards]
    with pytest.raises(DomainError):  # owner must be a member of the report's branch
        await reports.create_action(session, actor(w.sec_a), hazard.id, w.zhao.id, date(2026, 11, 30), today=date(2026, 11, 20))
    with pytest.raises(DomainError):  # another branch's secretary cannot touch the hazard
        await reports.create_action(session, actor(w.sec_b), hazard.id, w.zhao.id, date(2026, 11, 30), today=date(2026, 11, 20))
    action, created = await reports.create_action(session, actor(w.sec_a), hazard.id, w.wang.id, date(2026, 11, 25),
                                                  today=date(2026, 11, 20))
    again, created_again = await reports.create_action(session, actor(w.sec_a), hazard.id, w.wang.id,
                                                       date(2026, 11, 25), today=date(2026, 11, 20))
    assert created and not created_again and again.id == action.id
    assert [a.id for a in await reports.overdue_actions(session, date(2026, 11, 26), w.branch_a.id)] == [action.id]
    assert await reports.overdue_actions(session, date(2026, 11, 26), w.branch_b.id) == []
    assert [a.id for a in await reports.open_actions(session, actor(w.wang))] == [action.id]
    assert await reports.open_actions(session, actor(w.li)) == []
    with pytest.raises(DomainError):
        await reports.complete_action(session, actor(w.li), action.id, "已整改")
    done, changed = await reports.complete_action(session, actor(w.wang), action.id, "已紧固拉线",
                                                  reports.PhotoInput("fx", "ux", "actions/ux.jpg"))
    assert changed and done.status == "done" and done.done_photo_path == "actions/ux.jpg"
    assert await reports.overdue_actions(session, date(2026, 11, 26)) == []


async def test_actions_survive_resubmission_because_hazards_are_updated_in_place(session):
    w = await make_world(session)
    report = (await reports.submit(session, w.li, sample_input(), form_token="t1")).report
    hazard_id = report.hazards[0].id
    await reports.create_action(session, actor(w.sec_a), hazard_id, w.wang.id, date(2030, 1, 1))
    await reports.review(session, actor(w.sec_a), report.id, approve=False, comment="补充")
    await reports.submit(session, w.li, sample_input(hazards=3), form_token="t2")
    assert report.hazards[0].id == hazard_id and len(report.hazards) == 3


def test_location_plausibility():
    assert reports.is_inside_china(30.25, 120.17)
    assert not reports.is_inside_china(48.85, 2.35)


@pytest.mark.parametrize("engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_concurrent_confirms_of_one_form_make_one_record(engine):
    """Two updates confirming the same form at once (a double tap handled in parallel): the unique key
    decides, the loser sees the winner's record as a duplicate instead of failing. (PostgreSQL: the second
    INSERT waits for the first transaction. SQLite serializes writers; a stale reader gets "database is
    locked" and its update is rolled back, so there is still one record.)"""
    import asyncio

    from storage.db import create_sessionmaker
    from storage.models import Member

    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as setup:
        w = await make_world(setup)
        await setup.commit()
        li_id = w.li.id
    async with sessionmaker() as first, sessionmaker() as second:
        li_first, li_second = await first.get(Member, li_id), await second.get(Member, li_id)
        await second.commit()  # end the read; expire_on_commit=False keeps the loaded member
        one = await reports.submit(first, li_first, sample_input(), form_token="same")
        racing = asyncio.create_task(reports.submit(second, li_second, sample_input(), form_token="same"))
        await _until_a_lock_is_awaited(engine)  # the second INSERT now waits on the unique key
        await first.commit()
        two = await racing
        await second.commit()
    assert one.created and two.duplicate and two.report.id == one.report.id
    async with sessionmaker() as check:
        assert await count(check, Report) == 1


async def _until_a_lock_is_awaited(engine, timeout: float = 10.0) -> None:
    from sqlalchemy import text

    async with engine.connect() as watcher:
        async def waiting() -> bool:
            found = await watcher.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            await watcher.rollback()
            return bool(found)

        await wait_until(waiting, timeout, message="the second transaction never waited for the first")


async def test_reviewers_are_the_secretaries_or_the_admins_when_a_branch_has_none(session):
    from storage.models import Member, Role

    w = await make_world(session)
    assert [m.real_name for m in await reports.reviewers_for(session, w.branch_a.id)] == ["陈书记"]
    session.add(Member(telegram_id=1, real_name="王管理", role=Role.ADMIN))
    w.sec_b.active = False
    await session.flush()
    assert [m.real_name for m in await reports.reviewers_for(session, w.branch_b.id)] == ["王管理"]

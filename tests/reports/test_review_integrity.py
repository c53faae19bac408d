"""Review decisions are made once, by someone other than the author: two reviewers acting at the same moment
(approve in one chat, return in another) — one wins, the other is told, points and notices follow the winner;
a secretary's own report goes to another reviewer."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, func, select

from bot.services import points, reports
from bot.services.errors import DomainError
from storage.db import create_sessionmaker
from storage.models import Member, Report, ReportStatusChange, Role
from tests.reports.helpers import actor, make_world, sample_input
from tests.support.waiting import wait_until


async def _submitted(sessionmaker):
    async with sessionmaker() as setup:
        world = await make_world(setup)
        admin = Member(telegram_id=1, real_name="王管理", role=Role.ADMIN)
        setup.add(admin)
        submitted = await reports.submit(setup, world.li, sample_input(), form_token="t1")
        await setup.commit()
        return world, admin, submitted.report.id


async def _signal_on_write(session, signal: asyncio.Event) -> None:
    """Set `signal` when this session's connection sends a statement that writes or locks (it then blocks
    behind the other open transaction, or goes ahead once that has committed)."""

    def before(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT")) or "FOR UPDATE" in statement.upper():
            signal.set()

    connection = await session.connection()
    event.listen(connection.sync_connection, "before_cursor_execute", before)


@pytest.mark.parametrize("first_approves", [True, False], ids=["approve-wins", "return-wins"])
async def test_two_reviewers_at_once_one_wins_and_the_other_is_told(engine, first_approves):
    sessionmaker = create_sessionmaker(engine)
    world, admin, report_id = await _submitted(sessionmaker)
    async with sessionmaker() as first, sessionmaker() as second:
        await reports.review(first, actor(world.sec_a), report_id, approve=first_approves, comment="请补充照片",
                             points_on_time=5, points_hazard=2)  # decided, not yet committed
        writing = asyncio.Event()
        await _signal_on_write(second, writing)
        racing = asyncio.create_task(reports.review(
            second, actor(admin, admin=True), report_id, approve=not first_approves, comment="请补充照片",
            points_on_time=5, points_hazard=2))
        await wait_until(lambda: writing.is_set() or racing.done(), message="the second review never wrote")
        await first.commit()
        with pytest.raises(DomainError) as refused:
            await racing
        await second.rollback()
    assert refused.value.code == "report_decided"
    async with sessionmaker() as check:
        report = await check.get(Report, report_id)
        decisions = (await check.scalars(select(ReportStatusChange.to_status).where(
            ReportStatusChange.report_id == report_id, ReportStatusChange.from_status.is_not(None)))).all()
        earned = await points.total(check, world.li.id)
    assert report.status == ("approved" if first_approves else "returned")
    assert decisions == [report.status]
    assert (earned > 0) == first_approves


async def test_a_secretary_cannot_review_their_own_report(session):
    world = await make_world(session)
    own = await reports.submit(session, world.sec_a, sample_input(), form_token="own")
    with pytest.raises(DomainError) as refused:
        await reports.review(session, actor(world.sec_a), own.report.id, approve=True, points_on_time=5)
    assert refused.value.code == "report_own"
    assert (await session.get(Report, own.report.id)).status == "submitted"
    assert await points.total(session, world.sec_a.id) == 0
    pending, total = await reports.pending_reports(session, actor(world.sec_a))
    assert total == 0 and pending == []


async def test_a_secretarys_report_goes_to_the_other_secretary_or_the_admins(session):
    world = await make_world(session)
    admin = Member(telegram_id=1, real_name="王管理", role=Role.ADMIN)
    session.add(admin)
    await session.flush()
    assert await reports.reviewers_for(session, world.branch_a.id, author_id=world.sec_a.id) == [admin]
    world.wang.role = Role.SECRETARY
    await session.flush()
    assert await reports.reviewers_for(session, world.branch_a.id, author_id=world.sec_a.id) == [world.wang]
    assert world.sec_a in await reports.reviewers_for(session, world.branch_a.id, author_id=world.li.id)
    own = await reports.submit(session, world.sec_a, sample_input(), form_token="own")
    result = await reports.review(session, actor(world.wang), own.report.id, approve=True)
    assert result.changed and result.report.status == "approved"
    assert await session.scalar(select(func.count()).select_from(Report)) == 1

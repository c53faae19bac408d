"""An update's first reads beside its session (storage/side_reads.py): on SQLite, who is asking and the chat's form
state are read on a connection of their own, and what they return behaves exactly like what a query loads."""
from __future__ import annotations

import contextlib
import shutil

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import select

from bot.fsm_storage import SqlStorage, update_session
from bot.services import membership
from storage.db import create_engine, create_sessionmaker
from storage.models import Member
from storage.side_reads import SideReads


@pytest.fixture
async def engine(tmp_path, migrated_sqlite_file):
    """Side reads are for SQLite files only (PostgreSQL reads through the session: last test)."""
    shutil.copyfile(migrated_sqlite_file, tmp_path / "test.db")
    db = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    yield db
    await db.dispose()


@pytest.fixture
async def side_reads(engine):
    reads = SideReads.for_engine(engine)
    yield reads
    await reads.close()


@pytest.fixture
def sessionmaker(engine):
    return create_sessionmaker(engine)


async def _join(sessionmaker, telegram_id: int, name: str = "王五", branch: str = "余山供电所") -> None:
    async with sessionmaker() as session:
        found = await membership.find_branch(session, branch) or await membership.add_branch(session, branch)
        invite = await membership.create_invite(session, found, "member", uses=5, days=7)
        await membership.join(session, telegram_id, invite.code, name)
        await session.commit()


async def test_the_member_read_beside_the_session_equals_the_one_a_query_loads(engine, sessionmaker, side_reads):
    await _join(sessionmaker, 501)
    async with sessionmaker() as session:
        queried = await membership.member_by_telegram_id(session, 501)
        expected = {c.key: getattr(queried, c.key) for c in Member.__table__.columns}
        branch_name = queried.branch.name
    async with sessionmaker() as session:
        member = await side_reads.member(session, 501)
        assert {c.key: getattr(member, c.key) for c in Member.__table__.columns} == expected
        assert member.branch.name == branch_name
        assert member in session and not session.dirty  # loaded, not changed
        assert engine.sync_engine.pool.checkedout() == 0  # and no pooled connection was taken for it


async def test_a_change_to_that_member_is_stored_by_the_session(sessionmaker, side_reads):
    await _join(sessionmaker, 502)
    async with sessionmaker() as session:
        member = await side_reads.member(session, 502)
        await membership.set_locale(session, member, "en")
        await session.commit()
    async with sessionmaker() as session:
        assert (await membership.member_by_telegram_id(session, 502)).locale == "en"


async def test_someone_who_never_joined_reads_as_nobody(sessionmaker, side_reads):
    async with sessionmaker() as session:
        assert await side_reads.member(session, 999_999) is None


async def test_a_member_without_a_branch_has_none(sessionmaker, side_reads):
    async with sessionmaker() as session:
        session.add(Member(telegram_id=503, real_name="赵六", role="admin"))
        await session.commit()
    async with sessionmaker() as session:
        member = await side_reads.member(session, 503)
        assert member.branch_id is None and member.branch is None and member.active is True


async def test_an_object_the_session_already_holds_is_returned_as_is(sessionmaker, side_reads):
    await _join(sessionmaker, 504)
    async with sessionmaker() as session:
        held = await session.scalar(select(Member).where(Member.telegram_id == 504))
        held.real_name = "改过的名字"
        assert await side_reads.member(session, 504) is held


@contextlib.asynccontextmanager
async def an_update(sessionmaker):
    """A session as DbSessionMiddleware gives one to an update (bot/fsm_storage.py reads it from `update_session`)."""
    async with sessionmaker() as session:
        token = update_session.set(session)
        try:
            yield session
        finally:
            update_session.reset(token)


async def test_form_state_is_read_beside_the_session_until_the_update_changes_it(engine, sessionmaker, side_reads):
    """The chat's state comes from the side connection at the start of an update; once the update has changed it,
    its own uncommitted change is what it reads back."""
    storage = SqlStorage(sessionmaker, side_reads)
    key = StorageKey(bot_id=1, chat_id=505, user_id=505)
    async with an_update(sessionmaker) as session:
        await storage.set_state(key, "ReportForm:hazard")
        await storage.set_data(key, {"step": 2})
        assert await storage.get_state(key) == "ReportForm:hazard"  # its own write, not yet committed
        await session.commit()
    async with an_update(sessionmaker) as session:
        assert await storage.get_state(key) == "ReportForm:hazard"  # the next update: from the side connection
        assert await storage.get_data(key) == {"step": 2}
        assert engine.sync_engine.pool.checkedout() == 0
        await storage.set_state(key, None)
        await storage.set_data(key, {})
        assert await storage.get_state(key) is None  # its own change again
        await session.commit()
    async with an_update(sessionmaker):
        assert await storage.get_state(key) is None and await storage.get_data(key) == {}


async def test_postgres_and_in_memory_databases_read_through_the_session():
    for url in ("sqlite+aiosqlite:///:memory:", "postgresql+asyncpg://u@127.0.0.1:5432/test"):
        engine = create_engine(url)
        try:
            assert SideReads.for_engine(engine) is None
        finally:
            await engine.dispose()

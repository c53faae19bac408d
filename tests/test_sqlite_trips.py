"""SQLite through aiosqlite: one trip to the connection's thread per statement, none for a COMMIT or ROLLBACK
with no transaction open (storage/db.py), and still everything SQLAlchemy expects from a cursor."""
from __future__ import annotations

import aiosqlite.core
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from handlers.ui.callbacks import LanguageChoice
from storage.db import create_engine
from storage.models import Member
from tests.test_handlers_join import join, make_invite

MEMBER = 1001


@pytest.fixture
def trips(monkeypatch):
    """What each trip to a SQLite connection's thread ran, in order (observed, not replaced)."""
    seen: list[str] = []
    real = aiosqlite.core.Connection._execute

    async def observed(self, fn, *args, **kwargs):
        seen.append(getattr(fn, "__name__", type(fn).__name__))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", observed)
    return seen


async def engine_with_table(tmp_path, ddl: str):
    """A file database of the project's engine (its SQLite connection set-up included) with one table."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.db'}")
    async with engine.begin() as setup:
        await setup.execute(text(ddl))
    return engine


async def test_a_statement_is_one_trip_and_returns_rows_counts_and_ids(tmp_path, trips):
    engine = await engine_with_table(tmp_path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, who TEXT UNIQUE, n INT)")
    try:
        async with engine.connect() as connection:
            trips.clear()
            inserted = await connection.execute(text("INSERT INTO notes (who, n) VALUES ('a', 1)"))
            assert inserted.lastrowid == 1 and trips == ["_run_statement"]
            await connection.execute(text("INSERT INTO notes (who, n) VALUES (:who, :n)"),
                                     [{"who": "b", "n": 2}, {"who": "c", "n": 3}])  # executemany
            updated = await connection.execute(text("UPDATE notes SET n = n + 10 WHERE n >= 2"))
            assert updated.rowcount == 2
            returned = await connection.execute(text("UPDATE notes SET n = 0 WHERE who = 'a' RETURNING id, who"))
            assert returned.all() == [(1, "a")]
            rows = await connection.execute(text("SELECT who, n FROM notes ORDER BY id"))
            assert rows.keys() == ["who", "n"] and rows.all() == [("a", 0), ("b", 12), ("c", 13)]
            assert trips.count("_run_statement") == 5 and "cursor" not in trips and "fetchall" not in trips
            with pytest.raises(IntegrityError):
                await connection.execute(text("INSERT INTO notes (who, n) VALUES ('a', 9)"))
            await connection.commit()
        async with engine.connect() as check:
            assert (await check.execute(text("SELECT count(*) FROM notes"))).scalar() == 3
    finally:
        await engine.dispose()


async def test_an_open_transaction_is_still_rolled_back_when_its_connection_returns(tmp_path, trips):
    engine = await engine_with_table(tmp_path, "CREATE TABLE notes (who TEXT)")
    try:
        async with engine.connect() as reader:
            trips.clear()
            await reader.execute(text("SELECT * FROM notes"))
            await reader.commit()
            assert trips == ["_run_statement"]  # a read opens no SQLite transaction: nothing to commit there
        trips.clear()
        async with engine.connect() as abandoned:  # a write, then returned without commit (e.g. an error)
            await abandoned.execute(text("INSERT INTO notes VALUES ('lost')"))
        assert trips == ["_run_statement", "rollback"]
        async with engine.begin() as later:  # no lock left behind
            await later.execute(text("INSERT INTO notes VALUES ('kept')"))
        async with engine.connect() as check:
            assert (await check.execute(text("SELECT who FROM notes"))).scalars().all() == ["kept"]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_a_read_only_update_makes_no_commit_trip_a_writing_one_commits_before_the_reply(harness, app, trips):
    await join(harness, app, MEMBER, "甲成员", await make_invite(app, "甲所"))
    trips.clear()
    assert "我能为您做什么" in (await harness.send(MEMBER, "/help"))[0]
    # the chat's form state and who is asking are read beside the update's session (storage/side_reads.py): a
    # read-only update takes no pooled connection at all, so makes no trip to one, and no COMMIT
    assert trips == []

    async def mark_reply(method) -> None:
        trips.append(f"bot:{type(method).__name__}")  # in the same list: the order of trips and replies

    trips.clear()
    harness.bot.session.before_call = mark_reply
    await harness.press(MEMBER, LanguageChoice(code="en").pack())
    first_reply = next(i for i, step in enumerate(trips) if step.startswith("bot:"))
    assert "commit" in trips[:first_reply], trips
    async with app.sessionmaker() as other:  # stored (before the reply: tests/test_commit_before_reply.py)
        assert await other.scalar(select(Member.locale).where(Member.telegram_id == MEMBER)) == "en"

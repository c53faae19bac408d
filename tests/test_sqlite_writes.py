"""SQLite writers of one process take turns on an asyncio lock, not in SQLite's busy handler (storage/db.py)."""
from __future__ import annotations

import asyncio

from sqlalchemy import text

from storage.db import create_engine, waiting_writers, write_turn
from tests.support.waiting import wait_until


async def test_a_second_writer_waits_for_its_turn_then_writes(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    try:
        async with engine.begin() as setup:
            await setup.execute(text("CREATE TABLE notes (who TEXT)"))

        async def write(who: str) -> None:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO notes VALUES (:who)"), {"who": who})

        async with engine.connect() as first:
            await first.execute(text("INSERT INTO notes VALUES ('first')"))  # holds SQLite's write lock, open
            second = asyncio.create_task(write("second"))
            await wait_until(lambda: second.done() or waiting_writers(engine) == 1,
                             message="the second writer never queued for its turn")
            assert not second.done() and write_turn(engine).locked()  # queued here, not in SQLite's busy handler
            await first.commit()
        await second
        async with engine.connect() as check:
            assert (await check.execute(text("SELECT who FROM notes ORDER BY rowid"))).scalars().all() == ["first", "second"]
        assert not write_turn(engine).locked() and waiting_writers(engine) == 0
    finally:
        await engine.dispose()


async def test_a_rolled_back_or_abandoned_writer_passes_the_turn_on(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    try:
        async with engine.begin() as setup:
            await setup.execute(text("CREATE TABLE notes (who TEXT)"))
        async with engine.connect() as failed:
            await failed.execute(text("INSERT INTO notes VALUES ('x')"))
            await failed.rollback()
        assert not write_turn(engine).locked()
        async with engine.connect() as abandoned:  # closed without commit or rollback: returned to the pool
            await abandoned.execute(text("INSERT INTO notes VALUES ('y')"))
        assert not write_turn(engine).locked()
        async with engine.begin() as later:
            await later.execute(text("INSERT INTO notes VALUES ('z')"))
        async with engine.connect() as check:
            assert (await check.execute(text("SELECT who FROM notes"))).scalars().all() == ["z"]
    finally:
        await engine.dispose()

"""The sending turn: however many bot processes run, only one of them sends, and when it stops or dies
another takes over (bot/delivery/turn.py)."""
from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from sqlalchemy import text

from bot.delivery.turn import (
    ADVISORY_CLASS,
    FileTurn,
    OwnTurn,
    TurnTakingSender,
    turn_for,
)
from tests.support.waiting import wait_until


class CountingTurn:
    """Wraps a real turn to count how often this process asked for it."""

    def __init__(self, turn) -> None:
        self.turn, self.asked = turn, 0

    async def try_take(self) -> bool:
        self.asked += 1
        return await self.turn.try_take()

    async def still_held(self) -> bool:
        return await self.turn.still_held()

    async def release(self) -> None:
        await self.turn.release()


class IdleSender:
    """Stands in for DeliverySender: these tests are about who sends, not how."""

    def __init__(self) -> None:
        self.stopped = asyncio.Event()

    def start(self) -> asyncio.Task:
        return asyncio.ensure_future(self.stopped.wait())

    def kick(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped.set()


def process_on(engine) -> tuple[TurnTakingSender, CountingTurn]:
    turn = CountingTurn(turn_for(engine))
    return TurnTakingSender(turn, IdleSender, retry_interval=0.01, check_interval=0.01), turn


async def test_only_one_process_sends_and_the_other_takes_over_when_it_stops(engine):
    first, _ = process_on(engine)
    first.start()
    await wait_until(lambda: first.sending)
    second, second_turn = process_on(engine)
    second.start()
    await wait_until(lambda: second_turn.asked >= 3)  # asked three times and refused each time
    assert first.sending and not second.sending

    await first.stop()
    await wait_until(lambda: second.sending)
    await second.stop()


async def test_a_holder_that_loses_its_database_connection_stops_sending(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server connection to lose; the killed-process test covers SQLite")
    first, _ = process_on(engine)
    first.start()
    await wait_until(lambda: first.sending)
    second, _ = process_on(engine)
    second.start()

    async with engine.connect() as admin:  # the server ends the holder's session, as after a network cut
        await admin.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = :cls"),
            {"cls": ADVISORY_CLASS})
        await admin.commit()
    await wait_until(lambda: second.sending and not first.sending)
    await asyncio.gather(first.stop(), second.stop())


async def test_the_turn_of_a_killed_process_is_free_at_once(tmp_path):
    lock_path = tmp_path / "fieldmate.db.sender.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from filelock import FileLock; lock = FileLock(sys.argv[1]); lock.acquire(); "
         "print('held', flush=True); time.sleep(60)", str(lock_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        turn = FileTurn(lock_path)
        assert not await turn.try_take()
        holder.kill()
        holder.wait()
        assert await turn.try_take()
        await turn.release()
    finally:
        holder.kill()
        holder.wait()


class CrashingSender(IdleSender):
    def start(self) -> asyncio.Task:
        async def crash() -> None:
            raise RuntimeError("sender bug")

        return asyncio.ensure_future(crash())


async def test_a_crashed_sender_is_reported_and_started_again(caplog):
    made: list[CrashingSender] = []

    def make() -> CrashingSender:
        made.append(CrashingSender())
        return made[-1]

    delivery = TurnTakingSender(OwnTurn(), make, check_interval=0.01)
    delivery.start()
    await wait_until(lambda: len(made) >= 2)
    await delivery.stop()
    assert "delivery sender crashed; restarting it" in caplog.text
    assert "sender bug" in caplog.text

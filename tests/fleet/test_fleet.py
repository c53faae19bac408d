"""Two webhook bot processes on PostgreSQL + Redis + a Chroma server, behind the fake Bot API server, which
delivers updates to them in turn (a load balancer's round robin).

One test in phases (starting a fleet costs a minute on two shared cores, so it is started once):
1. the morning push goes out exactly once to every member, at no more than DELIVERY_RATE;
2. a report form whose steps alternate between the processes completes;
3. questions are answered from the shared index while `fieldmate ingest` re-indexes, and the new document
   is answered from once the ingestion published its version;
4. the process holding the sending turn is killed (SIGKILL): the other sends within 30 s;
5. /healthz turns 503 when (our private) Redis stops and 200 when it returns.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.simulator import FakeTelegramServer, SimDriver, SimUser
from tests.fleet.infra import (
    REPORT_FORM, bot_process, cli, fleet_servers, free_port, healthy, http_status, wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:FLEET-test-token"
SECRET = "fleet-secret"
RATE = 8.0  # DELIVERY_RATE for the fleet: low, so a doubled rate would show within a few seconds
PUSH_MEMBERS = 32
LI = 5001
li = SimUser(id=LI, first_name="海波", last_name="李")
NEW_DOC = "本所专用规定：变压器台架登高前必须由两人核对编号，编号为FLEET七号。"


async def seed(database_url: str) -> None:
    """The branch with its members, as operators would have created them (migrations included)."""
    from sqlalchemy import update

    from bot.services import daily, membership
    from storage.db import create_engine, create_sessionmaker
    from storage.migrate import upgrade
    from storage.models import Member

    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session:
            branch = await membership.add_branch(session, "余山供电所")
            invite = await membership.create_invite(session, branch, "member", uses=PUSH_MEMBERS + 1)
            for n in range(PUSH_MEMBERS):
                await membership.join(session, 6000 + n, invite.code, "员工" + "甲乙丙丁戊己庚辛"[n // 8] + "一二三四五六七八"[n % 8])
            await membership.join(session, LI, invite.code, "李海波")
            await daily.set_schedule(session, branch.id, at="00:00", everyday=True)
            # members who join on a push day start the next morning: these joined two days ago
            await session.execute(update(Member).values(joined_at=datetime.now(timezone.utc).replace(tzinfo=None)
                                                        - timedelta(days=2)))
            await session.commit()
    finally:
        await engine.dispose()


async def enqueue_notices(database_url: str, chat_ids: list[int], tag: str) -> None:
    from bot.services.outbox import enqueue
    from storage.db import create_engine, create_sessionmaker

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            for chat_id in chat_ids:
                await enqueue(session, key=f"{tag}:{chat_id}", chat_id=chat_id, kind="notice", text=f"通知 {tag}")
            await session.commit()
    finally:
        await engine.dispose()


async def report_status(database_url: str) -> str | None:
    from sqlalchemy import text

    from storage.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text(
                "SELECT r.status FROM reports r JOIN members m ON m.id = r.member_id WHERE m.telegram_id = :t"),
                {"t": LI})
    finally:
        await engine.dispose()


def midday_zone() -> str:
    """A fixed-offset time zone where it is about noon now: the push is due whatever the hour and day the
    test runs (no day boundary near), since the bot processes read the real clock."""
    offset = 12 - datetime.now(timezone.utc).hour  # -11 … +12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-8 is UTC+8


def push_seconds(times: list[float]) -> float:
    """From the first to the last message of a push, as the fake server received them."""
    return max(times) - min(times)


def least_push_seconds(messages: int, arrival_jitter: float = 1.0) -> float:
    """The shortest a push of `messages` can take at the delivery rate: the limiter admits at most RATE
    messages in any one-second window (bot/delivery/limiter.py), so message k goes at least a second after
    message k − RATE. A lower bound on the whole push, because arrival times at the server jitter on a loaded
    runner (two messages held up together arrive in the same second): 32 messages take at least 3 s, while two
    processes sending at once (16 each) would be done in about 1.5 s. `arrival_jitter` is how late the first
    may leave or arrive."""
    return (messages - 1) // int(RATE) - arrival_jitter


async def step(driver: SimDriver, action, expect: str):
    since = driver.mark()
    await action
    return await driver.wait_for(LI, expect, since=since)


async def test_a_fleet_of_two_webhook_processes(tmp_path):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge" / "daily", knowledge / "daily")
    shutil.copy(ROOT / "knowledge" / "作业现场十不干.md", knowledge)
    async with fleet_servers(tmp_path) as (database, redis, chroma), FakeTelegramServer(token=TOKEN) as server:
        await seed(database.url)
        with contextlib.ExitStack() as stop_at_exit:
            env = {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": server.base_url,
                   "DATABASE_URL": database.url, "REDIS_URL": redis.url, "CHROMA_HOST": "127.0.0.1",
                   "CHROMA_PORT": str(chroma.port), "KNOWLEDGE_DIR": str(knowledge),
                   "INDEX_DIR": str(tmp_path / "ingest-index"), "KNOWLEDGE_SYNC_ON_START": "false",
                   "WEBHOOK_SECRET": SECRET, "WEBHOOK_URL": "https://fleet.example", "DELIVERY_RATE": str(RATE),
                   "DAILY_DEFAULT_TIME": "00:00", "DAILY_LATE_CUTOFF": "23:59", "TIMEZONE": midday_zone(), "ADMIN_IDS": "1"}
            ingest = cli(["ingest"], env, tmp_path, "ingest-1").start()
            assert await asyncio.to_thread(ingest.popen.wait, 300) == 0, ingest.output()

            driver = SimDriver(server, quiet=0.05, timeout=30)
            members = [6000 + n for n in range(PUSH_MEMBERS)]
            for user_id in members:
                driver.user(SimUser(id=user_id, first_name=f"员工{user_id}"))
            driver.user(li)
            ports = [free_port(), free_port()]
            server.webhook_targets = [f"http://127.0.0.1:{port}/telegram/webhook" for port in ports]
            await server.call_method("setWebhook", {"url": "https://fleet.example/telegram/webhook",
                                                    "secret_token": SECRET})  # `fieldmate webhook set`, once
            bots = [bot_process(f"bot{i}", {**env, "INDEX_DIR": str(tmp_path / f"index{i}")}, tmp_path, port).start()
                    for i, port in enumerate(ports)]
            for process in bots:
                stop_at_exit.callback(process.stop)
            health = [f"http://127.0.0.1:{port}/healthz" for port in ports]
            for url in health:
                await wait_until(lambda url=url: healthy(url), 240, f"{url} to report ok")

            # 1. the morning push: exactly once per member, within the rate
            sent = lambda: [c for c in server.calls_for("sendMessage") if c.outcome == "ok" and c.chat_id in members]  # noqa: E731
            await wait_until(lambda: _true(len({c.chat_id for c in sent()}) == PUSH_MEMBERS), 120,
                             "the morning push to reach every member")
            await server.wait_quiet(quiet=1.0, timeout=30)
            per_chat = Counter(c.chat_id for c in sent())
            assert set(per_chat.values()) == {1}, per_chat
            assert push_seconds([c.t for c in sent()]) >= least_push_seconds(PUSH_MEMBERS)

            # 2. a report form whose steps alternate between the two processes
            first_update = len(server.all_updates)
            for kind, value, expect in REPORT_FORM:
                await step(driver, driver.send(li, value) if kind == "text" else driver.press(li, value), expect)
            form_ids = {u["update_id"] for u in server.all_updates[first_update:]}
            served_by = {url for uid, url in server.webhook_deliveries if uid in form_ids}
            assert served_by == set(server.webhook_targets), "the form's steps were not spread over both processes"
            assert await report_status(database.url) == "submitted"

            # 3. questions answered from the shared index during a re-ingest; the new document once published
            (knowledge / "本所专用规定.md").write_text(f"# 本所专用规定\n\n第一条 {NEW_DOC}\n", encoding="utf-8")
            reingest = cli(["ingest"], env, tmp_path, "ingest-2").start()
            answered = 0
            while reingest.popen.poll() is None or answered < 4:
                reply = await step(driver, driver.send(li, "作业现场十不干有哪些"), "")
                assert "十不干" in reply.text or "不干" in reply.text, reply.text
                answered += 1
            assert reingest.popen.returncode == 0, reingest.output()

            async def new_doc_answered() -> bool:
                reply = await step(driver, driver.send(li, "变压器台架登高前核对编号是多少"), "")
                return "FLEET七号" in reply.text

            await wait_until(new_doc_answered, 60, "an answer from the newly ingested document", interval=2)

            # 4. SIGKILL the process holding the sending turn: the other one sends within 30 s
            holder = next(b for b in bots if "holds the sending turn" in b.output())
            survivor = next(b for b in bots if b is not holder)
            holder.signal(signal.SIGKILL)
            killed_at = time.monotonic()
            await enqueue_notices(database.url, members[:3], "after-kill")
            after = lambda: [c for c in server.calls_for("sendMessage")  # noqa: E731
                             if c.outcome == "ok" and c.t > killed_at and "after-kill" in str(c.params.get("text"))]
            await wait_until(lambda: _true(len(after()) == 3), 45, "the surviving process to send")
            assert max(c.t for c in after()) - killed_at <= 30
            assert "holds the sending turn" in survivor.output()

            # 5. /healthz follows Redis
            survivor_health = health[bots.index(survivor)]
            redis.stop()
            status, body = await wait_until(lambda: _status_is(survivor_health, 503), 30, "/healthz to turn 503")
            assert body["checks"]["redis"].startswith("error"), body
            await redis.start()
            await wait_until(lambda: _status_is(survivor_health, 200), 30, "/healthz to recover")

            # graceful stop: SIGTERM ends the survivor cleanly (drained, turn released)
            survivor.signal(signal.SIGTERM)
            assert await asyncio.to_thread(survivor.popen.wait, 60) == 0, survivor.output()[-3000:]


async def _true(value: bool) -> bool:
    return value


async def _status_is(url: str, expected: int):
    status, body = await http_status(url)
    return (status, body) if status == expected else None

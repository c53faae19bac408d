"""Benchmark: the daily push to 10,000 members in 20 branches, all due at once, through the real delivery path.

    .venv/bin/python bench/broadcast.py                       # temp SQLite file
    .venv/bin/python bench/broadcast.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/broadcast.py --members 1000 --branches 4 --kill-signal TERM

What runs where:
* this (parent) process: builds the database (branches, members, item files synced), runs the fake Bot
  API server (1% 429 with retry_after 1–3 s, 0.5% of members blocked → 403, a little latency), watches.
* child process 1 (`--child`): what the bot process does — the daily scan at the branches' time (writes
  10,000 ack + delivery rows) and the DeliverySender at 25 msg/s. Killed halfway (SIGKILL by default).
* child process 2: a fresh OS process on the same database: the scan again (finds every branch done)
  and a new sender that recovers the dead sender's rows and drains the rest, then exits. Both go through
  the production delivery path: the sender runs once the process holds the sending turn, which process 2
  gets only because the OS freed the killed process's lock (bot/delivery/turn.py).

Kill semantics, measured here rather than assumed: after SIGKILL the rows the dead sender had claimed
but not yet called Telegram for go back to pending at once (its PID is gone on this host) and are sent by
process 2. A row whose HTTP call was in flight at the kill is marked `uncertain` and never re-sent —
Telegram may have delivered it and there is no API to ask. The report shows how many such rows there
were and whether the server had in fact delivered them. With `--kill-signal TERM` the sender drains:
in-flight calls finish and are recorded, nothing is uncertain.

Everything is computed from the server's records (arrival times, outcomes) and the database.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TZ_NAME = "Asia/Shanghai"
PUSH_AT = "07:30"


def _push_now(day: date) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.combine(day, dtime.fromisoformat(PUSH_AT), tzinfo=ZoneInfo(TZ_NAME))


# ------------------------------------------------------------------------------------------ database

def _engine(url: str, schema: str | None):
    from storage.db import create_engine

    if schema:
        return create_engine(url, connect_args={"server_settings": {"search_path": schema}})
    return create_engine(url)


async def _prepare_db(url: str, schema: str | None, branches: int, members: int, seed: int) -> list[int]:
    """Migrate, sync the item files, create branches and members; returns the members' telegram ids."""
    from sqlalchemy import insert

    from bot.services import daily
    from bot.services.daily_items import load_and_sync
    from storage.db import create_engine, create_sessionmaker
    from storage.migrate import upgrade
    from storage.models import Branch, Member

    if schema:
        admin = create_engine(url)
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        await admin.dispose()
    engine = _engine(url, schema)
    await upgrade(engine)
    telegram_ids = [10_000_000 + n for n in range(members)]
    async with create_sessionmaker(engine)() as session:
        result, _ = await load_and_sync(session, ROOT / "knowledge" / "daily")
        if not result.items:
            raise SystemExit("no daily items in knowledge/daily")
        branch_ids = []
        for n in range(branches):
            branch = Branch(name=f"基准供电所{n + 1:02d}")
            session.add(branch)
            await session.flush()
            branch_ids.append(branch.id)
            await daily.set_schedule(session, branch.id, at=PUSH_AT, everyday=True)
        joined = datetime(2026, 1, 1)
        rows = [{"telegram_id": tg, "real_name": f"员工{n:05d}", "branch_id": branch_ids[n % branches],
                 "role": "member", "is_party_member": False, "active": True, "reachable": True, "joined_at": joined}
                for n, tg in enumerate(telegram_ids)]
        for start in range(0, len(rows), 2000):
            await session.execute(insert(Member), rows[start:start + 2000])
        await session.commit()
    await engine.dispose()
    return telegram_ids


async def _db_outcome(url: str, schema: str | None) -> dict:
    from sqlalchemy import func, select

    from bot.delivery import counts_by_status
    from storage.db import create_sessionmaker
    from storage.models import Delivery, Member

    engine = _engine(url, schema)
    try:
        async with create_sessionmaker(engine)() as session:
            statuses = await counts_by_status(session, kind="daily")
            unreachable = await session.scalar(select(func.count(Member.id)).where(Member.reachable.is_(False)))
            uncertain = (await session.scalars(select(Delivery.chat_id).where(Delivery.status == "uncertain"))).all()
            attempts = await session.scalar(select(func.max(Delivery.attempts)))
        return {"statuses": statuses, "unreachable": unreachable, "uncertain_chats": list(uncertain),
                "max_attempts": attempts}
    finally:
        await engine.dispose()


async def _pending(url: str, schema: str | None) -> int:
    from bot.services import outbox
    from storage.db import create_sessionmaker

    engine = _engine(url, schema)
    try:
        async with create_sessionmaker(engine)() as session:
            return await outbox.pending_count(session)
    finally:
        await engine.dispose()


# ------------------------------------------------------------------------------------------ child

async def child_main(args: argparse.Namespace) -> None:
    """One bot-like process: the daily scan at the branches' time, then the sender until drained."""
    import logging

    from aiogram.client.default import DefaultBotProperties
    from aiogram.enums import ParseMode

    from bot.app import create_app
    from bot.config import load_settings
    from bot.delivery import DeliverySender, TurnTakingSender
    from bot.delivery.turn import turn_for
    from bot.services import outbox
    from bot.simulator.harness import make_bot
    from schedulers.daily import daily_scan

    logging.basicConfig(level=logging.WARNING, format=f"[child {os.getpid()}] %(levelname)s %(name)s: %(message)s")
    settings = load_settings(_env_file=None, database_url=args.database_url, knowledge_dir=ROOT / "knowledge",
                             timezone=TZ_NAME)
    app = await create_app(settings, migrate=False, engine=_engine(settings.database_url, args.schema))

    class _Server:  # make_bot only needs the base URL
        base_url = args.api_base

    bot = make_bot(_Server, default=DefaultBotProperties(parse_mode=ParseMode.HTML))  # type: ignore[arg-type]
    departures = open(args.departures, "a", buffering=1)  # line-buffered: survives a SIGKILL

    async def note_departure(make_request, bot, method):  # aiogram request middleware
        if method.__api_method__ == "sendMessage":
            departures.write(f"{time.monotonic()}\n")  # CLOCK_MONOTONIC: comparable with the server's times
        return await make_request(bot, method)

    bot.session.middleware(note_departure)
    senders: list[DeliverySender] = []

    def make_sender() -> DeliverySender:
        senders.append(DeliverySender(app.sessionmaker, bot, rate=args.rate, chat_interval=1.0, lease_seconds=60))
        return senders[-1]

    # the production path: the sender runs once this process holds the sending turn, which the killed
    # first process held (bot/delivery/turn.py)
    delivery = TurnTakingSender(turn_for(app.engine), make_sender, retry_interval=1.0)
    app.delivery = delivery
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)  # graceful: drain in-flight sends, then exit
    delivery.start()
    started = time.monotonic()
    results = await daily_scan(app, now=datetime.fromisoformat(args.now))
    print(f"[child {os.getpid()}] scan: {sum(r.enqueued for r in results)} rows enqueued for {len(results)} "
          f"branches in {time.monotonic() - started:.1f}s", flush=True)
    while not stopping.is_set():
        async with app.sessionmaker() as session:
            if await outbox.pending_count(session) == 0:
                break
        try:
            await asyncio.wait_for(stopping.wait(), timeout=1.0)
        except asyncio.TimeoutError:
            pass
    await delivery.stop()
    await bot.session.close()
    await app.close()
    sent = sum(sender.sent for sender in senders)
    errors = Counter()
    for sender in senders:
        errors.update(sender.errors)
    print(f"[child {os.getpid()}] exiting: sent {sent}, {dict(errors)}", flush=True)


# ------------------------------------------------------------------------------------------ parent

def _max_per_window(times: list[float], window: float = 1.0) -> tuple[int, float]:
    """The most calls in any `window` seconds, and when that window began."""
    best, best_at, start = 0, 0.0, 0
    for end in range(len(times)):
        while times[end] - times[start] >= window:
            start += 1
        if end - start + 1 > best:
            best, best_at = end - start + 1, times[start]
    return best, best_at


async def parent_main(args: argparse.Namespace) -> None:
    import psutil

    from bot.simulator import FakeTelegramServer
    from bot.simulator.fake_api import Faults

    tmp = Path(tempfile.mkdtemp(prefix="fieldmate-bench-"))
    schema = None
    url = args.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    if url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
    print(f"database: {url.split('@')[-1]}{' schema ' + schema if schema else ''}; {args.members} members in "
          f"{args.branches} branches; rate {args.rate}/s; kill with SIG{args.kill_signal} at {args.kill_at:.0%}", flush=True)
    t0 = time.monotonic()
    telegram_ids = await _prepare_db(url, schema, args.branches, args.members, args.seed)
    print(f"prepared in {time.monotonic() - t0:.1f}s", flush=True)

    rng = random.Random(args.seed)
    blocked = set(rng.sample(telegram_ids, round(len(telegram_ids) * args.blocked)))
    server = FakeTelegramServer(faults=Faults(
        methods={"sendMessage"}, rate_limit_probability=args.rate_limited, retry_after=(1, 3),
        forbidden_chats=blocked, latency=(0.005, 0.03), seed=args.seed,
    ))
    for tg in telegram_ids:
        server.add_user(tg, first_name=f"u{tg}")
    base = await server.start()

    seen = {"index": 0, "ok": 0}

    def delivered_so_far() -> int:
        # incremental: this runs on every API call, and rescanning 10,000 records each time would starve
        # the server's event loop and skew the arrival times it records
        calls = server.calls
        for call in calls[seen["index"]:]:
            seen["ok"] += call.method == "sendMessage" and call.outcome == "ok"
        seen["index"] = len(calls)
        return seen["ok"]

    peak_rss = {"child": 0, "parent": 0}

    async def watch(process: asyncio.subprocess.Process) -> None:
        try:
            ps = psutil.Process(process.pid)
            while process.returncode is None:
                peak_rss["child"] = max(peak_rss["child"], ps.memory_info().rss)
                peak_rss["parent"] = max(peak_rss["parent"], psutil.Process().memory_info().rss)
                await asyncio.sleep(0.5)
        except psutil.NoSuchProcess:
            pass

    def spawn() -> asyncio.Future:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", "--departures", str(tmp / "departures"),
                   "--database-url", url,
                   "--api-base", base, "--now", _push_now(date.today()).isoformat(), "--rate", str(args.rate)]
        if schema:
            command += ["--schema", schema]
        return asyncio.create_subprocess_exec(*command, cwd=str(ROOT))

    expected = len(telegram_ids) - len(blocked)
    push_started = time.monotonic()
    first = await spawn()
    watcher = asyncio.create_task(watch(first))
    await server.wait_for(lambda: delivered_so_far() >= expected * args.kill_at or first.returncode is not None,
                          timeout=3600)
    killed_at = time.monotonic()
    sent_before_kill = delivered_so_far()
    first.send_signal(signal.SIGKILL if args.kill_signal == "KILL" else signal.SIGTERM)
    await first.wait()
    await watcher
    print(f"child 1 (pid {first.pid}) got SIG{args.kill_signal} after {sent_before_kill} delivered, "
          f"{killed_at - push_started:.1f}s into the push", flush=True)
    outcome_after_kill = await _db_outcome(url, schema)
    print(f"rows at the kill: {outcome_after_kill['statuses']}", flush=True)

    second = await spawn()
    restart_at = time.monotonic()
    watcher = asyncio.create_task(watch(second))
    await second.wait()
    await watcher
    finished = time.monotonic()
    remaining = await _pending(url, schema)
    outcome = await _db_outcome(url, schema)
    await server.stop()

    # ---- numbers from the server's records
    sends = [c for c in server.calls if c.method == "sendMessage"]
    ok = [c for c in sends if c.outcome == "ok"]
    per_chat = Counter(c.chat_id for c in ok)
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    lost = [tg for tg in telegram_ids if tg not in blocked and per_chat[tg] == 0]
    outcomes = Counter(c.outcome for c in sends)
    ok_times = sorted(c.t for c in ok)
    all_times = sorted(c.t for c in sends)
    gaps: dict[int, float] = {}
    last: dict[int, float] = {}
    for call in sorted(sends, key=lambda c: c.t):
        if call.chat_id in last:
            gap = call.t - last[call.chat_id]
            gaps[call.chat_id] = min(gap, gaps.get(call.chat_id, gap))
        last[call.chat_id] = call.t
    span = ok_times[-1] - ok_times[0] if len(ok_times) > 1 else 0.0
    # the restart gap: the longest pause between two calls (process 1 gone, process 2 starting up)
    downtime = max((b - a for a, b in zip(all_times, all_times[1:])), default=0.0)
    uncertain_delivered = sum(1 for chat in outcome["uncertain_chats"] if per_chat[chat] > 0)

    print()
    print("=" * 72)
    print(f"members {len(telegram_ids)} in {args.branches} branches; blocked (403) {len(blocked)}; "
          f"deliverable {expected}")
    print(f"API calls: {len(sends)} sendMessage — {dict(outcomes)}")
    print(f"delivered: {len(ok)} messages to {len(per_chat)} members")
    print(f"sustained rate: {len(ok) / (span - downtime):.1f} msg/s while a sender ran "
          f"({len(ok) / span:.1f} msg/s over the whole push incl. the {downtime:.1f}s restart gap)")
    from bot.delivery.limiter import Pacer

    busiest, busiest_at = _max_per_window(all_times)
    sent_times = sorted(float(line) for line in (tmp / "departures").read_text().split())
    busiest_sent, busiest_sent_at = _max_per_window(sent_times)
    print(f"max sendMessage calls in any 1 s window: {busiest_sent} as the bot made them (at {busiest_sent_at - push_started:.1f}s), "
          f"{busiest} as the server saw them arrive (at {busiest_at - push_started:.1f}s; kill at {killed_at - push_started:.1f}s); "
          f"nominal {args.rate:g}/s, sender ceiling {Pacer(args.rate, 1.0, 3.0).ceiling}")
    print(f"min gap between two calls to one chat: {min(gaps.values()) if gaps else float('nan'):.2f}s")
    print(f"duplicates: {duplicates}")
    print(f"lost: {len(lost)}{' ' + str(lost[:10]) if lost else ''} (rows still pending: {remaining})")
    print(f"unreachable marked: {outcome['unreachable']} members (expected {len(blocked)}); "
          f"rows by status: {outcome['statuses']}")
    print(f"in flight at the kill → uncertain (not re-sent): {len(outcome['uncertain_chats'])}, "
          f"of which the server had delivered {uncertain_delivered}")
    print(f"peak RSS: sender process {peak_rss['child'] / 2**20:.0f} MiB; parent (fake server + watcher) "
          f"{peak_rss['parent'] / 2**20:.0f} MiB")
    print(f"wall time: {finished - push_started:.1f}s for the push (process 2 ran {finished - restart_at:.1f}s incl. "
          f"its start-up); setup {push_started - t0:.1f}s")
    print("=" * 72)
    if schema:
        from storage.db import create_engine

        admin = create_engine(url)
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.dispose()
    if duplicates or lost or remaining:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: a temp SQLite file")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--branches", type=int, default=20)
    parser.add_argument("--rate", type=float, default=25.0, help="sender's overall msg/s")
    parser.add_argument("--rate-limited", type=float, default=0.01, help="share of calls answered 429")
    parser.add_argument("--blocked", type=float, default=0.005, help="share of members who blocked the bot (403)")
    parser.add_argument("--kill-at", type=float, default=0.5, help="kill the first process after this share")
    parser.add_argument("--kill-signal", choices=["KILL", "TERM"], default="KILL")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-base", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--departures", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child_main(args))
    else:
        asyncio.run(parent_main(args))


if __name__ == "__main__":
    main()

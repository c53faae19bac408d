"""Load benchmark: many users at once against the fake Bot API server, three setups side by side.

    .venv/bin/python bench/load.py                 # 500 users (the issue's workload), zero think time
    .venv/bin/python bench/load.py --users 60      # what a shared 2-core machine can run in a few minutes
    .venv/bin/python bench/load.py --think 7 --ramp 60   # people pause ~7 s between actions, arrive over 60 s

Setups:
* ``echo``   — the ceiling: a bare aiogram Dispatcher with one echo handler, no middlewares (in this process);
* ``embedded`` — one fieldmate process, the default: SQLite, local index, long polling (in this process);
* ``fleet``  — two fieldmate webhook processes on PostgreSQL + Redis + a Chroma server (child processes; the
  fake server delivers with max_connections 20, alternating between them like a load balancer).

Workload per user, all users concurrently: join through an invite (3 updates), ask 5 questions, acknowledge the
daily item pushed to them (press 「已学习」 on it: 1 update), file one 四不伤害 report (12 updates). Echo gets the
same number of plain messages. Then, separately, every user sends /help at the same moment, four times: the
simple-command throughput, as a ratio to echo. Each burst starts once the bot is idle (no update waiting and no
message for 2 s, so what users who gave up on a slow step left queued is not charged to it); the first one only
warms up and the median of the other three is printed. A first burst measures mostly the opening of the HTTP
connections it needs (the workload, paced by think time, keeps only a few open): bot and fake server then
open about a hundred each way in one process, and echo and fieldmate came out alike, whatever they cost per
update.

The daily item is the real morning push: once every user has joined, the bench runs the daily scan with the
clock set to the next local morning (07:30, the branch's time; members who joined today start tomorrow), as the
scheduler would; the bot's own delivery sender (in the fleet: whichever bot process holds the sending turn)
sends the items at its rate limit. A user who reaches the step before their item arrived waits for it (not
counted as latency: it is the push's pace, printed on its own line); the step's latency is from the press to
the bot's edit of that message (the button turned into 「✅ 已学习」).

Two load shapes:
* ``--think 0`` (default) — a closed loop with zero think time: every user sends the next update the moment
  the previous reply arrives, all from t=0. Latency is then bounded below by users / throughput, which no
  2-core process meets for 500 users; it measures throughput and what a queue of that length costs.
* ``--think S --ramp R`` — users arrive evenly over R seconds and pause between actions for a time drawn from
  an exponential distribution with mean S seconds (reading the answer, typing), seeded per user (``--seed``),
  so a run is repeatable. The offered load at full concurrency is about users / S updates per second.

Printed per setup: updates/s, reply latency p50/p95/p99 (update queued → first bot message in that chat),
errors (an expected reply that never came, or an apology), peak RSS per process. The fake server and the
load generator run in this process, on the same cores: on a small machine they take a share of the CPU.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fleet.infra import REPORT_FORM  # noqa: E402 - the same form script as the fleet test

QUESTIONS = ["登杆前要检查哪些地方", "作业现场十不干有哪些", "安全带怎么检查", "验电的要求是什么", "什么是四不伤害"]
TOKEN = "123456789:LOAD-bench"
APOLOGY = "出了点问题"
DAILY_MARK = "今日安全学习"  # the heading of a pushed daily item
ACK_LABEL = "已学习"


@dataclass
class Result:
    name: str
    updates: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    by_step: dict[str, list[float]] = field(default_factory=dict)  # latencies per kind of step (join, ask…)
    errors: list[str] = field(default_factory=list)
    rss_mb: dict[str, float] = field(default_factory=dict)
    help_per_second: float = 0.0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cpu_seconds: float = 0.0  # CPU time (user + system, all threads) of the measured processes during the workload
    push: str = ""  # how the morning push went (items enqueued, seconds until the last one arrived)


@dataclass(frozen=True)
class Shape:
    """How users arrive and pause: see the module docstring."""
    think: float = 0.0  # mean seconds between one user's actions (exponential); 0 = closed loop, no pause
    ramp: float = 0.0  # users arrive evenly over this many seconds; 0 = all at once
    seed: int = 1

    def start_delay(self, index: int, users: int) -> float:
        return self.ramp * index / users if users else 0.0

    def pauses(self, user_id: int):
        """The think time before each action after the first, seeded per user (independent of scheduling)."""
        rng = random.Random(f"{self.seed}:{user_id}")
        while True:
            yield rng.expovariate(1 / self.think) if self.think > 0 else 0.0

    def describe(self, users: int, steps: int) -> str:
        if self.think <= 0:
            arrival = f"arriving over {self.ramp:.0f} s" if self.ramp else "all at once"
            return (f"{users} users {arrival}, zero think time (closed loop: each user sends the next update as soon "
                    f"as the reply arrives; offered load = whatever the bot can take)")
        peak = users / self.think
        span = self.ramp + (steps - 1) * self.think
        return (f"{users} users arriving over {self.ramp:.0f} s, think time exponential mean {self.think:g} s "
                f"(seed {self.seed}); offered load ≈ {peak:.1f} upd/s with every user active "
                f"(≈ {users * steps / span:.1f} upd/s averaged over ramp + {steps - 1} pauses = {span:.0f} s), "
                f"if replies were instant")


@dataclass
class Waiter:
    expect: str | None
    first: asyncio.Future  # time of the chat's first new bot message
    done: asyncio.Future  # the message that ends the step
    edit_of: int | None = None  # the step ends when the bot edits this message (a pressed button's effect)


class Replies:
    """Per-chat futures resolved by the fake server's listener (no thundering herd on one condition).

    A step's latency ends at the chat's first *new* bot message; the step itself ends at the first message
    (new, or an edit) containing what it expects, or at the first new message when it expects nothing."""

    def __init__(self, server) -> None:
        self.server = server
        self.waiting: dict[int, Waiter] = {}
        self.pushed: dict[int, asyncio.Future] = {}  # chat → its daily item (the message), when it arrives
        self.last_push_at = 0.0
        self.last_event_at = time.perf_counter()  # the bot's last message (new, edited, deleted) anywhere
        server.add_listener(self._on_message)

    def daily_item(self, user_id: int) -> asyncio.Future:
        return self.pushed.setdefault(user_id, asyncio.get_running_loop().create_future())

    async def idle(self, quiet: float = 2.0, timeout: float = 300.0) -> None:
        """Until the bot has nothing left to do: no update waiting at the server, no message for `quiet` s
        (what users who gave up on a slow step left queued must not be charged to the next measurement)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            now = time.perf_counter()
            if not self.server.updates and now - self.last_event_at >= quiet:
                return
            await asyncio.sleep(0.2)

    def _on_message(self, event: str, message) -> None:
        self.last_event_at = time.perf_counter()
        if event == "new" and DAILY_MARK in message.body:  # the push: no step's reply
            self.last_push_at = time.perf_counter()
            arrived = self.daily_item(message.chat_id)
            if not arrived.done():
                arrived.set_result(message)
            return
        waiter = self.waiting.get(message.chat_id)
        if waiter is None:
            return
        if event == "new" and not waiter.first.done():
            waiter.first.set_result(time.perf_counter())
        text = message.body
        ends = APOLOGY in text or (waiter.expect in text if waiter.expect else event == "new") or \
            (event == "edited" and message.message_id == waiter.edit_of)
        if ends and not waiter.done.done():
            waiter.done.set_result(message)

    async def act(self, user_id: int, do, expect: str | None, timeout: float = 60.0) -> tuple[float, str | None]:
        """Run `do()` (which queues one update) and wait for the step's reply; (latency, error)."""
        loop = asyncio.get_running_loop()
        waiter = Waiter(expect, loop.create_future(), loop.create_future())
        self.waiting[user_id] = waiter
        started = time.perf_counter()
        do()
        try:
            message = await asyncio.wait_for(waiter.done, timeout)
        except asyncio.TimeoutError:
            return timeout, f"user {user_id}: no reply containing {expect!r} within {timeout:.0f}s"
        finally:
            self.waiting.pop(user_id, None)
        latency = (waiter.first.result() if waiter.first.done() else time.perf_counter()) - started
        if APOLOGY in message.body:
            return latency, f"user {user_id}: apology after {expect!r}"
        return latency, None


def press(server, user_id: int, label: str):
    def do() -> None:
        for message in reversed(server.bot_messages(user_id)):
            for row in (message.reply_markup or {}).get("inline_keyboard", []):
                for button in row:
                    if label in button["text"] and "callback_data" in button:
                        server.push_callback(user_id, message.message_id, button["callback_data"])
                        return
        raise LookupError(f"user {user_id}: no button {label!r}")
    return do


def acknowledge(server, replies: Replies, user_id: int):
    """Press 「已学习」 on the daily item pushed to this user (waiting for it to arrive first)."""
    async def ready() -> None:
        await asyncio.wait_for(asyncio.shield(replies.daily_item(user_id)), PUSH_TIMEOUT)

    def do() -> None:
        message = replies.daily_item(user_id).result()
        for row in (message.reply_markup or {}).get("inline_keyboard", []):
            for button in row:
                if ACK_LABEL in button["text"] and "callback_data" in button:
                    replies.waiting[user_id].edit_of = message.message_id
                    server.push_callback(user_id, message.message_id, button["callback_data"])
                    return
        raise LookupError(f"user {user_id}: no 「{ACK_LABEL}」 button on the daily item")
    return ready, do


PUSH_TIMEOUT = 600.0  # how long a user waits for the morning push's item to arrive
STEPS = 3 + len(QUESTIONS) + 1 + len(REPORT_FORM)  # updates per user (echo sends as many)


class Joined:
    """Counts users done with joining (or gone: an error); the morning push starts when all are."""

    def __init__(self, users: int) -> None:
        self.left = users
        self.all = asyncio.Event()
        if not users:
            self.all.set()

    def one(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.all.set()


async def user_session(server, replies: Replies, user_id: int, code: str, result: Result, echo: bool,
                       shape: Shape = Shape(), delay: float = 0.0, joined: Joined | None = None) -> None:
    counted = False

    def count_joined() -> None:
        nonlocal counted
        if joined is not None and not counted:
            counted = True
            joined.one()

    try:
        await _user_steps(server, replies, user_id, code, result, echo, shape, delay, count_joined)
    finally:
        count_joined()


async def _user_steps(server, replies: Replies, user_id: int, code: str, result: Result, echo: bool,
                      shape: Shape, delay: float, count_joined) -> None:
    steps: list[tuple[object, str | None]] = []
    if echo:
        steps = [(lambda i=i: server.push_text(user_id, f"hello {i}"), "hello") for i in range(STEPS)]
    else:
        name = "员工" + "甲乙丙丁戊己庚辛壬癸"[user_id % 10] + "一二三四五六七八九十"[(user_id // 10) % 10] + \
            "子丑寅卯辰巳午未申酉"[(user_id // 100) % 10]
        steps = [(lambda: server.push_text(user_id, f"/start {code}"), "姓名"),
                 (lambda: server.push_text(user_id, name), "请确认"),
                 (press(server, user_id, "确认"), "欢迎")]
        steps += [(lambda q=q: server.push_text(user_id, q), None) for q in QUESTIONS]
        ready, do = acknowledge(server, replies, user_id)
        steps.append((do, None))  # ends at the bot's edit of the item (its button becomes 「✅ 已学习」)
        for kind, value, expect in REPORT_FORM:
            steps.append(((lambda v=value: server.push_text(user_id, v)) if kind == "text" else press(server, user_id, value),
                          expect))
    pauses = shape.pauses(user_id)
    if delay:
        await asyncio.sleep(delay)
    kinds = ["echo"] * len(steps) if echo else \
        ["join"] * 3 + ["question"] * len(QUESTIONS) + ["daily ack"] + ["report form"] * len(REPORT_FORM)
    for index, (do, expect) in enumerate(steps):
        if index == 3:
            count_joined()
        pause = next(pauses)
        if index and pause:
            await asyncio.sleep(pause)
        if kinds[index] == "daily ack":
            try:
                await ready()
            except asyncio.TimeoutError:
                result.errors.append(f"user {user_id}: no daily item within {PUSH_TIMEOUT:.0f}s")
                return
        try:
            latency, error = await replies.act(user_id, do, expect)
        except LookupError as exc:
            result.errors.append(str(exc))
            return
        result.updates += 1
        result.latencies.append(latency)
        result.by_step.setdefault(kinds[index], []).append(latency)
        if error:
            result.errors.append(error)
            return


HELP_BURSTS = 4  # a warm-up burst, then three measured (the median printed)


async def help_burst(server, replies: Replies, users: list[int], echo: bool) -> float:
    started = time.perf_counter()
    outcomes = await asyncio.gather(*(replies.act(u, lambda u=u: server.push_text(u, "hi" if echo else "/help"), None)
                                      for u in users))
    seconds = time.perf_counter() - started
    return sum(1 for _, error in outcomes if error is None) / seconds


def _cpu_seconds(pids: list[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(Exception):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


async def drive(server, result: Result, users: list[int], code: str, echo: bool, shape: Shape,
                pids: list[int] | None = None, push=None) -> None:
    """The workload, then the /help burst; `pids` are the processes whose CPU time the workload is charged;
    `push()` runs the morning push (returns how many items it queued) once every user has joined."""
    pids = pids or [os.getpid()]
    replies = Replies(server)
    for user_id in users:
        server.add_user(user_id, first_name=f"u{user_id}")
    print(f"  driving {len(users)} users (pid {os.getpid()}) …", file=sys.stderr, flush=True)
    result.load_before = os.getloadavg()
    cpu_before = _cpu_seconds(pids)
    joined = Joined(len(users))

    async def morning() -> None:
        await joined.all.wait()
        pushed_at = time.perf_counter()
        queued = await push()
        print(f"  morning push: {queued} items queued", file=sys.stderr, flush=True)
        await asyncio.gather(*(asyncio.wait_for(asyncio.shield(replies.daily_item(u)), PUSH_TIMEOUT) for u in users),
                             return_exceptions=True)
        arrived = sum(1 for u in users if replies.daily_item(u).done())
        result.push = (f"morning push: {queued} items queued after the last join, {arrived} arrived, the last "
                       f"{replies.last_push_at - pushed_at:.1f} s after the scan")

    started = time.perf_counter()
    pushing = asyncio.create_task(morning()) if push is not None else None
    await asyncio.gather(*(user_session(server, replies, u, code, result, echo, shape,
                                        shape.start_delay(i, len(users)), joined) for i, u in enumerate(users)))
    result.seconds = time.perf_counter() - started
    if pushing is not None:
        await pushing
    result.cpu_seconds = _cpu_seconds(pids) - cpu_before
    bursts = []
    for _ in range(HELP_BURSTS):
        await replies.idle()
        bursts.append(await help_burst(server, replies, users, echo))
    result.help_per_second = statistics.median(bursts[1:])  # the first one warms up the connections
    result.load_after = os.getloadavg()


class PeakRSS:
    """Samples the resident memory of some processes every 0.2 s in a thread."""

    def __init__(self, pids: dict[str, int]) -> None:
        import psutil

        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak = {name: 0.0 for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for name, process in self.processes.items():
                with contextlib.suppress(Exception):
                    self.peak[name] = max(self.peak[name], process.memory_info().rss / 2**20)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ----------------------------------------------------------------------------------------------- setups

async def run_echo(users: list[int], shape: Shape) -> Result:
    from aiogram import Dispatcher
    from aiogram.types import Message

    from bot.lifecycle import settle_heap
    from bot.simulator import FakeTelegramServer
    from bot.simulator.harness import polling

    # This process imported the bench's modules (the bot, the engine) before echo runs; a bare echo process would
    # not hold them, and fieldmate freezes what lives on once its index is open (settle_heap). Unfrozen, the
    # collector's full passes walked them during echo's bursts: echo's /help burst ran at half its speed.
    settle_heap()
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    result = Result("bare aiogram echo")
    async with FakeTelegramServer() as server, polling(server, dp):
        with PeakRSS({"this process (bot + fake server)": os.getpid()}) as rss:
            await drive(server, result, users, "", echo=True, shape=shape)
    result.rss_mb = rss.peak
    return result


async def _seed_invite(database_url: str, uses: int) -> str:
    """The branch (its daily item every day at 07:30) and one invite for every user."""
    from bot.services import daily, membership
    from storage.db import create_engine, create_sessionmaker
    from storage.migrate import upgrade

    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session:
            branch = await membership.add_branch(session, "余山供电所")
            await daily.set_schedule(session, branch.id, at=PUSH_AT, everyday=True)
            invite = await membership.create_invite(session, branch, "member", uses=uses, days=7)
            await session.commit()
            return invite.code
    finally:
        await engine.dispose()


PUSH_AT = "07:30"


async def morning_push(app) -> int:
    """The scheduler's daily scan with the clock at the next local morning's push time (the members joined
    today, so their first item is tomorrow's); returns how many items it queued for the sender."""
    from datetime import datetime, time as clock_time, timedelta

    from schedulers.daily import daily_scan

    tomorrow = app.local_now().date() + timedelta(days=1)
    at = datetime.combine(tomorrow, clock_time.fromisoformat(PUSH_AT), tzinfo=app.settings.tz)
    deadline = time.monotonic() + 60
    while True:  # the bot's own scan may hold the scan lock for a moment
        results = await daily_scan(app, now=at)
        if results or time.monotonic() > deadline:
            return sum(r.enqueued for r in results)
        await asyncio.sleep(0.5)


async def run_embedded(users: list[int], folder: Path, shape: Shape) -> Result:
    from bot.app import build_bot, build_dispatcher, create_app, polling_options
    from bot.config import load_settings
    from bot.simulator import FakeTelegramServer
    from bot.simulator.harness import polling

    settings = load_settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{folder / 'embedded.db'}",
                             knowledge_dir=ROOT / "knowledge", index_dir=folder / "embedded-index",
                             media_dir=folder / "media", admin_ids=[1])
    code = await _seed_invite(settings.database_url, len(users))
    app = await create_app(settings)
    result = Result("one fieldmate process (SQLite, local index)")
    async with FakeTelegramServer() as server:
        bot = build_bot(settings, server.base_url)
        dp = build_dispatcher(app)
        async with polling(server, dp, bot, **polling_options(settings)):  # as bot/runner.py runs it
            await _wait_knowledge(app)
            with PeakRSS({"this process (bot + fake server)": os.getpid()}) as rss:
                await drive(server, result, users, code, echo=False, shape=shape, push=lambda: morning_push(app))
    await app.close()
    result.rss_mb = rss.peak
    return result


async def _wait_knowledge(app, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while app.knowledge is None or not app.knowledge.stats().get("chunks"):
        if time.monotonic() > deadline:
            raise RuntimeError("the knowledge index did not open")
        await asyncio.sleep(0.5)


async def run_fleet(users: list[int], folder: Path, shape: Shape) -> Result:
    from bot.app import create_app
    from bot.config import load_settings
    from bot.simulator import FakeTelegramServer
    from tests.fleet.infra import bot_process, cli, fleet_servers, free_port, healthy, wait_until

    result = Result("two webhook processes (PostgreSQL, Redis, Chroma)")
    async with fleet_servers(folder) as (database, redis, chroma), FakeTelegramServer(token=TOKEN) as server:
        code = await _seed_invite(database.url, len(users))
        with contextlib.ExitStack() as stop_at_exit:
            env = {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": server.base_url, "DATABASE_URL": database.url,
                   "REDIS_URL": redis.url, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(chroma.port),
                   "KNOWLEDGE_DIR": str(ROOT / "knowledge"), "INDEX_DIR": str(folder / "fleet-index"),
                   "KNOWLEDGE_SYNC_ON_START": "false", "WEBHOOK_URL": "https://bench.example"}
            ingest = cli(["ingest"], env, folder, "ingest").start()
            if await asyncio.to_thread(ingest.popen.wait) != 0:
                raise RuntimeError(ingest.output())
            ports = [free_port(), free_port()]
            server.webhook_targets = [f"http://127.0.0.1:{p}/telegram/webhook" for p in ports]
            await server.call_method("setWebhook", {"url": "https://bench.example/telegram/webhook",
                                                    "max_connections": 20})
            bots = [bot_process(f"bench-bot{i}", {**env, "INDEX_DIR": str(folder / f"idx{i}")}, folder, p).start()
                    for i, p in enumerate(ports)]
            for process in bots:
                stop_at_exit.callback(process.stop)
            for port in ports:
                await wait_until(lambda port=port: healthy(f"http://127.0.0.1:{port}/healthz"), 300, "a healthy bot")
            # the scan runs here against the fleet's database, as one bot's scheduler would; the bots' sender sends
            pusher = await create_app(load_settings(_env_file=None, database_url=database.url,
                                                    knowledge_dir=ROOT / "knowledge", index_dir=folder / "push-index",
                                                    media_dir=folder / "push-media"), migrate=False)
            try:
                with PeakRSS({b.name: b.popen.pid for b in bots} | {"this process (fake server)": os.getpid()}) as rss:
                    await drive(server, result, users, code, echo=False, shape=shape,
                                pids=[b.popen.pid for b in bots] + [os.getpid()], push=lambda: morning_push(pusher))
            finally:
                await pusher.close()
    result.rss_mb = rss.peak
    return result


# ---------------------------------------------------------------------------------------------- report

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _vs_echo(result: Result, echo: Result) -> str:
    if not echo.help_per_second:
        return "n/a (echo not run)"
    return "met" if result.help_per_second >= .5 * echo.help_per_second else "NOT met"


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def print_table(results: list[Result], users: int, shape: Shape, load_at_start: tuple[float, float, float]) -> None:
    echo = results[0]
    print(f"\n{shape.describe(users, STEPS)}")
    print("latency = update queued → first bot message in that chat; /help/s = every user at once, median of three "
          "bursts after a warm-up one")
    print(f"machine: {os.cpu_count()} cores, shared; load average (1, 5, 15 min) at the start {_load(load_at_start)}, "
          f"at the end {_load(os.getloadavg())}; per setup below: the 1-min load as its drive began → ended\n")
    print(f"{'setup':<52} {'upd/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6} {'/help/s':>8} {'vs echo':>7} "
          f"{'CPU ms/upd':>10} {'CPU %':>6}  {'load before → after':>21}  peak RSS MB")
    for r in results:
        ratio = r.help_per_second / echo.help_per_second if echo.help_per_second else float("nan")
        rss = ", ".join(f"{name} {mb:.0f}" for name, mb in r.rss_mb.items())
        print(f"{r.name:<52} {r.updates / r.seconds if r.seconds else 0:7.1f} {pct(r.latencies, .5) * 1000:7.0f} "
              f"{pct(r.latencies, .95) * 1000:7.0f} {pct(r.latencies, .99) * 1000:7.0f} {len(r.errors):6d} "
              f"{r.help_per_second:8.1f} {ratio:7.0%} "
              f"{r.cpu_seconds / r.updates * 1000 if r.updates else float('nan'):10.1f} "
              f"{r.cpu_seconds / r.seconds * 100 if r.seconds else float('nan'):6.0f}  {_load(r.load_before[:1] + r.load_after[:1]).replace(' ', ' → '):>21}  {rss}")
    for r in results:
        if len(r.by_step) > 1:
            print(f"  {r.name}: " + "; ".join(f"{kind} p50 {pct(v, .5) * 1000:.0f} p95 {pct(v, .95) * 1000:.0f} ms"
                                             for kind, v in r.by_step.items()))
    for r in results:
        if r.push:
            print(f"  {r.name}: {r.push}")
    for r in results:
        for error in r.errors[:5]:
            print(f"  {r.name}: {error}")
    embedded = next((r for r in results if r.name.startswith("one fieldmate")), None)
    if embedded:
        print(f"\ntargets: p95 ≤ 1 s embedded: {'met' if pct(embedded.latencies, .95) <= 1 else 'NOT met'}; "
              f"0 errors: {'met' if not any(r.errors for r in results) else 'NOT met'}; "
              f"/help ≥ 50% of echo: {_vs_echo(embedded, echo)}")
    print("CPU ms/upd and CPU % count every thread of the measured processes (in-process setups: the bot, the fake "
          "server and the load generator together); on a shared machine they move less than the latencies do")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--setups", default="echo,embedded,fleet")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a user pauses between actions (exponential); 0 = closed loop (default)")
    parser.add_argument("--ramp", type=float, default=0.0, help="users arrive evenly over this many seconds")
    parser.add_argument("--seed", type=int, default=1, help="seed of the think times")
    args = parser.parse_args()
    shape = Shape(think=args.think, ramp=args.ramp, seed=args.seed)
    load_at_start = os.getloadavg()
    print(shape.describe(args.users, STEPS), file=sys.stderr, flush=True)
    users = [100_000 + n for n in range(args.users)]
    folder = Path(tempfile.mkdtemp(prefix="fieldmate-load-"))
    results = []
    try:
        for setup in args.setups.split(","):
            print(f"running {setup} …", file=sys.stderr, flush=True)
            if setup == "echo":
                results.append(await run_echo(users, shape))
            elif setup == "embedded":
                results.append(await run_embedded(users, folder, shape))
            elif setup == "fleet":
                results.append(await run_fleet(users, folder, shape))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if results and results[0].name.startswith("bare"):
        print_table(results, args.users, shape, load_at_start)
    else:
        print_table([Result("bare aiogram echo (not run)")] + results, args.users, shape, load_at_start)


if __name__ == "__main__":
    import logging

    from bot.runner import run_event_loop

    logging.basicConfig(level=logging.WARNING)
    run_event_loop(main())  # the bot's own event loop (uvloop), for every setup: echo's ceiling is measured on it too

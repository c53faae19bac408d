"""The /help cost of one fieldmate process against bare aiogram echo, paired: both in this process, each with its
own fake Bot API server and the same members, bursts alternating (every member sends /help at once), so both
see the same machine at the same moment. Prints the medians of the event loop's CPU time per /help
(`time.thread_time`) and of the burst rates, and their ratio.

    .venv/bin/python bench/help_pair.py                 # 500 members, 5 bursts each
    .venv/bin/python bench/help_pair.py --users 300 --bursts 8

bench/load.py measures the same ratio after a whole workload, one setup after the other; this one isolates the
per-update cost of a simple command (the knowledge index must open first: about a minute on a new index folder).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import Replies, _seed_invite, _wait_knowledge, help_burst  # noqa: E402


async def main(users_count: int, bursts: int, index_dir: Path) -> None:
    from aiogram import Dispatcher
    from aiogram.types import Message

    from bot.app import build_bot, build_dispatcher, create_app, polling_options
    from bot.config import load_settings
    from bot.services import membership
    from bot.simulator import FakeTelegramServer
    from bot.simulator.harness import polling

    users = [100_000 + n for n in range(users_count)]
    folder = Path(tempfile.mkdtemp(prefix="fieldmate-help-pair-"))
    echo_dp = Dispatcher()

    @echo_dp.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    settings = load_settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{folder / 'bench.db'}",
                             knowledge_dir=ROOT / "knowledge", index_dir=index_dir, media_dir=folder / "media")
    code = await _seed_invite(settings.database_url, len(users))
    app = await create_app(settings)
    async with app.sessionmaker() as session:
        for user_id in users:
            await membership.join(session, user_id, code, "张三")
        await session.commit()
    async with FakeTelegramServer() as echo_server, polling(echo_server, echo_dp), FakeTelegramServer() as server:
        bot = build_bot(settings, server.base_url)
        async with polling(server, build_dispatcher(app), bot, **polling_options(settings)):
            await _wait_knowledge(app)
            setups = {"echo": (echo_server, Replies(echo_server), True), "fieldmate": (server, Replies(server), False)}
            for srv, replies, is_echo in setups.values():
                for user_id in users:
                    srv.add_user(user_id, first_name="u")
                await help_burst(srv, replies, users, is_echo)  # warm-up: connections, caches
            rates: dict[str, list[float]] = {name: [] for name in setups}
            loop_ms: dict[str, list[float]] = {name: [] for name in setups}
            for _ in range(bursts):
                for name, (srv, replies, is_echo) in setups.items():
                    await replies.idle(quiet=0.5)
                    started = time.thread_time()
                    rates[name].append(await help_burst(srv, replies, users, is_echo))
                    loop_ms[name].append((time.thread_time() - started) / len(users) * 1e3)
    await app.close()
    for name in setups:
        print(f"{name:10} /help per s median {statistics.median(rates[name]):6.0f}   event-loop CPU per /help median "
              f"{statistics.median(loop_ms[name]):.2f} ms   bursts {[round(r) for r in rates[name]]}")
    ratios = [f / e for f, e in zip(rates["fieldmate"], rates["echo"], strict=True)]
    print(f"fieldmate / echo: rate {statistics.median(ratios):.0%} (paired bursts), event-loop CPU "
          f"{statistics.median(loop_ms['echo']) / statistics.median(loop_ms['fieldmate']):.0%}")


if __name__ == "__main__":
    import logging

    from bot.runner import run_event_loop

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--bursts", type=int, default=5)
    parser.add_argument("--index-dir", type=Path, default=Path(tempfile.gettempdir()) / "fieldmate-help-pair-index",
                        help="kept between runs: a second run opens the index instead of building it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    run_event_loop(main(args.users, args.bursts, args.index_dir))

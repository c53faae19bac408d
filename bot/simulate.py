"""`fieldmate simulate`: the real bot, polling a local fake Telegram server, driven from the terminal
or by a YAML conversation script."""
from __future__ import annotations

import asyncio
import functools
import sys
import tempfile
from pathlib import Path

from bot.clock import ManualClock
from bot.config import Settings

KNOWLEDGE_WAIT_S = 600  # first run on a new machine embeds the sample knowledge folder


async def simulate_main(settings: Settings, *, fresh: bool, script: Path | None, as_user: str | None) -> int:
    from bot.app import build_bot, build_dispatcher, create_app, polling_options
    from bot.services import demo
    from bot.simulator.driver import SimDriver
    from bot.simulator.fake_api import FakeTelegramServer, SimUser
    from bot.simulator.harness import polling
    from bot.simulator.script import load_script, run_script
    from schedulers.daily import push_branch_now
    from bot.simulator.timetravel import travel

    loaded = load_script(script) if script else None
    overrides: dict = {}
    temp = tempfile.TemporaryDirectory(prefix="fieldmate-sim-") if fresh else None
    if temp:
        overrides["database_url"] = f"sqlite+aiosqlite:///{Path(temp.name) / 'sim.db'}"
    admin_ids = set(settings.admin_ids) | {person.telegram_id for person in demo.DEMO_PEOPLE if person.key == "admin"}
    if loaded:
        admin_ids |= set(loaded.admin_ids)
    settings = settings.model_copy(update={**overrides, "admin_ids": sorted(admin_ids), "bot_token": None})

    app = await create_app(settings)
    if loaded is not None and loaded.clock is not None:
        app.clock = ManualClock(loaded.clock.replace(tzinfo=settings.tz))
    users = {"admin": SimUser(id=1, first_name="管理员"), "guest": SimUser(id=5000, first_name="新同事")}
    demo_branch = None
    if loaded is None:
        async with app.sessionmaker() as session:
            if await demo.is_empty(session) and _confirm("数据库是空的，创建演示数据（一个支部、管理员、支部书记和两名成员）吗？[Y/n] "):
                demo_branch = (await demo.seed_demo(session, app.clock.utc_naive())).id
                await session.commit()
                print(f"已创建演示支部「{demo.DEMO_BRANCH}」。用 /as admin、/as secretary、/as li、/as wang 切换身份，/as guest 体验加入流程。")
        users |= {p.key: SimUser(id=p.telegram_id, first_name=p.name[1:], last_name=p.name[0]) for p in demo.DEMO_PEOPLE}

    server = FakeTelegramServer(username=settings.bot_username)
    base_url = await server.start()
    for user in users.values():
        server.add_user(user)
    try:
        dp = build_dispatcher(app)
        async with polling(server, dp, bot=build_bot(settings, base_url), **polling_options(settings)):
            await _wait_for_knowledge(app, verbose=loaded is None)
            if demo_branch is not None:  # today's item at once, so 「已学习」 and /acks work in the first minute
                await push_branch_now(app, demo_branch)
            driver = SimDriver(server)
            moving = functools.partial(travel, app)  # clock steps and /clock run the scheduler's due jobs
            if loaded is not None:
                return 0 if await run_script(loaded, driver, travel=moving) else 1
            from bot.simulator.repl import run_repl

            await run_repl(driver, users, as_user or ("admin" if "admin" in users else "guest"), travel=moving,
                           now=app.local_now)
            return 0
    finally:
        await server.stop()
        await app.close()
        if temp:
            temp.cleanup()


def knowledge_needs_indexing(settings: Settings) -> bool:
    """Whether the start-up sync has files to index or remove (judged without reading any file)."""
    if not (settings.knowledge_sync_on_start and settings.knowledge_dir.is_dir()):
        return False
    from bot.knowledge_engine import KnowledgeEngine

    return bool(KnowledgeEngine.from_settings(settings).pending_changes())


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return True
    return input(question).strip().lower() in ("", "y", "yes", "是")


async def _wait_for_knowledge(app, verbose: bool) -> None:
    task = app.knowledge_task
    if task is None or task.done():
        return
    if verbose and await asyncio.to_thread(knowledge_needs_indexing, app.settings):
        print("正在为知识库建立索引（首次运行需要一两分钟）…")
    try:
        await asyncio.wait_for(asyncio.shield(task), KNOWLEDGE_WAIT_S)
    except asyncio.TimeoutError:
        print("知识库索引尚未完成，提问会提示稍后再试。")

"""Per-update overhead removed from the hot path: response models rebuilt after every garbage collection
(bot/telegram_api.py), magic filters run in threads (bot/hot_path.py)."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

from aiogram import Dispatcher
from aiogram.fsm.state import State
from magic_filter import MagicFilter

from bot.app import build_dispatcher
from bot.config import load_settings
from bot.features import build_routers
from bot.hot_path import inline_magic_filters


_BUILDS_IN_A_FRESH_PROCESS = """
import asyncio, collections, gc, sys
from pydantic._internal import _model_construction
from bot.app import build_bot
from bot.config import load_settings
from bot.simulator import FakeTelegramServer

built = collections.Counter()
original = _model_construction.ModelMetaclass.__new__

def counting(mcs, name, *args, **kwargs):
    built[name] += 1
    return original(mcs, name, *args, **kwargs)

_model_construction.ModelMetaclass.__new__ = counting

async def main():
    settings = load_settings(_env_file=None, database_url="sqlite+aiosqlite:///" + sys.argv[1])
    async with FakeTelegramServer() as server:
        bot = build_bot(settings, server.base_url)
        try:
            for _ in range(3):
                assert (await bot.get_me()).is_bot
                gc.collect()  # under load the collector runs every few updates
        finally:
            await bot.session.close()
    print(built["Response[User]"])

asyncio.run(main())
"""


def test_response_model_is_built_once_not_after_every_garbage_collection(tmp_path):
    """In a fresh process (in the suite another test may hold the model alive, hiding a rebuild)."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", _BUILDS_IN_A_FRESH_PROCESS, str(tmp_path / "db.sqlite")],
                          cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    # Without pinning aiogram rebuilds Response[User] (its whole schema) after each collection: 3 here.
    assert done.stdout.split()[-1] == "1", done.stdout


def test_build_dispatcher_runs_every_magic_filter_inline(app):
    assert inline_magic_filters(build_dispatcher(app)) == 0  # nothing left to do: all done when built
    plain = Dispatcher()
    plain.include_routers(*build_routers())
    assert inline_magic_filters(plain) >= 10  # F.text, F.chat.type == "private", F.data … in many routers


def _filter(func) -> bool:
    """A magic filter's resolve, or a form state used as a filter."""
    target = func.func if isinstance(func, partial) else func
    return isinstance(getattr(target, "__self__", None), MagicFilter) or isinstance(target, State)


async def test_an_update_tried_against_every_router_makes_no_thread_hop_for_a_filter(harness, monkeypatch):
    hops = []
    real = asyncio.to_thread

    async def counting(func, /, *args, **kwargs):
        hops.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting)
    replies = await harness.send(4242, "你好")  # a stranger's text falls through every router to the gate
    assert replies, "the stranger got no reply"
    assert not [hop for hop in hops if _filter(hop)]


async def test_a_form_state_filter_runs_inline_and_still_matches(harness, app, monkeypatch):
    """The join form's handlers are registered with its states as filters (JoinForm.name …): a member's /help
    is tried against them without a thread hop, and a chat in that state still reaches them."""
    from tests.test_handlers_join import join, make_invite

    hops = []
    real = asyncio.to_thread

    async def counting(func, /, *args, **kwargs):
        hops.append(func)
        return await real(func, *args, **kwargs)

    code = await make_invite(app)
    await join(harness, app, 6161, "王五", code)
    monkeypatch.setattr(asyncio, "to_thread", counting)
    assert "我能为您做什么" in (await harness.send(6161, "/help"))[0]
    assert "姓名" in (await harness.send(6262, f"/start {code}"))[0]
    assert "赵六" in (await harness.send(6262, "赵六"))[0]  # JoinForm.name matched, inline
    assert not [hop for hop in hops if _filter(hop)]


async def test_an_update_takes_one_connection_and_one_transaction_fsm_state_included(app, harness):
    """The FSM middleware reads the chat's state through the update's own session: before, every update took a
    second pooled connection and transaction just for that read."""
    from sqlalchemy import event

    from tests.test_handlers_join import make_invite

    code = await make_invite(app)
    await harness.send(5151, f"/start {code}")  # in the join form: the next update reads and writes its state
    checkouts, commits = [], []

    def checkout(*args) -> None:
        checkouts.append(1)

    def commit(*args) -> None:
        commits.append(1)

    event.listen(app.engine.sync_engine.pool, "checkout", checkout)
    event.listen(app.engine.sync_engine, "commit", commit)
    try:
        replies = await harness.send(5151, "李四")
    finally:
        event.remove(app.engine.sync_engine.pool, "checkout", checkout)
        event.remove(app.engine.sync_engine, "commit", commit)
    assert any("李四" in text for text in replies), replies
    assert (len(checkouts), len(commits)) == (1, 1)


async def test_updates_in_flight_are_bounded_and_a_sqlite_pool_has_a_connection_for_each(tmp_path):
    from bot.app import create_app, polling_options, pool_options

    settings = load_settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
                             max_updates_in_flight=40, max_questions_waiting=100)
    # aiogram runs the 40 worked on (UpdateSlots) and the 100 questions that may wait for the engine beside them
    assert polling_options(settings) == {"tasks_concurrency_limit": 140}
    app = await create_app(settings)
    try:
        pool = app.engine.sync_engine.pool
        assert pool.size() >= 40  # each update worked on keeps a connection: none is opened and closed per update
    finally:
        await app.close()
    assert pool_options(load_settings(_env_file=None, database_url="postgresql+asyncpg://x@h/db")) == {}
    assert pool_options(load_settings(_env_file=None, database_url="sqlite+aiosqlite:///:memory:")) == {}


async def test_what_the_user_is_told_is_already_stored(app, harness):
    """The welcome goes out only once the member row is committed (and SQLite's write lock is not held over
    the HTTP call): another session reading at that moment finds the member."""
    from aiogram.client.session.middlewares.base import BaseRequestMiddleware

    from bot.services.membership import member_by_telegram_id
    from tests.test_handlers_join import make_invite

    seen: list[bool] = []

    class Peek(BaseRequestMiddleware):
        async def __call__(self, make_request, bot, method):
            async with app.sessionmaker() as other:
                seen.append(await member_by_telegram_id(other, 6161) is not None)
            return await make_request(bot, method)

    await harness.send(6161, f"/start {await make_invite(app)}")
    await harness.send(6161, "王五")
    harness.bot.session.middleware(Peek())  # after CommitBeforeTelling, which the first update installed
    replies = await harness.press(6161, harness.button_data("确认"))  # stores the member, then welcomes them
    assert any("欢迎" in text for text in replies) and seen and all(seen), seen


async def test_a_helper_task_of_an_update_never_commits_its_session(app):
    """"typing…" runs in a task of its own that inherits the update's context: it must not use the session."""
    from bot.fsm_storage import update_session
    from bot.middlewares import _OWNER, commit_before_telling
    from storage.models import Branch

    async with app.sessionmaker() as session:
        session.info[_OWNER] = asyncio.current_task()
        token = update_session.set(session)
        try:
            session.add(Branch(name="助手任务所"))
            await asyncio.create_task(commit_before_telling())
            assert session.new  # untouched by the helper task
            await commit_before_telling()  # the update's own task commits
            assert not session.new and not session.in_transaction()
        finally:
            update_session.reset(token)

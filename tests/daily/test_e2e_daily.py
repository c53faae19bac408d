"""End to end through the fake Bot API server with real aiogram polling: the branch's time comes, every
member gets the item once, taps 「已学习」, the secretary's /acks is right; a restart mid-push neither
duplicates nor loses a message."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, time

from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode

from bot.app import build_dispatcher
from bot.delivery import DeliverySender
from bot.services import daily
from bot.simulator import FakeTelegramServer, SimDriver
from bot.simulator.harness import make_bot, polling
from schedulers.daily import daily_scan
from tests.daily.conftest import wait_drained
from tests.daily.helpers import make_branch, make_members
from tests.daily.test_handlers_daily import ITEMS
from tests.support.waiting import wait_until

FAST = dict(rate=50.0, chat_interval=0.2, poll_interval=0.05, backoff_base=0.05)


async def _branch(app, server, members: int):
    folder = app.settings.knowledge_dir / "daily"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "items.yaml").write_text(ITEMS, encoding="utf-8")
    async with app.sessionmaker() as session:
        branch = await make_branch(session)
        people = await make_members(session, branch, members, first_tg=2001, joined_at=datetime(2026, 1, 1))
        secretary, = await make_members(session, branch, 1, first_tg=3001, role="secretary", joined_at=datetime(2026, 1, 1))
        await daily.set_schedule(session, branch.id, at="07:30", everyday=True)
        await session.commit()
    for person in [*people, secretary]:
        server.add_user(person.telegram_id, first_name=person.real_name)
    return people, secretary


def _branch_time(app, hhmm: str) -> datetime:
    today = app.local_now().date()
    return datetime.combine(today, time.fromisoformat(hhmm), tzinfo=app.settings.tz)


def _daily_sends(server):
    return [c for c in server.calls if c.method == "sendMessage" and c.outcome == "ok" and "今日安全学习" in (c.params.get("text") or "")]


async def test_branch_time_reached_each_member_gets_it_once_acks_then_acks_board(app):
    async with FakeTelegramServer() as server:
        people, secretary = await _branch(app, server, members=3)
        server.block_user(people[2].telegram_id)  # one member blocked the bot
        bot = make_bot(server, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
        async with polling(server, build_dispatcher(app, background=False), bot):
            sender = DeliverySender(app.sessionmaker, bot, **FAST)
            app.delivery = sender
            sender.start()
            try:
                assert await daily_scan(app, now=_branch_time(app, "07:29")) == []  # not yet
                (result,) = await daily_scan(app, now=_branch_time(app, "07:30"))
                assert (result.state, result.enqueued) == ("pushed", 4)
                await wait_drained(app.sessionmaker)
                assert await daily_scan(app, now=_branch_time(app, "07:31")) == []  # done for today

                counts = Counter(c.chat_id for c in _daily_sends(server))
                reachable = [people[0], people[1], secretary]
                assert counts == Counter({p.telegram_id: 1 for p in reachable})

                driver = SimDriver(server)
                await driver.press(people[0].telegram_id, "已学习")
                await wait_until(lambda: driver.callback_answer() is not None, 15, message="「已学习」 was never answered")
                assert "已记录" in driver.callback_answer()["text"]
                since = driver.mark()
                await driver.send(secretary.telegram_id, "/acks")
                board = (await driver.wait_for(secretary.telegram_id, "已学习：", since=since)).text
                assert "已学习：1 / 4" in board
                done, rest = board.split("尚未学习：")
                assert people[0].real_name in done and people[1].real_name in rest
                assert people[2].real_name in rest.split("无法送达")[1]
            finally:
                await sender.stop()


async def test_restart_mid_push_neither_duplicates_nor_loses(app):
    async with FakeTelegramServer() as server:
        people, secretary = await _branch(app, server, members=11)
        bot = make_bot(server, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
        try:
            (result,) = await daily_scan(app, now=_branch_time(app, "07:30"))
            assert result.enqueued == 12
            first = DeliverySender(app.sessionmaker, bot, rate=8.0, chat_interval=0.2, poll_interval=0.05)
            first.start()
            await server.wait_for(lambda: len(_daily_sends(server)) >= 4, timeout=10)
            await first.stop()  # e.g. SIGTERM during the push
            assert 4 <= len(_daily_sends(server)) < 12

            second = DeliverySender(app.sessionmaker, bot, **FAST)
            second.start()
            try:
                await wait_drained(app.sessionmaker)
            finally:
                await second.stop()
            counts = Counter(c.chat_id for c in _daily_sends(server))
            assert counts == Counter({p.telegram_id: 1 for p in [*people, secretary]})
        finally:
            await bot.session.close()

"""The digest scan: due digests go to each secretary once per (kind, period) — also when the scan runs again,
after a restart (a new App on the same database) and in two processes at once; the files exist for the
sender, and the sender delivers the monthly Excel file as a document."""
from __future__ import annotations

import asyncio
import io
from datetime import datetime

from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import create_app
from bot.clock import ManualClock
from bot.delivery import DeliverySender
from bot.services import digest as digests
from schedulers.digest import digest_scan
from storage.models import Delivery
from tests.daily.conftest import wait_drained
from tests.digest.world import TZ, make_world


async def _rows(app) -> list[Delivery]:
    async with app.sessionmaker() as session:
        return list((await session.scalars(select(Delivery).where(Delivery.kind == "digest").order_by(Delivery.id))).all())


async def test_monday_digest_goes_to_each_secretary_once_even_after_a_restart(app, session, settings, engine):
    world = await make_world(session)
    monday = datetime(2026, 11, 23, 8, 30, tzinfo=TZ)
    assert await digest_scan(app, monday.replace(minute=29)) == 0  # not yet

    assert await digest_scan(app, monday) > 0
    rows = await _rows(app)
    mine = {r.key for r in rows if r.chat_id == world.chen.telegram_id}
    assert mine == {"digest:weekly:2026-W47:m%d:text:1" % world.chen.id, "digest:weekly:2026-W47:m%d:chart" % world.chen.id}
    assert {r.chat_id for r in rows} == {world.chen.telegram_id, world.zhou.telegram_id, 1}  # 1: the admin
    chart = next(r for r in rows if r.key.endswith(":chart") and r.chat_id == world.chen.telegram_id)
    assert open(chart.photo, "rb").read(4) == b"\x89PNG"
    text = next(r for r in rows if r.key.endswith(":text:1") and r.chat_id == world.chen.telegram_id).text
    assert "已学习：9/20（45%）" in text and "周报 · 余山供电所" in text
    assert "孙丽" not in text  # another branch's people never appear
    admin_text = next(r.text for r in rows if r.chat_id == 1)
    assert admin_text.index("余山供电所") < admin_text.index("城关供电所")  # worst first

    assert await digest_scan(app, monday.replace(minute=31)) == 0  # the next scan finds it done
    restarted = await create_app(settings, migrate=False, engine=engine)  # a restart: a new app, same database
    restarted.clock = ManualClock(monday)
    assert await digest_scan(restarted, monday.replace(hour=10)) == 0
    assert len(await _rows(app)) == len(rows)


async def test_two_processes_scanning_at_once_queue_one_digest(app, session, settings, engine):
    await make_world(session)
    other = await create_app(settings, migrate=False, engine=engine)
    monday = datetime(2026, 11, 23, 8, 31, tzinfo=TZ)
    await asyncio.gather(digest_scan(app, monday), digest_scan(other, monday))
    keys = [r.key for r in await _rows(app)]
    assert len(keys) == len(set(keys)) == 5  # chen and zhou: text + chart; the admin: one text


async def test_a_new_secretary_gets_the_week_they_missed_and_the_others_nothing_twice(app, session):
    world = await make_world(session)
    monday = datetime(2026, 11, 23, 8, 30, tzinfo=TZ)
    await digest_scan(app, monday)
    world.li.role = "secretary"
    await session.commit()
    queued = await digest_scan(app, monday.replace(hour=9))
    assert queued == 2 and {r.chat_id for r in (await _rows(app))[-2:]} == {world.li.telegram_id}


async def test_branch_schedule_moves_its_digest(app, session):
    world = await make_world(session)
    default = digests.default_plan(app.settings)
    await digests.set_plan(session, world.a.id, "weekly", default, day="周五", at="17:00")
    await digests.set_plan(session, world.b.id, "weekly", default, off=True)
    await session.commit()
    assert await digest_scan(app, datetime(2026, 11, 23, 9, 0, tzinfo=TZ)) == 1  # only the admins' digest
    assert await digest_scan(app, datetime(2026, 11, 27, 17, 0, tzinfo=TZ)) == 2  # Friday: A's text + chart
    assert {r.chat_id for r in await _rows(app)} == {1, world.chen.telegram_id}


async def test_monthly_digest_sends_the_excel_file_as_a_document(app, session, server, api_bot):
    world = await make_world(session)
    server.add_user(world.chen.telegram_id)
    server.add_user(world.zhou.telegram_id)
    server.add_user(1)
    assert await digest_scan(app, datetime(2026, 12, 1, 9, 0, tzinfo=TZ)) > 0
    rows = await _rows(app)
    xlsx = next(r for r in rows if r.chat_id == world.chen.telegram_id and r.key.endswith(":xlsx"))
    assert xlsx.key == f"digest:monthly:2026-11:m{world.chen.id}:xlsx" and xlsx.document.endswith("余山供电所_2026-11.xlsx")

    sender = DeliverySender(app.sessionmaker, api_bot, rate=200, chat_interval=0.01, poll_interval=0.05)
    sender.start()
    try:
        await wait_drained(app.sessionmaker)
    finally:
        await sender.stop()
    documents = [c for c in server.calls if c.method == "sendDocument" and c.outcome == "ok"]
    assert {c.chat_id for c in documents} == {world.chen.telegram_id, world.zhou.telegram_id}
    sent = next(m for m in server.bot_messages(world.chen.telegram_id) if m.document)
    assert sent.document["file_name"] == "余山供电所_2026-11.xlsx"
    book = load_workbook(io.BytesIO(server.files[sent.document["file_id"]].data))
    assert book.sheetnames[0] == "汇总" and "每日学习" in book.sheetnames

"""Scheduler jobs called directly with an explicit `now`: monthly reminders and idle forms."""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import func, select

from bot.app import build_dispatcher
from bot.services import reports
from schedulers.forms import scan_idle_forms
from schedulers.reports import register, send_report_reminders
from storage.models import Delivery, FsmRecord
from tests.reports.helpers import LI, sample_input
from tests.support.harness import Harness
from tests.support.mocked_bot import MockedBot


def at(app, *args):
    return datetime(*args, tzinfo=app.settings.tz)


async def reminder_keys(app):
    async with app.sessionmaker() as session:
        rows = (await session.scalars(select(Delivery).where(Delivery.kind == "report_reminder"))).all()
        return {row.key for row in rows}


async def test_reminders_start_on_day_25_once_a_day_and_stop_once_submitted(app, world):
    assert await send_report_reminders(app, now=at(app, 2026, 11, 24, 9)) == 0
    assert await send_report_reminders(app, now=at(app, 2026, 11, 25, 9)) == 5
    assert await send_report_reminders(app, now=at(app, 2026, 11, 25, 15)) == 0  # same day: nothing new
    async with app.sessionmaker() as session:
        await reports.submit(session, world.li, sample_input("2026-11"), form_token="t")
        await session.commit()
    assert await send_report_reminders(app, now=at(app, 2026, 11, 26, 9)) == 4
    keys = await reminder_keys(app)
    assert f"report-reminder:{world.li.id}:2026-11-25" in keys
    assert f"report-reminder:{world.li.id}:2026-11-26" not in keys
    assert await send_report_reminders(app, now=at(app, 2026, 12, 1, 9)) == 0  # before day 25 of December


async def test_reminder_text_is_in_the_members_language_with_a_start_button(harness, app, world):
    await send_report_reminders(app, now=at(app, 2026, 11, 30, 9))
    async with app.sessionmaker() as session:
        row = await session.scalar(select(Delivery).where(Delivery.key == f"report-reminder:{world.li.id}:2026-11-30"))
    assert "2026年11月" in row.text and "2026-11-30" in row.text
    replies = await harness.press(LI, row.buttons[0][0]["callback_data"])
    assert "第1/6步" in replies[-1]


async def test_idle_form_gets_one_reminder_then_is_discarded(harness, app, world):
    await harness.send(LI, "/report")
    await harness.send(LI, "小结")
    async with app.sessionmaker() as session:
        started = await session.scalar(select(FsmRecord.updated_at))
    assert await scan_idle_forms(app, now=started + timedelta(days=4)) == (0, 0)
    assert await scan_idle_forms(app, now=started + timedelta(days=5, hours=1)) == (1, 0)
    assert await scan_idle_forms(app, now=started + timedelta(days=6)) == (0, 0)  # one reminder only
    assert await scan_idle_forms(app, now=started + timedelta(days=7, hours=1)) == (0, 1)
    async with app.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 0
    assert "第1/6步" in (await harness.send(LI, "/report"))[-1]  # a fresh form


@pytest.mark.redis
async def test_idle_form_in_redis_gets_one_reminder_then_is_discarded(app, world, redis_storage):
    """Scaled out (REDIS_URL), forms live in Redis; the same scan finds and drops the idle ones there."""
    harness = Harness(build_dispatcher(app, storage=redis_storage), MockedBot())
    await harness.send(LI, "/report")
    await harness.send(LI, "小结")
    (form,) = await redis_storage.idle("ReportForm:filling", touched_before=datetime.utcnow() + timedelta(seconds=1))
    started = form.touched_at
    scan = partial(scan_idle_forms, app, storage=redis_storage)
    assert await scan(now=started + timedelta(days=4)) == (0, 0)
    assert await scan(now=started + timedelta(days=5, hours=1)) == (1, 0)
    assert await scan(now=started + timedelta(days=6)) == (0, 0)  # one reminder only
    assert await scan(now=started + timedelta(days=7, hours=1)) == (0, 1)
    assert await redis_storage.idle("ReportForm:filling", touched_before=started + timedelta(days=30)) == []
    assert "第1/6步" in (await harness.send(LI, "/report"))[-1]  # a fresh form


async def test_an_idle_form_touched_again_is_not_discarded(harness, app, world):
    await harness.send(LI, "/report")
    storage = harness.dp.storage
    (form,) = await storage.idle("ReportForm:filling", touched_before=datetime.utcnow() + timedelta(seconds=1))
    await harness.send(LI, "小结")  # the member carries on before the scan gets to it
    assert await storage.discard(form) is False
    (still,) = await storage.idle("ReportForm:filling", touched_before=datetime.utcnow() + timedelta(seconds=1))
    assert still.touched_at > form.touched_at


def test_register_adds_the_two_jobs(app):
    class Recorder:
        def __init__(self):
            self.jobs = []

        def add_job(self, func, trigger, **kwargs):
            self.jobs.append((func, trigger, kwargs))

    scheduler = Recorder()
    register(scheduler, app, bot=None)
    assert {job[2]["id"] for job in scheduler.jobs} == {"reports:reminders"}  # idle forms: schedulers/forms.py
    assert all(job[2]["coalesce"] and job[2]["max_instances"] == 1 for job in scheduler.jobs)

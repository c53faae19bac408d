"""Time travel: moving the bot's clock runs the scheduler's own jobs at the moments they were due, in order,
with the clock standing at each moment; scripts' `at:`/`advance:` steps parse and report bad values."""
from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import Clock, ManualClock
from bot.simulator.script import ScriptError, parse_script
from bot.simulator.timetravel import TimeTravelError, parse_duration, travel, travel_to

TZ = ZoneInfo("Asia/Shanghai")


def make_app(start: datetime, clock=None):
    seen: list[tuple[str, datetime]] = []
    app = SimpleNamespace(clock=clock or ManualClock(start), settings=SimpleNamespace(tz=TZ))
    scheduler = AsyncIOScheduler(timezone=TZ)

    async def morning(app):  # a cron job, as the report reminders are
        seen.append(("morning", app.clock.now().astimezone(TZ)))

    async def scan(app, now=None):  # an interval scan, as the daily items' and the digests' are
        seen.append(("scan", (now or app.clock.now()).astimezone(TZ)))

    scheduler.add_job(morning, "cron", hour=9, minute=0, args=[app], id="morning")
    scheduler.add_job(scan, "interval", seconds=30, args=[app], id="scan")
    app.scheduler = scheduler
    return app, seen


async def test_moving_the_clock_runs_due_jobs_at_their_moments_in_order():
    start = datetime(2026, 11, 23, 7, 0, tzinfo=TZ)
    app, seen = make_app(start)
    await travel_to(app, datetime(2026, 11, 24, 10, 30, tzinfo=TZ))
    mornings = [at for name, at in seen if name == "morning"]
    scans = [at for name, at in seen if name == "scan"]
    assert mornings == [datetime(2026, 11, 23, 9, 0, tzinfo=TZ), datetime(2026, 11, 24, 9, 0, tzinfo=TZ)]
    assert scans[0] == start + timedelta(hours=1) and scans[-1] == datetime(2026, 11, 24, 10, 30, tzinfo=TZ)
    assert len(scans) == 28  # hourly from 08:00 to 10:00 the next day (27), and at the target
    assert [at for _name, at in seen] == sorted(at for _name, at in seen)  # in time order
    assert app.clock.now() == datetime(2026, 11, 24, 10, 30, tzinfo=TZ)


async def test_advance_and_at_steps_and_the_real_clock_becomes_a_manual_one():
    app, seen = make_app(datetime.now(TZ), clock=Clock())
    moved = await travel(app, advance="1d 2h")
    assert isinstance(app.clock, ManualClock) and moved == app.clock.now().astimezone(TZ)
    assert sum(1 for name, _at in seen if name == "morning") >= 1
    with pytest.raises(TimeTravelError, match="forward"):
        await travel(app, at="2020-01-01 08:00")


def test_durations():
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration("1d 2h 30m") == timedelta(days=1, hours=2, minutes=30)
    for bad in ("", "2", "2 weeks", "-1d"):
        with pytest.raises(TimeTravelError):
            parse_duration(bad)


def _script(*steps):
    return {"users": {"li": {"id": 1001, "name": "海波"}}, "steps": list(steps)}


def test_script_clock_steps_parse_alone_or_with_an_action():
    script = parse_script(_script({"at": "2026-11-23 08:45"}, {"as": "li", "advance": "2d", "expect": "周报"},
                                  {"as": "li", "at": "2026-11-26 09:00", "send": "/me"}))
    alone, with_expect, with_action = script.steps
    assert (alone.user, alone.action, alone.at) == (None, None, "2026-11-23 08:45")
    assert (with_expect.action, with_expect.advance, with_expect.expect) == (None, "2d", ["周报"])
    assert (with_action.action, with_action.value, with_action.at) == ("send", "/me", "2026-11-26 09:00")


@pytest.mark.parametrize("step, message", [
    ({"at": "next monday"}, "local time"),
    ({"advance": "soon"}, "duration"),
    ({"at": "2026-11-23 08:45", "advance": "1d"}, "not both"),
    ({"advance": "1d", "expect": "周报"}, "`as`"),
])
def test_bad_clock_steps_are_named(step, message):
    with pytest.raises(ScriptError, match=message):
        parse_script(_script(step))


async def test_repl_clock_shows_and_moves_the_bots_clock():
    from bot.simulator import SimUser
    from bot.simulator.repl import Repl

    app, seen = make_app(datetime(2026, 11, 23, 7, 0, tzinfo=TZ))
    server = SimpleNamespace(users={1001: None}, add_user=lambda user: user)
    out: list[str] = []
    repl = Repl(SimpleNamespace(server=server), {"li": SimUser(id=1001, first_name="海波")}, "li", out=out.append,
                travel=lambda **kw: travel(app, **kw), now=lambda: app.clock.now().astimezone(TZ))
    await repl.handle("/clock")
    await repl.handle("/clock +1d")
    await repl.handle("/clock 2026-11-25 08:00")
    assert out == ["⏱ 2026-11-23 07:00 (Mon)", "⏱ 2026-11-24 07:00 (Tue)", "⏱ 2026-11-25 08:00 (Wed)"]
    assert [at.day for name, at in seen if name == "morning"] == [23, 24]

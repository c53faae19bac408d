"""Time travel for conversation scripts (`at:` / `advance:` steps) and the simulator's `/clock`.

Moving the bot's clock forward first runs what the scheduler would have run meanwhile: the very jobs
registered with the app's APScheduler (`scheduler.get_jobs()`), called with their own arguments while the
clock stands at each moment they were due, in time order. Cron jobs run at each of their fire times
(computed by their own trigger from the bot's clock); interval scans — which look at the database for due
work, e.g. the daily items and the digests — run once per `SCAN_STEP` of travelled time and at the target,
as a running bot would have caught up with them. The real scheduler is paused meanwhile, so a job never runs
twice at once. The delivery sender then sends what the jobs queued, as it would at that time.
"""
from __future__ import annotations

import inspect
import re
from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import ManualClock

SCAN_STEP = timedelta(hours=1)  # an interval scan runs at most this often while travelling
MAX_TRAVEL = timedelta(days=400)
_DURATION = re.compile(r"(\d+)\s*([dhm])")


class TimeTravelError(ValueError):
    """The target is not a time, or not later than the bot's clock."""


def parse_local(text: str, tz) -> datetime:
    """'2026-11-23 08:45' (local time in the bot's zone) → an aware datetime."""
    try:
        return datetime.strptime(str(text).strip(), "%Y-%m-%d %H:%M").replace(tzinfo=tz)
    except ValueError:
        raise TimeTravelError(f"not a local time like \"2026-11-23 08:45\": {text!r}") from None


def parse_duration(text: str) -> timedelta:
    """'2d', '3h', '30m', '1d 2h' → a timedelta."""
    value = str(text).strip().lower()
    parts = _DURATION.findall(value)
    if not parts or _DURATION.sub("", value).strip():
        raise TimeTravelError(f"not a duration like 2d, 3h, 30m or 1d 2h: {text!r}")
    units = {"d": "days", "h": "hours", "m": "minutes"}
    return sum((timedelta(**{units[unit]: int(n)}) for n, unit in parts), timedelta())


async def travel_to(app: Any, target: datetime) -> int:
    """Move `app.clock` (made a ManualClock if it is the real one) forward to `target`, running every job
    the scheduler had due on the way. Returns how many job runs were made."""
    start = app.clock.now()
    if target.astimezone(start.tzinfo) <= start:
        raise TimeTravelError(f"the clock can only move forward (it is {start.astimezone(target.tzinfo):%Y-%m-%d %H:%M})")
    if target - start > MAX_TRAVEL:
        raise TimeTravelError(f"at most {MAX_TRAVEL.days} days at once")
    if not isinstance(app.clock, ManualClock):
        app.clock = ManualClock(start)
    scheduler = app.scheduler
    runs = _due_runs(scheduler.get_jobs() if scheduler is not None else [], start, target)
    if scheduler is not None and scheduler.running:
        scheduler.pause()
    try:
        for moment, _order, job in runs:
            app.clock.set(moment)
            result = job.func(*job.args, **job.kwargs)
            if inspect.isawaitable(result):
                await result
        app.clock.set(target)
    finally:
        if scheduler is not None and scheduler.running:
            scheduler.resume()
    return len(runs)


def _due_runs(jobs: list[Any], start: datetime, target: datetime) -> list[tuple[datetime, int, Any]]:
    runs = []
    for order, job in enumerate(jobs):
        if isinstance(job.trigger, IntervalTrigger):
            step = max(SCAN_STEP, job.trigger.interval)
            moments = [start + step * n for n in range(1, int((target - start) / step) + 1)]
            if not moments or moments[-1] < target:
                moments.append(target)
        else:
            moments = _fire_times(job.trigger, start, target)
        runs += [(moment, order, job) for moment in moments]
    return sorted(runs, key=lambda run: (run[0], run[1]))


def _fire_times(trigger: Any, start: datetime, target: datetime) -> list[datetime]:
    times, previous = [], None
    moment = trigger.get_next_fire_time(None, start + timedelta(microseconds=1))
    while moment is not None and moment <= target:
        times.append(moment)
        previous = moment
        moment = trigger.get_next_fire_time(previous, moment + timedelta(microseconds=1))
    return times


async def travel(app: Any, at: str | None = None, advance: str | None = None) -> datetime:
    """A script step's or /clock's move: `at` a local time, or `advance` a duration. Returns the new time."""
    tz = app.settings.tz
    target = parse_local(at, tz) if at is not None else app.clock.now() + parse_duration(advance or "")
    await travel_to(app, target)
    return target.astimezone(tz)

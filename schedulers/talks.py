"""Talk follow-up jobs: on the due date the owner is reminded (once: the delivery key; on the next scan when
the bot was down that day), the day after the branch secretaries hear of it if it is still open (once each). One daily scan; `now` for tests."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.context import App
from bot.services import talks
from handlers.ui import talk_notices
from schedulers import scan_lock

log = logging.getLogger(__name__)


def register(scheduler: Any, app: App, bot: Any) -> None:
    scheduler.add_job(scan_follow_ups, "cron", hour=app.settings.talk_reminder_hour, minute=5, args=[app],
                      id="talks:follow-ups", coalesce=True, max_instances=1, replace_existing=True,
                      misfire_grace_time=6 * 3600)


async def scan_follow_ups(app: App, now: datetime | None = None) -> tuple[int, int]:
    """Queue today's reminders and the overdue notices; returns (reminders, overdue notices) newly queued."""
    today = (now or app.clock.now()).astimezone(app.settings.tz).date()
    reminded = overdue = 0
    async with scan_lock(app.engine, "talks:follow-ups") as mine:
        if not mine:
            return 0, 0
        async with app.sessionmaker() as session, session.begin():
            for item in await talks.follow_ups_due(session, today):
                # the owner once (also when the bot was down on the due date), the secretaries once it is late
                reminded += await talk_notices.follow_up_due(session, app, item)
                if item.due_date < today:
                    overdue += await talk_notices.follow_up_overdue(session, app, item)
    if reminded or overdue:
        log.info("talk follow-ups: %d reminders, %d overdue notices queued", reminded, overdue)
        app.kick_delivery()
    return reminded, overdue

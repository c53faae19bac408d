"""The bot's clock: the one place the running bot reads the time.

Handlers, jobs and services take the time from an injected `Clock` instead of `datetime.now()`, so tests,
conversation scripts and the simulator can set the date (the suite once failed on the 1st of a month because
it read the real one). Stored times are naive UTC (storage.models.utcnow); `utc_naive()` gives that form."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo


class Clock:
    """The real time."""

    def now(self) -> datetime:
        """Now, timezone-aware, in UTC."""
        return datetime.now(timezone.utc)

    def local(self, tz: tzinfo) -> datetime:
        """Now in the given (the bot's) time zone."""
        return self.now().astimezone(tz)

    def utc_naive(self) -> datetime:
        """Now as the database stores times: naive UTC."""
        return self.now().replace(tzinfo=None)


class ManualClock(Clock):
    """A clock that stands still until it is set or advanced (tests, scripts, the simulator's /clock)."""

    def __init__(self, at: datetime) -> None:
        self._at = _aware(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = _aware(at)

    def advance(self, delta: timedelta) -> None:
        self._at += delta


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a ManualClock needs an aware datetime (say which time zone the time is in)")
    return at.astimezone(timezone.utc)

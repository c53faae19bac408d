"""Pacing for Telegram's flood limits: an overall rate plus a minimum gap per chat.

Hand-written rather than aiolimiter because the per-chat gap needs "when may this chat be sent to next",
which a shared leaky bucket does not answer; the clock is injectable so tests need no sleeping.
"""
from __future__ import annotations

import math
import time
from collections import deque
from typing import Callable


class Pacer:
    def __init__(self, rate: float, chat_interval: float, group_interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.spacing = 1.0 / rate
        self.rate = rate
        # A token bucket for dispatching: steady `rate`, and after a stall (a slow database moment) up to
        # `catch_up` calls may go at once to make up for it; `admit` still caps every one-second window.
        self.catch_up = max(1.0, min(5.0, rate / 5))
        self._tokens = 1.0
        self._refilled = clock()
        self.chat_interval = chat_interval
        self.group_interval = group_interval
        self.clock = clock
        self._next_chat: dict[int, float] = {}
        # Calls admitted in the last window: spacing alone lets calls bunch up when the work between the
        # reservation and the HTTP request (a database write) takes uneven time; this caps any window.
        self.burst = max(1, math.floor(rate))
        self.window = 1.0
        self._admitted: deque[float] = deque()
        # Hard ceiling on actual departures, a little above the nominal rate so that catching up after a
        # database stall is possible, with a margin below Telegram's own limit (about 30/s) for network
        # jitter: only when writes that queued up finish together does a call wait here.
        self.ceiling = max(self.burst, math.floor(rate * 1.1))
        self._departed: deque[float] = deque()

    def interval_for(self, chat_id: int) -> float:
        # Negative ids are groups and channels: Telegram allows them about 20 messages a minute.
        return self.group_interval if chat_id < 0 else self.chat_interval

    def chat_ready_at(self, chat_id: int) -> float:
        return self._next_chat.get(chat_id, 0.0)

    def busy(self, chat_id: int) -> bool:
        return self._next_chat.get(chat_id, 0.0) == float("inf")

    def defer_chat(self, chat_id: int, until: float) -> None:
        """After a 429 for this chat: nothing goes to it before `until` (call after `done`)."""
        self._next_chat[chat_id] = max(self._next_chat.get(chat_id, 0.0), until)

    def reserve(self, chat_id: int) -> float:
        """Book the next overall slot for a call to `chat_id`; returns the clock time it may start.

        The chat stays busy until `done(chat_id)`: one call per chat at a time, and the gap is counted
        from the previous call's answer, so Telegram (which sees the requests arrive) never sees two
        requests to one chat closer than the interval, however long our own database write before the
        call or the network took."""
        now = self.clock()
        self._tokens = min(self.catch_up, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        self._tokens -= 1.0  # below zero: a debt the next calls wait off
        start = now if self._tokens >= 0 else now + (-self._tokens) / self.rate
        self._next_chat[chat_id] = float("inf")
        if len(self._next_chat) > 50_000:  # forget chats whose gap has long passed (bounded memory)
            self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}
        return start

    def done(self, chat_id: int) -> None:
        """The call to `chat_id` was answered: the next one may go `interval` from now (or later after a 429)."""
        after = self.clock() + self.interval_for(chat_id)
        current = self._next_chat.get(chat_id, 0.0)
        self._next_chat[chat_id] = after if current == float("inf") else max(current, after)

    def admit(self) -> float:
        """Book a slot before the pre-send database write; returns the clock time to wait for."""
        now = self.clock()
        # at least half a slot apart: catching up after a stall goes at up to twice the rate, never in a burst
        start = max(now, (self._admitted[-1] + self.spacing / 2) if self._admitted else 0.0)
        if len(self._admitted) >= self.burst:
            start = max(start, self._admitted[-self.burst] + self.window)
        self._admitted.append(start)
        while len(self._admitted) > self.burst:
            self._admitted.popleft()
        return start

    def departure_wait(self) -> float:
        """Right before the HTTP request: seconds to wait so no 1 s window of actual departures holds more
        than `ceiling` calls (0 when it may leave now; then call `departed()` with no await in between).

        Counted on the real departure times, not planned ones: an event loop busy elsewhere wakes sleepers
        late and together, and planned times would let those go in one burst."""
        now = self.clock()
        while self._departed and self._departed[0] <= now - self.window:
            self._departed.popleft()
        if len(self._departed) < self.ceiling:
            return 0.0
        return self._departed[0] + self.window - now

    def departed(self) -> None:
        self._departed.append(self.clock())

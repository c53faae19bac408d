"""Pacing for Telegram's flood limits: an overall rate plus a minimum gap per chat.

Hand-written rather than aiolimiter because the per-chat gap needs "when may this chat be sent to next",
which a shared leaky bucket does not answer; the clock is injectable so tests need no sleeping.
"""
from __future__ import annotations

import time
from typing import Callable


class Pacer:
    def __init__(self, rate: float, chat_interval: float, group_interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.spacing = 1.0 / rate
        self.chat_interval = chat_interval
        self.group_interval = group_interval
        self.clock = clock
        self._next_global = 0.0
        self._next_chat: dict[int, float] = {}

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
        start = max(now, self._next_global, self._next_chat.get(chat_id, 0.0))
        self._next_global = start + self.spacing
        self._next_chat[chat_id] = float("inf")
        if len(self._next_chat) > 50_000:  # forget chats whose gap has long passed (bounded memory)
            self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}
        return start

    def done(self, chat_id: int) -> None:
        """The call to `chat_id` was answered: the next one may go `interval` from now (or later after a 429)."""
        after = self.clock() + self.interval_for(chat_id)
        current = self._next_chat.get(chat_id, 0.0)
        self._next_chat[chat_id] = after if current == float("inf") else max(current, after)

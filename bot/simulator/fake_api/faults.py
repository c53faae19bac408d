"""Deterministic (seeded) fault injection for the fake Bot API server."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field


@dataclass
class Faults:
    """Deterministic fault injection. Change ``server.faults`` at any time.

    * ``methods``: only calls to these methods are affected (``None``: every method except
      ``getUpdates``, ``getMe``, ``deleteWebhook``, ``setWebhook`` and ``getWebhookInfo``).
    * ``rate_limit_probability`` / ``rate_limit_calls``: answer 429 with ``retry_after`` drawn
      from ``retry_after`` (inclusive range). ``*_calls`` are 1-based ordinals of the
      affected calls counted since this ``Faults`` was installed.
    * ``forbidden_chats`` / ``forbidden_probability``: 403 "bot was blocked by the user".
    * ``server_error_probability`` / ``server_error_calls``: 500.
    * ``latency``: seconds added to each affected call (a number or a ``(min, max)`` range).
    * ``seed``: the random source, so a run can be repeated exactly.
    * ``global_per_second`` / ``per_chat_per_second``: Telegram-like flood limits (e.g. 30 and
      1): a call beyond that many successful calls in the last second (overall / to that chat)
      gets 429 with ``retry_after=1``. Time-based, so not bit-for-bit repeatable.
    """

    methods: set[str] | None = None
    rate_limit_probability: float = 0.0
    rate_limit_calls: set[int] = field(default_factory=set)
    retry_after: tuple[int, int] = (1, 3)
    forbidden_chats: set[int] = field(default_factory=set)
    forbidden_probability: float = 0.0
    server_error_probability: float = 0.0
    server_error_calls: set[int] = field(default_factory=set)
    latency: float | tuple[float, float] = 0.0
    seed: int | None = 0
    global_per_second: float | None = None
    per_chat_per_second: float | None = None

    _PROTECTED = frozenset({"getupdates", "getme", "deletewebhook", "setwebhook", "getwebhookinfo"})

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._count = 0
        self._recent: list[float] = []
        self._recent_chat: dict[int, list[float]] = {}
        self._methods = {m.lower() for m in self.methods} if self.methods is not None else None

    def applies(self, method: str) -> bool:
        m = method.lower()
        if self._methods is None:
            return m not in self._PROTECTED
        return m in self._methods

    def decide(self, method: str, chat_id: int | None) -> tuple[float, tuple[int, str, dict] | None]:
        """Return (latency, error or None) for one call. Consumes randomness deterministically."""
        if not self.applies(method):
            return 0.0, None
        self._count += 1
        n = self._count
        rng = self._rng
        if isinstance(self.latency, tuple):
            delay = rng.uniform(*self.latency)
        else:
            delay = float(self.latency)
        roll_429, roll_403, roll_500 = rng.random(), rng.random(), rng.random()
        retry = rng.randint(self.retry_after[0], self.retry_after[1])
        if chat_id is not None and chat_id in self.forbidden_chats:
            return delay, (403, "Forbidden: bot was blocked by the user", {})
        if n in self.rate_limit_calls or roll_429 < self.rate_limit_probability:
            return delay, (
                429,
                f"Too Many Requests: retry after {retry}",
                {"retry_after": retry},
            )
        if roll_403 < self.forbidden_probability:
            return delay, (403, "Forbidden: bot was blocked by the user", {})
        if n in self.server_error_calls or roll_500 < self.server_error_probability:
            return delay, (500, "Internal Server Error", {})
        if self.global_per_second or self.per_chat_per_second:
            now = time.monotonic()
            self._recent = [t for t in self._recent if now - t < 1.0]
            if self.global_per_second and len(self._recent) >= self.global_per_second:
                return delay, (429, "Too Many Requests: retry after 1", {"retry_after": 1})
            if chat_id is not None and self.per_chat_per_second:
                recent = [t for t in self._recent_chat.get(chat_id, []) if now - t < 1.0]
                self._recent_chat[chat_id] = recent
                if len(recent) >= self.per_chat_per_second:
                    return delay, (429, "Too Many Requests: retry after 1", {"retry_after": 1})
                recent.append(now)
            self._recent.append(now)
        return delay, None

"""The pacer with a fake clock: overall rate, the one-second window, the ceiling, one call per chat at a time."""
from __future__ import annotations

import pytest

from bot.delivery.limiter import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reservations_follow_the_rate_after_a_small_catch_up_allowance():
    clock = Clock()
    pacer = Pacer(rate=10, chat_interval=1.0, group_interval=3.0, clock=clock)
    clock.now += 10  # idle for a while: the bucket holds at most `catch_up` tokens
    starts = [pacer.reserve(chat_id=n) for n in range(12)]
    immediate = sum(1 for start in starts if start == clock.now)
    assert immediate == 2  # catch_up = rate / 5
    assert starts[-1] - clock.now >= (12 - immediate) / 10 - 1e-9


def test_admit_keeps_every_one_second_window_within_the_rate_and_spreads_calls():
    clock = Clock()
    pacer = Pacer(rate=5, chat_interval=1.0, group_interval=3.0, clock=clock)
    starts = [pacer.admit() for _ in range(20)]
    assert all(b - a >= 0.1 - 1e-9 for a, b in zip(starts, starts[1:]))  # never a burst
    assert max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts) <= 5


def test_departures_that_bunched_up_are_capped_at_the_ceiling():
    clock = Clock()
    pacer = Pacer(rate=10, chat_interval=1.0, group_interval=3.0, clock=clock)
    assert pacer.ceiling == 11
    left_now = 0
    while pacer.departure_wait() == 0:  # 30 writes finished at the same instant: 11 may go
        pacer.departed()
        left_now += 1
    assert left_now == 11 and pacer.departure_wait() == 1.0
    clock.now += 0.4
    assert pacer.departure_wait() == pytest.approx(0.6)  # counted from the real departures
    clock.now += 0.6
    assert pacer.departure_wait() == 0


def test_one_call_per_chat_at_a_time_and_the_gap_counts_from_the_answer():
    clock = Clock()
    pacer = Pacer(rate=100, chat_interval=1.0, group_interval=3.0, clock=clock)
    pacer.reserve(42)
    assert pacer.busy(42) and not pacer.busy(43)
    clock.now += 0.4  # the answer came after 0.4 s
    pacer.done(42)
    assert not pacer.busy(42) and pacer.chat_ready_at(42) == clock.now + 1.0
    pacer.reserve(-100)  # a group chat
    pacer.done(-100)
    assert pacer.chat_ready_at(-100) == clock.now + 3.0
    pacer.defer_chat(42, clock.now + 5)  # a 429 with retry_after 5
    assert pacer.chat_ready_at(42) == clock.now + 5

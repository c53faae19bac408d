"""Summaries of the calls the bot made to the fake server (for benchmarks and assertions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .models import CallRecord


@dataclass
class CallStats:
    """Summary of the bot's calls of some methods (see :func:`call_stats`)."""

    total: int
    ok: int
    by_outcome: dict[str, int]
    duration: float  # seconds from the first to the last call
    ok_per_second: float
    min_gap_per_chat: dict[int, float]  # smallest time between two successful calls to a chat
    duplicates: list[tuple[int, str]]  # (chat, text) delivered more than once


def call_stats(calls: Iterable[CallRecord], methods: Iterable[str] = ("sendMessage", "sendPhoto",
               "sendDocument", "sendMediaGroup", "copyMessage")) -> CallStats:
    """Throughput, per-chat gaps and duplicate deliveries from ``server.calls``."""
    wanted = {m.lower() for m in methods}
    sel = [c for c in calls if c.method.lower() in wanted]
    by_outcome: dict[str, int] = {}
    for c in sel:
        by_outcome[c.outcome] = by_outcome.get(c.outcome, 0) + 1
    ok = [c for c in sel if c.outcome == "ok"]
    span = (sel[-1].t - sel[0].t) if len(sel) > 1 else 0.0
    gaps: dict[int, float] = {}
    last: dict[int, float] = {}
    seen: dict[tuple[int, str], int] = {}
    for c in ok:
        if c.chat_id is None:
            continue
        if c.chat_id in last:
            gap = c.t - last[c.chat_id]
            gaps[c.chat_id] = min(gap, gaps.get(c.chat_id, gap))
        last[c.chat_id] = c.t
        key = (c.chat_id, str(c.params.get("text") or c.params.get("caption") or ""))
        seen[key] = seen.get(key, 0) + 1
    return CallStats(
        total=len(sel), ok=len(ok), by_outcome=by_outcome, duration=span,
        ok_per_second=(len(ok) / span) if span > 0 else float(len(ok)),
        min_gap_per_chat=gaps, duplicates=[k for k, n in seen.items() if n > 1 and k[1]],
    )

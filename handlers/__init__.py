"""Thin aiogram routers, one per capability. `build_routers()` makes fresh ones each call
(a Router can be attached to only one parent, and tests build many dispatchers)."""
from __future__ import annotations

from aiogram import Router


def build_routers() -> list[Router]:
    from handlers import admin, ask, common, fallback, gate, start
    from handlers import reports, review
    from handlers import daily

    # Order matters: joining first, then the gate that stops non-members, then features (forms with FSM
    # states before anything that takes free text), then free-text questions, then the fallback.
    return [
        start.router(),
        gate.router(),
        common.router(),
        admin.router(),
        reports.router(),  # 四不伤害 form (its FSM state takes free text before questions do)
        review.router(),  # report review and corrective actions
        daily.router(),  # daily safety item: 已学习 / quiz buttons, /today, /acks, /schedule
        # -- feature routers go above this line --
        # -- free text (questions) --
        ask.router(),
        fallback.router(),
    ]

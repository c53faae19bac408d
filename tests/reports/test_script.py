"""The report-and-review conversation script runs through the simulator's script runner (the same
runner `fieldmate simulate --script` uses) against the real bot over long polling."""
from __future__ import annotations

from pathlib import Path

import pytest
from aiogram.fsm.storage.memory import SimpleEventIsolation

from bot.app import build_bot, build_dispatcher
from bot.simulator.driver import SimDriver
from bot.simulator.fake_api import FakeTelegramServer
from bot.simulator.harness import polling
from bot.simulator.script import load_script, run_script

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "report_review.yaml"


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # PostgreSQL is covered by test_e2e.py
async def test_report_review_script(app, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # photo paths in the script are repo-relative
    script = load_script(SCRIPT)
    app.clock.set(script.clock.replace(tzinfo=app.settings.tz))
    app.settings.admin_ids = sorted(set(app.settings.admin_ids) | set(script.admin_ids))
    async with FakeTelegramServer() as server:
        dp = build_dispatcher(app, background=False)
        dp.fsm.events_isolation = SimpleEventIsolation()  # see tests/reports/test_e2e.py
        async with polling(server, dp, bot=build_bot(app.settings, server.base_url)):
            transcript: list[str] = []
            ok = await run_script(script, SimDriver(server, quiet=0.05), out=transcript.append)
    assert ok, "\n".join(transcript[-40:])

"""`fieldmate schedule …` and `fieldmate daily …` through typer's test runner."""
from __future__ import annotations

import typer
from typer.testing import CliRunner

from bot import daily_cli
from tests.daily.test_loader import BAD, GOOD, write

runner = CliRunner()


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)
    daily_cli.register(app)
    return app


def test_daily_check_reports_problems_with_file_and_line_and_fails(tmp_path):
    write(tmp_path, "bad.yaml", BAD)
    result = runner.invoke(cli(), ["daily", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "bad.yaml:6:" in result.output and "2 items in 1 files" in result.output


def test_daily_check_passes_on_good_files(tmp_path):
    write(tmp_path, "good.yaml", GOOD)
    result = runner.invoke(cli(), ["daily", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2 items" in result.output and "1 with a quiz" in result.output


def test_schedule_set_holiday_show(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    app = cli()
    from bot.cli import app as main_app  # noqa: F401  (the real CLI registers the same commands)
    from bot.cli import run_with_session, settings_or_exit
    from bot.services import membership

    run_with_session(settings_or_exit(), lambda session: membership.add_branch(session, "余山供电所"))
    result = runner.invoke(app, ["schedule", "set", "余山供电所", "--at", "07:20", "--everyday"])
    assert result.exit_code == 0, result.output
    assert "07:20 every day" in result.output
    result = runner.invoke(app, ["schedule", "holiday", "余山供电所", "2099-10-01..2099-10-02"])
    assert "2099-10-01, 2099-10-02" in result.output
    result = runner.invoke(app, ["schedule", "show"])
    assert "余山供电所: 07:20 every day" in result.output
    result = runner.invoke(app, ["schedule", "set", "余山供电所", "--at", "7.20"])
    assert result.exit_code == 1 and "daily_bad_time" in result.output

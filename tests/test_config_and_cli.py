"""Settings fail with one clear line; the CLI manages branches and invites on the configured database."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from bot.config import SettingsError, load_settings
from handlers.ui.render import split_text


@pytest.mark.parametrize(
    "override, named",
    [({"timezone": "Mars/Base"}, "TIMEZONE"), ({"database_url": "mysql://x"}, "DATABASE_URL"),
     ({"admin_ids": "12,abc"}, "ADMIN_IDS"), ({"default_locale": "fr"}, "DEFAULT_LOCALE")],
)
def test_invalid_settings_name_the_setting_in_one_line(override, named):
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, **override)
    message = str(caught.value)
    assert named in message and "\n" not in message


def test_admin_ids_accept_a_comma_separated_list_and_tokens_stay_secret():
    settings = load_settings(_env_file=None, admin_ids="1, 2,3", bot_token="123:abc")
    assert settings.admin_ids == [1, 2, 3]
    assert "123:abc" not in repr(settings)


def test_bad_setting_at_start_prints_one_line_not_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"], capture_output=True, text=True, cwd=tmp_path,
        env={"TIMEZONE": "Nowhere/Land", "PATH": "", "PYTHONPATH": str(__import__("pathlib").Path(__file__).parents[1])},
    )
    assert result.returncode == 2
    assert "Invalid setting TIMEZONE" in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_cli_creates_branch_and_invite_link(tmp_path, monkeypatch):
    from bot.cli import app

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    assert "余山供电所" in runner.invoke(app, ["branch", "add", "余山供电所"]).output
    result = runner.invoke(app, ["invite", "create", "--branch", "余山供电所", "--role", "member", "--uses", "50", "--days", "14"])
    assert result.exit_code == 0 and "https://t.me/fieldmate_bot?start=" in result.output
    refused = runner.invoke(app, ["branch", "add", "余山供电所"])
    assert refused.exit_code == 1 and "branch_exists" in refused.output
    assert re.search(r"余山供电所\s+0 members", runner.invoke(app, ["branch", "list"]).output)


def test_long_replies_split_on_lines_under_the_telegram_limit():
    text = "\n".join(f"第{i}条 " + "安" * 90 for i in range(200))
    parts = split_text(text)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text
    assert split_text("x" * 9000) == ["x" * 4096, "x" * 4096, "x" * 808]


def test_env_example_documents_every_setting_with_a_comment():
    from pathlib import Path

    from bot.config import Settings

    lines = (Path(__file__).resolve().parents[1] / ".env.example").read_text(encoding="utf-8").splitlines()
    documented = {line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")}
    assert documented == {name.upper() for name in Settings.model_fields}
    def is_setting(line: str) -> bool:
        return "=" in line and not line.startswith("#")

    for index, line in enumerate(lines):
        if is_setting(line):  # a comment directly above it, or above its group of settings
            above = index - 1
            while above >= 0 and is_setting(lines[above]):
                above -= 1
            assert above >= 0 and lines[above].startswith("#"), line
    example_values = {k: v for k, v in (l.split("=", 1) for l in lines if "=" in l and not l.startswith("#")) if v}
    load_settings(_env_file=None, **{k.lower(): v for k, v in example_values.items()})

"""The operator's side of the knowledge folder: `fieldmate ingest`, start-up messages, admin notices, logs."""
from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.config import load_settings
from storage.models import Delivery, Member, Role
from tests.knowledge.conftest import HashEmbeddings
from tests.knowledge.test_sync import _write_text_pdf


def _pdf_with_a_bad_pointer(path: Path) -> None:
    """A readable PDF whose startxref is off by two: pypdf repairs it and warns about it."""
    _write_text_pdf(path, ["1.1 Wear a helmet on every site visit."])
    data = path.read_bytes()
    at = data.rindex(b"startxref\n")
    offset = int(data[at + 10 :].split(b"\n")[0])
    path.write_bytes(data[:at] + b"startxref\n%d\n%%%%EOF\n" % (offset + 2))


@pytest.fixture(autouse=True)
def restore_logging():
    """The commands configure the root logger for the whole process; put it back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "规定.md").write_text("# 规定\n\n第一条 登杆前必须检查杆根。\n", "utf-8")
    (knowledge / "损坏.md").write_bytes(b"\x00" * 64)
    (knowledge / "旧版.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    _pdf_with_a_bad_pointer(knowledge / "site.pdf")
    for name, value in {"KNOWLEDGE_DIR": knowledge, "INDEX_DIR": tmp_path / "index", "LOG_DIR": tmp_path / "logs"}.items():
        monkeypatch.setenv(name, str(value))
    from bot.knowledge_engine import engine

    monkeypatch.setattr(engine.KnowledgeEngine, "from_settings", classmethod(
        lambda cls, settings, **over: cls(over.get("knowledge_dir", settings.knowledge_dir),
                                          over.get("index_dir", settings.index_dir), HashEmbeddings())))
    return knowledge


def test_ingest_prints_one_line_per_file_and_fails_when_a_file_failed(folder, tmp_path):
    from bot.cli import app

    result = CliRunner().invoke(app, ["ingest"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.split(" ", 1)[0] in ("added", "failed", "skipped")]
    assert [line.split()[:2] for line in lines] == [
        ["added", "site.pdf"], ["failed", "损坏.md"], ["skipped", "旧版.doc"], ["added", "规定.md"]]
    assert "startxref" not in result.output  # the PDF library's own lines go to the log file
    assert "startxref" in (tmp_path / "logs" / "ingest.log").read_text("utf-8")


def test_ingest_exits_zero_when_every_file_is_indexed_or_skipped(folder):
    from bot.cli import app

    (folder / "损坏.md").unlink()
    assert CliRunner().invoke(app, ["ingest"]).exit_code == 0


def test_indexing_message_only_when_something_must_be_indexed(folder, capsys):
    from bot.simulate import _wait_for_knowledge

    settings = load_settings(_env_file=None)

    async def wait_once() -> str:
        release = asyncio.Event()

        class App:
            knowledge_task = asyncio.create_task(release.wait())

        App.settings = settings
        asyncio.get_running_loop().call_later(0, release.set)
        await _wait_for_knowledge(App(), verbose=True)
        return capsys.readouterr().out

    assert "正在为知识库建立索引" in asyncio.run(wait_once())
    from bot.knowledge_engine import KnowledgeEngine

    KnowledgeEngine.from_settings(settings).sync()
    assert "正在为知识库建立索引" not in asyncio.run(wait_once())  # nothing changed since: no message


async def test_admins_are_told_which_files_failed_once(app, session):
    from bot.lifecycle import tell_admins_about_failed_files

    session.add(Member(telegram_id=77, real_name="赵管理", role=Role.ADMIN, locale="zh"))
    await session.commit()
    failed = [("损坏.pdf", "corrupt or unreadable PDF"), ("旧规程.md", "binary content, not a text file (contains NUL bytes)")]
    await tell_admins_about_failed_files(app, failed)
    await tell_admins_about_failed_files(app, failed)  # a restart with the same broken files
    rows = (await session.scalars(select(Delivery).where(Delivery.kind == "knowledge"))).all()
    assert sorted(row.chat_id for row in rows) == [1, 77]  # ADMIN_IDS and the admin member, once each
    text = next(row.text for row in rows if row.chat_id == 77)
    assert "2 个文件未能索引" in text and "损坏.pdf" in text and "旧规程.md" in text


def test_simulator_logs_go_to_a_file_named_once(tmp_path, monkeypatch, capsys):
    import bot.cli
    import bot.simulate

    async def chat(settings, **options):
        logging.getLogger("alembic.runtime.migration").info("Running upgrade -> 0001")
        return 0

    monkeypatch.setattr(bot.simulate, "simulate_main", chat)
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "logs"))
    result = CliRunner().invoke(bot.cli.app, ["simulate", "--fresh"])
    assert result.exit_code == 0
    assert "Running upgrade" not in result.output + capsys.readouterr().err
    assert result.output.count(str(tmp_path / "logs" / "simulator.log")) == 1
    assert "Running upgrade" in (tmp_path / "logs" / "simulator.log").read_text("utf-8")


def test_ctrl_c_stops_ingest_at_a_safe_point_and_the_next_run_resumes(tmp_path):
    """The real command and model on the sample folder (3 embedding batches): Ctrl-C after the first
    batch was stored ends with status 130 and nothing half-written; the next run embeds only the rest."""
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[1]
    index = tmp_path / "index"
    command = [sys.executable, "-m", "bot.cli", "ingest", "--knowledge", str(root / "knowledge"), "--index", str(index)]
    env = {"PATH": "/usr/bin:/bin", "LOG_DIR": str(tmp_path / "logs"), "PYTHONPATH": str(root)}

    def vectors_stored() -> int:
        try:
            with sqlite3.connect(index / "embeddings.sqlite") as db:
                return db.execute("SELECT count(*) FROM kv").fetchone()[0]
        except sqlite3.Error:
            return 0

    first = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while vectors_stored() == 0 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting on a condition (the first batch committed), not a timing assert
    first.send_signal(signal.SIGINT)
    output = first.communicate(timeout=240)[0]
    assert first.returncode == 130, output
    assert "Interrupted" in output and "Traceback" not in output
    stored = vectors_stored()
    assert stored >= 64

    second = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stdout + second.stderr
    chunks, embedded = map(int, re.search(r"(\d+) chunks \((\d+) passages embedded\)", second.stdout + second.stderr).groups())
    assert 0 < embedded <= chunks - stored  # what the first run stored is not embedded again

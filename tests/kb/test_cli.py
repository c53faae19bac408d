"""`fieldmate kb list|remove|restore` and `fieldmate reindex` on the configured folders: the same services as
the chat commands (trash folder, sync, audit as "cli"), clear refusals, and progress lines for the rebuild."""
from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.kb.files import REGULATION_MD
from tests.knowledge.conftest import HashEmbeddings

NAME = "变电站巡视规定.md"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / NAME).write_text(REGULATION_MD, "utf-8")
    (knowledge / "登杆规定.md").write_text("# 登杆规定\n\n第一条 登杆前必须检查杆根。\n", "utf-8")
    for name, value in {"KNOWLEDGE_DIR": knowledge, "INDEX_DIR": tmp_path / "index", "LOG_DIR": tmp_path / "logs",
                        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}.items():
        monkeypatch.setenv(name, str(value))
    from bot.knowledge_engine import engine

    monkeypatch.setattr(engine.KnowledgeEngine, "from_settings", classmethod(
        lambda cls, settings, **over: cls(settings.knowledge_dir, settings.index_dir, HashEmbeddings())))
    return knowledge


def run(*args: str, input: str | None = None):
    from bot.cli import app

    return CliRunner().invoke(app, list(args), input=input)


def audited(tmp_path) -> list[tuple[str, str]]:
    from storage.db import create_engine, create_sessionmaker
    from storage.models import AuditEntry

    async def read():
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
        async with create_sessionmaker(engine)() as session:
            rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
            out = [(row.action, row.actor_label) for row in rows]
        await engine.dispose()
        return out

    return asyncio.run(read())


def test_reindex_prints_progress_lines_then_the_totals(folder, tmp_path):
    result = run("reindex")
    assert result.exit_code == 0, result.output
    assert f"/2 {NAME}" in result.output and "Index rebuilt: 2 files, 5 passages" in result.output
    listing = run("kb", "list")
    assert listing.exit_code == 0
    assert "2 documents" in listing.output
    assert re.search(rf"{NAME}\s+《变电站巡视规定》\s+4 passages\s+4 clauses\s+synced 20", listing.output)


def test_remove_moves_to_the_trash_and_restore_brings_it_back(folder, tmp_path):
    assert run("reindex").exit_code == 0
    refused = run("kb", "remove", "规定")  # both titles match
    assert refused.exit_code == 1 and "kb_ambiguous" in refused.output
    assert run("kb", "remove", "巡视", input="n\n").exit_code == 1 and (folder / NAME).is_file()  # not confirmed

    removed = run("kb", "remove", "巡视", "--yes")
    assert removed.exit_code == 0 and f"{NAME} moved to the trash; 4 passages removed" in removed.output
    assert not (folder / NAME).exists() and (folder / "_trash" / NAME).is_file()
    listing = run("kb", "list").output
    assert "1 document " in listing and f"trash: {NAME}" in listing
    assert f"trash: {NAME}" in run("kb", "restore").output

    missing = run("kb", "restore", "没有这个")
    assert missing.exit_code == 1 and "kb_no_such_document" in missing.output
    restored = run("kb", "restore", "巡视")
    assert restored.exit_code == 0 and f"{NAME} restored: 4 passages, 4 clauses" in restored.output
    assert (folder / NAME).is_file() and "2 documents" in run("kb", "list").output
    assert audited(tmp_path) == [("kb.reindex", "cli"), ("kb.remove", "cli"), ("kb.restore", "cli")]

"""Every conversation script in tests/scripts runs through `fieldmate simulate --script`: the real bot,
real long polling, the local fake Telegram server. Scripts named *knowledge* use the sample knowledge
folder (indexed once per test session); scripts named *kb* change the folder, so they get an empty
temporary one."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings
from bot.simulate import simulate_main
from bot.simulator import transcript

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "tests" / "scripts").glob("*.yaml"))


@pytest.fixture(scope="session")
def shared_index(tmp_path_factory):
    return tmp_path_factory.mktemp("index")


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.stem for path in SCRIPTS])
async def test_conversation_script_passes(script, tmp_path, shared_index, capsys):
    uses_knowledge = "knowledge" in script.stem
    edits_knowledge = "kb" in script.stem
    if edits_knowledge:
        (tmp_path / "knowledge").mkdir()
    settings = load_settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        knowledge_dir=tmp_path / "knowledge" if edits_knowledge else ROOT / "knowledge",
        index_dir=tmp_path / "index" if edits_knowledge else shared_index,
        media_dir=tmp_path / "media",
        knowledge_sync_on_start=uses_knowledge,
    )
    assert await simulate_main(settings, fresh=True, script=script, as_user=None) == 0
    if script.name == transcript.SCRIPT.name:  # README shows this script's output: it must be the current one
        shown = transcript.block_in((ROOT / "README.md").read_text(encoding="utf-8"))
        assert shown == transcript.normalize(capsys.readouterr().out), "README's transcript is stale: run ./dev readme"

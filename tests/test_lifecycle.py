"""The knowledge engine feeds the daily items once a branch has used every listed item."""
from __future__ import annotations

from bot.knowledge_engine.types import Source
from bot.lifecycle import clause_source


class ClauseShelf:
    def __init__(self, texts):
        self.sources = [Source(f"c{i}", "配电线路作业安全要点", "3 停电", f"3.{i}", text, 1.0, "a.md")
                        for i, text in enumerate(texts)]

    def clauses(self):
        return self.sources


def test_draws_the_next_unused_clause_of_readable_length_with_its_source():
    draw = clause_source(ClauseShelf(["太短", "停电作业前应断开各方面电源，并有明显断开点。" * 2, "验电应使用相应电压等级的接触式验电器。" * 2]))
    first = draw(set())
    assert first["id"] == "clause:c1" and first["source"] == "《配电线路作业安全要点》3.1" and first["kind"] == "安规"
    assert draw({"clause:c1"})["id"] == "clause:c2"
    assert draw({"clause:c1", "clause:c2"}) is None

"""The knowledge engine feeds the daily items once a branch has used every listed item."""
from __future__ import annotations

import asyncio

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


class OpenedIndex:
    def stats(self):
        return {"chunks": 3}

    def warm_up(self):
        pass

    def clauses(self):
        return []


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_once_the_index_is_open_the_collector_no_longer_walks_what_lives_on_and_the_garbage_is_gone(monkeypatch):
    import gc
    import weakref
    from types import SimpleNamespace

    from bot.knowledge_engine import KnowledgeEngine
    from bot.lifecycle import YOUNG_GC_THRESHOLD, open_knowledge

    monkeypatch.setattr(KnowledgeEngine, "from_settings", classmethod(lambda cls, settings: OpenedIndex()))
    app = SimpleNamespace(settings=SimpleNamespace(knowledge_sync_on_start=False), knowledge=None,
                          daily_clause_source=None)
    alive, garbage = Cycle(), Cycle()
    gone = weakref.ref(garbage)
    del garbage
    thresholds = gc.get_threshold()
    gc.disable()  # nothing collects the cycle before the index opens
    try:
        asyncio.run(open_knowledge(app))
        assert isinstance(app.knowledge, OpenedIndex)
        assert gone() is None  # collected first, not frozen
        assert gc.get_freeze_count() > 0
        assert not any(obj is alive for obj in gc.get_objects())  # in the permanent generation, not generations 0-2
        assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, *thresholds[1:])  # and young objects collected less often
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*thresholds)

"""What one question costs the knowledge engine: the vector store is asked for ids and distances only, and
jieba segments the question once per retrieval (the signals share it), afresh for every question."""
from __future__ import annotations

import jieba
import jieba.posseg

from bot.knowledge_engine import retrieval


def test_nearest_clauses_are_langchains_ranking_without_their_texts(kdir, make_engine, fake_emb):
    engine = make_engine(kdir)
    engine.sync()
    vector = fake_emb.embed_query("登杆前要检查哪些地方")
    store = engine.index
    expected = [(doc.id, 1.0 - float(distance))
                for doc, distance in store.vectors.similarity_search_by_vector_with_relevance_scores(vector, k=8)]
    assert store.nearest(vector, 8) == expected
    assert len(expected) == 8


def test_one_retrieval_segments_the_question_once_and_the_next_one_again(kdir, make_engine, monkeypatch):
    engine = make_engine(kdir)
    engine.sync()
    calls: list[tuple[str, str]] = []
    cut, tag = jieba.lcut, jieba.posseg.lcut
    monkeypatch.setattr(jieba, "lcut", lambda text, *a, **k: calls.append(("words", text)) or cut(text, *a, **k))
    monkeypatch.setattr(jieba.posseg, "lcut", lambda text, *a, **k: calls.append(("tagged", text)) or tag(text, *a, **k))
    question, r = engine.retrieve("登杆前要检查哪些地方")
    assert r.hits and r.features  # the candidates were re-ranked and the refusal signals computed
    of_question = [kind for kind, text in calls if text == question]
    assert sorted(of_question) == ["tagged", "words"]
    calls.clear()
    engine.retrieve("登杆前要检查哪些地方")
    assert sorted(kind for kind, text in calls if text == question) == ["tagged", "words"]


def test_outside_a_retrieval_the_signals_segment_on_their_own(monkeypatch):
    calls: list[str] = []
    tag = jieba.posseg.lcut
    monkeypatch.setattr(jieba.posseg, "lcut", lambda text, *a, **k: calls.append(text) or tag(text, *a, **k))
    lex = retrieval.LexicalIndex(["登杆前检查脚扣和安全带"])
    retrieval.unknown_terms("检查变压器色谱", lex)
    retrieval.unknown_terms("检查变压器色谱", lex)
    assert calls == ["检查变压器色谱", "检查变压器色谱"]

"""Ingest speed and safety: embeddings batched and reused by content, progress, cancel, absurd files."""
from __future__ import annotations

import math

import pytest


RULES = "配电作业安全规定.md"


@pytest.fixture
def indexing():
    from bot.knowledge_engine import indexing

    return indexing


class RecordingEmbeddings:
    """Wraps the fake embedding and records the texts of every embedding call."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: list[list[str]] = []
        self.fingerprint = inner.fingerprint

    def embed_documents(self, texts):
        self.calls.append(list(texts))
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


def _long_rules(n: int) -> str:
    return "# 长规程\n\n" + "\n".join(f"第{i}条 第{i}项作业前应当核对设备编号{i}，确认安全措施{i}已经落实。" for i in range(1, n + 1)) + "\n"


def test_embeddings_are_batched_across_files_and_sorted_by_length(kdir, make_engine, fake_emb, indexing):
    recorder = RecordingEmbeddings(fake_emb)
    rep = make_engine(kdir, emb=recorder).sync()
    assert len(recorder.calls) == math.ceil(rep.chunks / indexing.EMBED_BATCH)
    lengths = [len(t) for call in recorder.calls for t in call]
    assert lengths == sorted(lengths)


def test_inserting_a_clause_embeds_only_that_clause(kdir, make_engine, fake_emb):
    engine = make_engine(kdir)
    first = engine.sync()
    before = fake_emb.docs_embedded
    path = kdir / RULES
    text = path.read_text("utf-8")
    head, rest = text.split("\n", 1)
    path.write_text(head + "\n\n第零条 作业人员应当熟悉本规定。\n" + rest, "utf-8")  # every later clause moves down
    rep = engine.sync()
    assert rep.changed == [RULES] and rep.embedded == 1
    assert fake_emb.docs_embedded - before == 1
    assert rep.chunks == first.chunks + 1
    assert any("熟悉本规定" in s.text for s in engine.search("作业人员要熟悉什么", 5))


def test_cancelled_sync_leaves_the_index_consistent_and_resumes(kdir, make_engine, fake_emb, monkeypatch, indexing):
    monkeypatch.setattr(indexing, "EMBED_BATCH", 8)
    engine = make_engine(kdir)
    engine.sync()
    (kdir / "长规程.md").write_text(_long_rules(40), "utf-8")
    before = fake_emb.docs_embedded

    def cancel_after_two_batches(done, total, what):
        if what.startswith("embedding") and done >= 16:
            engine.cancel_sync()

    rep = engine.sync(progress=cancel_after_two_batches)
    assert rep.interrupted and "长规程.md" not in rep.added
    assert fake_emb.docs_embedded - before == 16
    assert not any(s.file == "长规程.md" for s in engine.search("核对设备编号", 10))  # all of the file or none
    assert engine.pending_changes() == ["长规程.md"]

    again = engine.sync()
    assert again.added == ["长规程.md"] and again.embedded == 40 - 16  # the first two batches are reused
    assert sum(s.file == "长规程.md" for s in engine.search("核对设备编号", 10)) > 0


def test_absurd_file_is_refused_with_a_clear_message(kdir, make_engine, fake_emb, monkeypatch, indexing):
    monkeypatch.setattr(indexing, "MAX_CHUNKS_PER_FILE", 30)
    (kdir / "巨型文件.md").write_text(_long_rules(31), "utf-8")
    rep = make_engine(kdir).sync()
    why = dict(rep.failed)["巨型文件.md"]
    assert "31 passages" in why and "split it into smaller documents" in why
    assert fake_emb.docs_embedded == rep.chunks  # nothing of the big file was embedded


def test_progress_counts_passages_while_embedding(kdir, make_engine):
    calls = []
    make_engine(kdir).sync(progress=lambda done, total, what: calls.append((done, total, what)))
    embedding = [(done, total) for done, total, what in calls if what.startswith("embedding")]
    assert embedding and embedding[0][0] == 0 and embedding[0][1] > 0

"""A full rebuild (/reindex, `fieldmate reindex`) never leaves questions unanswered: the new index is built
beside the one answering (a new collection generation) and swapped in when complete. The rebuild is paused
half-way by its progress hook (no sleeps) while a question is asked."""
from __future__ import annotations

import threading

from bot.knowledge_engine.engine import KnowledgeEngine

QUESTION = "登杆前应当检查什么"
WAIT = 60  # seconds: a guard against a hang, not a timing assert


def answered(engine: KnowledgeEngine) -> bool:
    answer = engine.ask(QUESTION)
    return not answer.refused and any("杆根" in source.text for source in answer.sources)


def test_questions_are_answered_from_the_old_index_while_the_new_one_is_built(kdir, make_engine, answer_everything):
    engine = make_engine(kdir)
    engine.sync()
    assert answered(engine)
    before = engine.index.collection_name
    chunks = engine.stats()["chunks"]
    paused, resume = threading.Event(), threading.Event()
    seen: list[str] = []

    def progress(done: int, total: int, what: str) -> None:
        seen.append(what)
        # the second time the last file comes up is its write step: the three files before it are already in
        # the new generation, the file that answers the question is not yet
        if what == "配电作业安全规定.md" and seen.count(what) == 2:
            paused.set()
            assert resume.wait(WAIT)

    result: dict = {}
    worker = threading.Thread(target=lambda: result.setdefault("report", engine.rebuild(progress)))
    worker.start()
    try:
        assert paused.wait(WAIT), "the rebuild never reached the pause"
        assert answered(engine)  # mid-rebuild: the old generation answers
        assert engine.index.collection_name == before and engine.stats()["chunks"] == chunks
    finally:
        resume.set()
        worker.join(WAIT)
    report = result["report"]
    assert not report.interrupted and not report.failed and report.chunks == chunks
    assert engine.index.collection_name != before  # swapped
    assert answered(engine)

    other = make_engine(kdir)  # a second process opens the active generation
    assert other.index.collection_name == engine.index.collection_name and answered(other)
    engine.sync()  # the replaced generation is dropped at the next sync
    manifests = sorted(p.name for p in (other.index_dir).glob("manifest*.json"))
    assert manifests == [f"manifest-{engine.index.collection_name}.json"]
    assert answered(engine)


def test_a_cancelled_rebuild_keeps_the_index_that_answers(kdir, make_engine, answer_everything):
    engine = make_engine(kdir)
    engine.sync()
    before = engine.index.collection_name

    def cancel_at_first_file(done: int, total: int, what: str) -> None:
        if what:
            engine.cancel_sync()

    report = engine.rebuild(cancel_at_first_file)
    assert report.interrupted and engine.index.collection_name == before and answered(engine)
    assert sorted(p.name for p in engine.index_dir.glob("manifest*.json")) == ["manifest.json"]


def test_a_fleet_rebuild_rewrites_file_by_file_and_keeps_answering(kdir, make_engine, answer_everything):
    """With CHROMA_HOST there is no shared active.json: the rebuild rewrites each file's chunks in place."""
    engine = make_engine(kdir)
    engine.sync()
    chunks = engine.stats()["chunks"]
    engine.chroma_host = "chroma.fleet"  # the fleet's path (this store stays local)
    during: list[bool] = []
    seen: list[str] = []

    def progress(done: int, total: int, what: str) -> None:
        seen.append(what)
        if what == "配电作业安全规定.md" and seen.count(what) == 2:  # its write step
            during.append(answered(engine))

    report = engine.rebuild(progress)
    assert during == [True] and not report.failed and report.chunks == chunks
    assert sorted(report.unchanged) == sorted(engine.indexer.manifest()["files"])  # re-read, same content
    assert engine.index.collection_name == "fieldmate_knowledge" and answered(engine)

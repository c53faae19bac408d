"""Fixtures for knowledge-engine tests: a small fixture folder and a fast,
deterministic fake embedding (hashed character bigrams) that counts calls."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

DATA = Path(__file__).resolve().parent / "data"


class HashEmbeddings(Embeddings):
    """Bag of hashed character bigrams, L2-normalised; counts what it embeds."""

    fingerprint = "hash-bigrams-256"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.doc_calls = 0
        self.docs_embedded = 0
        self.query_calls = 0

    def _vec(self, text: str) -> list[float]:
        v = np.zeros(self.dim, dtype=np.float32)
        t = "".join(ch for ch in text if not ch.isspace())
        for i in range(len(t) - 1):
            h = int(hashlib.md5(t[i : i + 2].encode()).hexdigest()[:8], 16)
            v[h % self.dim] += 1.0
        n = float(np.linalg.norm(v))
        if n == 0:
            v[0] = 1.0
            n = 1.0
        return (v / n).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.doc_calls += 1
        self.docs_embedded += len(texts)
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.query_calls += 1
        return self._vec(text)


@pytest.fixture
def fake_emb() -> HashEmbeddings:
    return HashEmbeddings()


@pytest.fixture
def kdir(tmp_path: Path) -> Path:
    """A writable copy of the fixture knowledge folder."""
    dest = tmp_path / "knowledge"
    shutil.copytree(DATA, dest)
    return dest


@pytest.fixture
def make_engine(tmp_path: Path, fake_emb: HashEmbeddings):
    from bot.knowledge_engine.engine import KnowledgeEngine

    def make(knowledge: Path, emb: Embeddings | None = None, **kwargs):
        return KnowledgeEngine(knowledge, tmp_path / "index", emb or fake_emb, **kwargs)

    return make


def fixed_model(threshold: float, offtopic_known: float = 0.0):
    """A refusal model that answers when P = 0.5 ≥ threshold, whatever the signals."""
    from bot.knowledge_engine.refusal import RefusalModel

    return RefusalModel(weights={}, bias=0.0, mean={}, scale={}, threshold=threshold, offtopic_known=offtopic_known)


@pytest.fixture
def answer_everything(monkeypatch):
    """The fake hash embedding's cosines mean nothing to the fitted model; the decision is tested in test_refusal.py."""
    from bot.knowledge_engine import refusal

    monkeypatch.setattr(refusal, "default_model", lambda: fixed_model(0.0))
    monkeypatch.setattr(refusal, "DENSE_FLOOR", 0.0)


@pytest.fixture
def refuse_everything(monkeypatch):
    from bot.knowledge_engine import refusal

    monkeypatch.setattr(refusal, "default_model", lambda: fixed_model(1.01))

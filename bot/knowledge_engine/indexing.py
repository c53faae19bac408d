"""Syncing the knowledge folder into the index.

A sync runs in four steps:

1. **scan** the folder (folder.py): the documents to index, and every other
   entry with the reason it is skipped;
2. **read** each new or changed document: a file whose size and mtime (or,
   failing that, sha256) match the manifest is not read at all, so a no-change
   sync only stats the folder; a file that failed before and has not changed
   fails again from the manifest without being re-read;
3. **embed** the passages that have no vector yet, across all files at once,
   sorted by length and in batches (similar lengths batch with less padding on
   padded backends), through the content-hash cache (embedding_cache.py): an
   edited clause is embedded, an unchanged or moved one is not;
4. **write** each file with ``langchain_core.indexing.index`` (record manager,
   ``cleanup="incremental"``, the file as source id): new chunks added, stale ones
   removed, all vectors already cached, so each file's write is quick.  Deleted
   files have their chunks removed.  The manifest is saved after every file.

A sync can be cancelled between two embedding batches or two files
(:meth:`Indexer.cancel`, or Ctrl-C in ``fieldmate ingest``): files already
written are complete, the others keep their previous chunks, and the vectors
computed so far stay cached, so the next sync resumes where this one stopped.
A file that fails to load keeps its previous chunks.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.documents import Document

from .folder import scan_folder
from .index_store import IndexStore
from .loaders import MAX_FILE_BYTES, LoadedDoc, LoadError, OcrOptions, load_file
from .ocr import OcrCache, PageProgress
from .splitter import Chunk, split_text
from .types import SyncReport

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (done, total, what) — the total changes between steps
Embedder = Callable[[str, Chunk], str]  # (document title, chunk) → the text to embed

EMBED_BATCH = 64
OCR_CACHE = "ocr"  # in the index folder: OCR results by file content hash (ocr.py)
OCR_MAX_PAGES = 300  # scanned pages of one PDF read by OCR at sync (KB_MAX_PDF_PAGES for uploads)
# ~3 minutes of embedding on 2 cores; the whole safety regulation is ~1,100 passages
MAX_CHUNKS_PER_FILE = 3000
KEPT = "; previous version kept"


class SyncCancelled(Exception):
    """Raised inside a sync when :meth:`Indexer.cancel` was called."""


@dataclass
class _Prepared:
    """A new or changed file, read and split, waiting to be embedded and written."""

    rel: str
    stat: os.stat_result
    digest: str
    title: str
    docs: list[Document]
    previous: dict[str, Any] | None


class Indexer:
    def __init__(
        self, knowledge_dir: Path, store: IndexStore, chunking: str, embed_text: Embedder, on_change: Callable[[], None]
    ) -> None:
        self.knowledge_dir = Path(knowledge_dir)
        self.store = store
        self.chunking = chunking
        self.embed_text = embed_text
        self.manifest_path = store.index_dir / manifest_name(store.collection_name)
        self.fresh = False  # a new generation being built by a rebuild: nothing to reset when it starts
        self.ocr_cache = OcrCache(store.index_dir / OCR_CACHE)
        self.ocr_max_pages = OCR_MAX_PAGES
        self._cancel = threading.Event()
        self.on_change = on_change  # the index changed: the engine drops its chunk table

    # ------------------------------------------------------------ public steps
    def cancel(self) -> None:
        """Stop the running sync at the next batch or file boundary."""
        self._cancel.set()

    def sync(self, progress: Progress | None = None, *, every_file: bool = False) -> SyncReport:
        """Bring the index in line with the folder; ``every_file`` re-reads and rewrites every file (each file's
        chunks are replaced as one write, so the other files keep answering meanwhile)."""
        self._cancel.clear()
        tell = progress or (lambda done, total, what: None)
        started = time.perf_counter()
        report = SyncReport()
        manifest = self._manifest_for_this_model()
        rechunk = manifest.get("chunking") != self.chunking or every_file
        scan = scan_folder(self.knowledge_dir)
        report.skipped.extend(scan.skipped)
        gone = [rel for rel in manifest["files"] if rel not in scan.files]
        for rel in [rel for rel in manifest["failed"] if rel not in scan.files]:
            del manifest["failed"][rel]  # a failed file that was deleted or renamed
        try:
            prepared = self._read_changed(scan.files, manifest, rechunk, report, tell)
            report.embedded = self._embed(prepared, tell)
            self._write_all(prepared, manifest, report, tell)
            self._remove(gone, manifest, report)
            if rechunk:
                manifest["chunking"] = self.chunking
                self._save(manifest)
            if prepared or gone:
                self.store.cache.retain(self.store.chunks()[2])
                self.ocr_cache.retain({str(entry.get("sha256")) for entry in manifest["files"].values()})
        except SyncCancelled:
            report.interrupted = True
            log.warning("knowledge sync cancelled; the index holds every file written so far")
        report.chunks = sum(int(m.get("chunks", 0)) for m in manifest["files"].values())
        report.seconds = time.perf_counter() - started
        tell(1, 1, "")
        return report

    def pending(self) -> list[str]:
        """What a sync would (re)index or remove, judged by size and mtime only (reads no file)."""
        manifest = read_manifest(self.manifest_path)
        scan = scan_folder(self.knowledge_dir)
        if manifest.get("fingerprint") != self.store.fingerprint or manifest.get("chunking") != self.chunking:
            return list(scan.files)
        known = {**manifest.get("failed", {}), **manifest["files"]}
        changed = [rel for rel, path in scan.files.items() if not _same_stat(known.get(rel), _stat(path))]
        return changed + [rel for rel in manifest["files"] if rel not in scan.files]

    def drop_all(self) -> None:
        """Remove every file's chunks and forget the manifest's files (the embedding cache stays)."""
        manifest = read_manifest(self.manifest_path)
        for rel in list(manifest["files"]):
            self.store.delete_source(rel)
        manifest.update(files={}, failed={})
        self._save(manifest)
        self.on_change()

    def manifest(self) -> dict[str, Any]:
        return read_manifest(self.manifest_path)

    # ------------------------------------------------------------------ step 2
    def _read_changed(self, files: dict[str, Path], manifest: dict, rechunk: bool, report: SyncReport, tell: Progress) -> list[_Prepared]:
        prepared = []
        for done, (rel, path) in enumerate(files.items()):
            tell(done, len(files), rel)
            self._check_cancel()
            item = self._read(rel, path, manifest, rechunk, report)
            if item is not None:
                prepared.append(item)
        return prepared

    def _read(self, rel: str, path: Path, manifest: dict, rechunk: bool, report: SyncReport) -> _Prepared | None:
        """Load and split one file when it needs indexing; otherwise note why not in the report."""
        st = _stat(path)
        if st is None:
            report.failed.append((rel, "cannot read file"))
            return None
        old = manifest["files"].get(rel)
        failed_before = manifest["failed"].get(rel)
        if not rechunk and _same_stat(old, st):
            report.unchanged.append(rel)
            return None
        if not rechunk and _same_stat(failed_before, st):
            report.failed.append((rel, failed_before["reason"]))
            return None
        if st.st_size > MAX_FILE_BYTES:
            return self._fail(rel, st, f"file is {st.st_size / 1024 / 1024:.0f} MB, larger than the {MAX_FILE_BYTES // 1024 // 1024} MB limit", old, manifest, report)
        digest = _sha256(path)
        if not rechunk and old and old.get("sha256") == digest:
            old.update(size=st.st_size, mtime_ns=st.st_mtime_ns)
            self._save(manifest)
            report.unchanged.append(rel)
            return None
        try:
            doc, chunks = self.load(path)
        except LoadError as exc:
            return self._fail(rel, st, str(exc), old, manifest, report)
        except Exception as exc:  # a bug or an unexpected format must not stop the sync
            log.exception("failed to load %s", rel)
            return self._fail(rel, st, f"{type(exc).__name__}: {exc}", old, manifest, report)
        if not any(c.kind in ("clause", "table") for c in chunks):
            report.warnings.append((rel, f"no numbered clauses found; indexed as {len(chunks)} prose passages"))
        if doc.ocr is not None and doc.ocr.ocr_pages:
            pages = f"{doc.ocr.ocr_pages} page{'' if doc.ocr.ocr_pages == 1 else 's'}"
            report.warnings.append((rel, f"read by OCR: {pages}, mean confidence "
                                         f"{(doc.ocr.confidence or 0.0):.0%}"))
        title = doc.title
        return _Prepared(rel, st, digest, title, [self._document(rel, title, c) for c in chunks], old)

    def load_chunks(self, path: Path) -> tuple[str, list[Chunk]]:
        doc, chunks = self.load(path)
        return doc.title, chunks

    def load(self, path: Path, progress: PageProgress | None = None) -> tuple[LoadedDoc, list[Chunk]]:
        """Read and split one file (scans through OCR and its cache); raises LoadError."""
        doc = load_file(path, OcrOptions(self.ocr_cache, self.ocr_max_pages, progress))
        chunks = [c for c in split_text(doc.text) if _meaningful(c.text) and c.text.strip() != doc.title]
        if not chunks:
            raise LoadError("no clauses or readable text found")
        if len(chunks) > MAX_CHUNKS_PER_FILE:
            raise LoadError(
                f"{len(chunks)} passages, more than the {MAX_CHUNKS_PER_FILE} a file may have "
                f"(it would take many minutes to index): split it into smaller documents"
            )
        return doc, chunks

    def _document(self, rel: str, title: str, chunk: Chunk) -> Document:
        return Document(
            page_content=self.embed_text(title, chunk),
            metadata={
                "file": rel,
                "title": title,
                "section": chunk.section,
                "clause": chunk.clause,
                "kind": chunk.kind,
                "part": chunk.part,
                "block": chunk.block,
                "text": chunk.text,
            },
        )

    def _fail(self, rel: str, st: os.stat_result, reason: str, old: dict | None, manifest: dict, report: SyncReport) -> None:
        """Report a file that cannot be indexed; remember it so an unchanged file is not re-read next time."""
        report.failed.append((rel, reason + (KEPT if old else "")))
        manifest["failed"][rel] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "reason": reason + (KEPT if old else "")}
        self._save(manifest)
        return None

    # ------------------------------------------------------------------ step 3
    def _embed(self, prepared: list[_Prepared], tell: Progress) -> int:
        """Embed every passage that has no cached vector; returns how many were embedded."""
        missing = self.store.cache.missing([d.page_content for item in prepared for d in item.docs])
        missing.sort(key=len)
        for start in range(0, len(missing), EMBED_BATCH):
            tell(start, len(missing), f"embedding passages {start}/{len(missing)}")
            self._check_cancel()
            self.store.cache.embeddings.embed_documents(missing[start : start + EMBED_BATCH])
        return len(missing)

    # ------------------------------------------------------------------ step 4
    def _write_all(self, prepared: list[_Prepared], manifest: dict, report: SyncReport, tell: Progress) -> None:
        for done, item in enumerate(prepared):
            tell(done, len(prepared), item.rel)
            self._check_cancel()
            self._write(item, manifest, report)

    def _write(self, item: _Prepared, manifest: dict, report: SyncReport) -> None:
        from langchain_core.indexing import index

        try:
            # one batch per file: with "incremental" cleanup, smaller batches would delete the file's
            # later chunks before re-adding them
            index(item.docs, self.store.records, self.store.vectors, cleanup="incremental", source_id_key="file",
                  batch_size=len(item.docs), key_encoder="sha256")
        except Exception as exc:
            log.exception("indexing %s failed", item.rel)
            report.failed.append((item.rel, f"indexing failed ({type(exc).__name__}: {exc})"))
            return
        if item.previous is None:
            report.added.append(item.rel)
        elif item.previous.get("sha256") == item.digest:
            report.unchanged.append(item.rel)  # re-split after an engine upgrade, the file itself unchanged
        else:
            report.changed.append(item.rel)
        manifest["failed"].pop(item.rel, None)
        manifest["files"][item.rel] = {
            "size": item.stat.st_size,
            "mtime_ns": item.stat.st_mtime_ns,
            "sha256": item.digest,
            "title": item.title,
            "chunks": len(item.docs),
            "indexed_at": time.time(),
        }
        self._save(manifest)
        self.on_change()

    def _remove(self, gone: list[str], manifest: dict, report: SyncReport) -> None:
        for rel in gone:
            self._check_cancel()
            self.store.delete_source(rel)
            manifest["files"].pop(rel, None)
            self._save(manifest)
            report.removed.append(rel)
            self.on_change()

    # -------------------------------------------------------------- manifest
    def _manifest_for_this_model(self) -> dict[str, Any]:
        """The manifest, after dropping the whole index if it was built with another embedding model."""
        manifest = read_manifest(self.manifest_path)
        if manifest.get("fingerprint") != self.store.fingerprint and self.fresh:
            manifest = {"fingerprint": self.store.fingerprint, "files": {}, "failed": {}}  # keep cached vectors
            self._save(manifest)
        elif manifest.get("fingerprint") != self.store.fingerprint:
            if manifest["files"]:
                log.warning("index built with %s; rebuilding for %s", manifest.get("fingerprint"), self.store.fingerprint)
            self.store.reset()
            self.on_change()
            manifest = {"fingerprint": self.store.fingerprint, "files": {}, "failed": {}}
            self._save(manifest)
        return manifest

    def _save(self, manifest: dict[str, Any]) -> None:
        self.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
        os.replace(tmp, self.manifest_path)

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise SyncCancelled


def manifest_name(collection: str) -> str:
    """The manifest of the default collection is manifest.json; a rebuild's generation has its own."""
    from .index_store import COLLECTION

    return "manifest.json" if collection == COLLECTION else f"manifest-{collection}.json"


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
        if isinstance(data, dict) and isinstance(data.get("files"), dict):
            data.setdefault("failed", {})
            return data
    except (OSError, ValueError):
        pass
    return {"fingerprint": None, "files": {}, "failed": {}}


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def _same_stat(entry: dict[str, Any] | None, st: os.stat_result | None) -> bool:
    return bool(entry) and st is not None and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _meaningful(text: str) -> bool:
    """At least two letters, digits or Chinese characters (full-width forms count; NFKC, not the costlier
    match_form: Traditional→Simplified conversion does not change the count)."""
    return len(re.findall(r"[0-9A-Za-z\u3400-\u9fff]", unicodedata.normalize("NFKC", text))) >= 2

"""The two benchmark knowledge folders, built from ../shared (read-only) as folders of copies.

* ``regulation``: the four parts of the regulation (../shared/eval/corpus);
* ``prose``: the seed articles (../shared/seeds) and the policy excerpts (../shared/eval/policy).

Each also gets the project's term file (knowledge/术语.yaml), as an admin's folder would have it.
The files are copied, not linked: the engine never reads a link whose target lies outside the folder
(folder.py), so a folder of links would index nothing.  A copy is refreshed when its source changes.
The folders and their indexes live under ~/.cache/fieldmate/bench so repeated runs reuse the index
(a no-change sync only stats the files); ``fresh=True`` deletes the index for a cold ingest.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
EVAL = SHARED / "eval"
# FIELDMATE_BENCH_CACHE: a private copy, so that engineers sharing a machine do not re-ingest each other's index
CACHE = Path(os.environ.get("FIELDMATE_BENCH_CACHE") or Path.home() / ".cache" / "fieldmate" / "bench")
SOURCES = {
    "regulation": [EVAL / "corpus"],
    "prose": [SHARED / "seeds", EVAL / "policy"],
}


def folder(name: str) -> Path:
    """The knowledge folder ``name``: copies of the shared files plus the term file."""
    dest = CACHE / "folders" / name
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for src in SOURCES[name] for p in sorted(src.iterdir()) if p.is_file() and not p.name.startswith(".")}
    wanted["术语.yaml"] = REPO / "knowledge" / "术语.yaml"
    for existing in dest.iterdir():
        if existing.name not in wanted or existing.is_symlink():
            existing.unlink()
    for copy_name, source in wanted.items():
        copy = dest / copy_name
        if not copy.exists() or copy.read_bytes() != source.read_bytes():
            shutil.copyfile(source, copy)  # a new mtime: the next sync re-reads this file
    return dest


def index_dir(name: str, fresh: bool = False) -> Path:
    path = CACHE / "index" / name
    if fresh and path.exists():
        shutil.rmtree(path)
    return path

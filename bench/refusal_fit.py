"""Fitting the refusal model (bot/knowledge_engine/refusal.py) and its leave-one-set-out check.

A logistic regression of "the folder answers this question" on the signals of refusal.FEATURES, with an L2
penalty, fitted by Newton's method in numpy: eight weights do not justify scikit-learn as a dependency.
Each development set weighs as much as ``SET_WEIGHT_CAP`` questions at most, so the 426 near-verbatim exam
stems do not drown the colloquial questions.  The answer threshold is the highest one that keeps false
refusals on the training questions at or under ``TRAIN_FALSE_REFUSALS``; the off-topic cut on ``known``
separates off-topic questions from the rest of the training questions.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

import numpy as np

from bot.knowledge_engine.refusal import DENSE_FLOOR, FEATURES, RefusalModel

L2 = 1.0
SET_WEIGHT_CAP = 60
# 0.04 put the cross-validated false refusals at about 3–5 % (third pass; fourth pass, 454 questions: 0.03 lost
# 6–10 regulation refusals to save one false refusal, 0.05 added four false refusals for 1–4 refusals).  Fifth pass
# (561 questions, the new signals): 0.03 saves 6–7 regulation and 1–3 prose false refusals against 0.04 for 0–4
# regulation refusals and no prose one, and the blind sets have always refused more answerable questions than
# cross-validation predicted (bench/data/README.md, fifth pass)
TRAIN_FALSE_REFUSALS = 0.03


def _matrix(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.array([[float(r["features"].get(f, 0.0)) for f in FEATURES] for r in rows])
    y = np.array([1.0 if r["answerable"] else 0.0 for r in rows])
    sizes: dict[str, int] = defaultdict(int)
    for r in rows:
        sizes[r["set"]] += 1
    w = np.array([min(1.0, SET_WEIGHT_CAP / sizes[r["set"]]) for r in rows])
    return x, y, w


def _logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    xb = np.hstack([x, np.ones((len(x), 1))])
    beta = np.zeros(xb.shape[1])
    penalty = np.diag([L2] * x.shape[1] + [0.0])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(xb @ beta, -30, 30)))
        grad = xb.T @ (w * (p - y)) + penalty @ beta
        hess = (xb * (w * p * (1 - p))[:, None]).T @ xb + penalty
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def _threshold(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Highest threshold whose weighted false-refusal rate on answerable questions is ≤ TRAIN_FALSE_REFUSALS."""
    pos_p, pos_w = p[y == 1], w[y == 1]
    order = np.argsort(pos_p)
    cum = np.cumsum(pos_w[order]) / pos_w.sum()
    allowed = order[: int(np.searchsorted(cum, TRAIN_FALSE_REFUSALS, side="right"))]
    lowest_kept = pos_p[order[len(allowed)]] if len(allowed) < len(order) else 1.0
    return float(lowest_kept - 1e-9)


def _offtopic_cut(rows: list[dict]) -> float:
    """The `known` value that best separates off-topic questions from all others (balanced accuracy)."""
    known = np.array([float(r["features"].get("known", 0.0)) for r in rows])
    off = np.array([r["item"].get("kind") == "offtopic" for r in rows])
    if not off.any() or off.all():
        return 0.0
    best, best_cut = -1.0, 0.0
    for cut in np.unique(known):
        acc = (known[off] < cut).mean() / 2 + (known[~off] >= cut).mean() / 2
        if acc > best:
            best, best_cut = acc, float(cut)
    return best_cut


def fit_model(rows: list[dict]) -> dict:
    x, y, w = _matrix(rows)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    coef, bias = _logistic((x - mean) / scale, y, w)
    model = {
        "weights": dict(zip(FEATURES, map(float, coef))),
        "bias": bias,
        "mean": dict(zip(FEATURES, map(float, mean))),
        "scale": dict(zip(FEATURES, map(float, scale))),
        "offtopic_known": _offtopic_cut(rows),
        "threshold": 0.5,
        "fitted_on": sorted({r["set"] for r in rows}),
        "questions": len(rows),
    }
    p = np.array([RefusalModel.from_dict(model).probability(r["features"]) for r in rows])
    model["threshold"] = _threshold(p, y, w)
    return model


def set_name(row: dict) -> str:
    """The set a row belongs to, without its folder: out_of_kb_dev2's off-topic questions are asked of both
    folders and leave together."""
    return row["set"].split("[")[0]


def folder_of(row: dict) -> str:
    return row["set"][row["set"].index("[") + 1 : -1] if "[" in row["set"] else "all"


def answered_by(model: RefusalModel, row: dict) -> bool:
    """refusal.decide's answer/refusal, on a row of signals."""
    f = row["features"]
    return (
        model.probability(f) >= model.threshold and not f.get("unknown_identifier")
        and not (f.get("numbered") and f["dense"] < DENSE_FLOOR) and not f.get("number_type_missing")
        and not f.get("sentence_number_missing")
    )


def leave_one_set_out(rows: list[dict], group: Callable[[dict], str] = set_name) -> dict[str, str]:
    """Fit on all dev sets but one group (a set by default, or a batch of sets), apply to the group left out;
    the figures for each left-out group and folder, then the pooled figures per folder (every answer and refusal
    made by a model that had not seen its group)."""
    out = {}
    pooled: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # folder → [false refusals, answerable, refused, to refuse]
    for held in sorted({group(r) for r in rows}):
        model = RefusalModel.from_dict(fit_model([r for r in rows if group(r) != held]))
        test = [r for r in rows if group(r) == held]
        for folder in sorted({folder_of(r) for r in test}):
            answered = [(answered_by(model, r), r["answerable"]) for r in test if folder_of(r) == folder]
            pos = [a for a, y in answered if y]
            neg = [a for a, y in answered if not y]
            counts = pooled[folder]
            counts[0] += len(pos) - sum(pos)
            counts[1] += len(pos)
            counts[2] += len(neg) - sum(neg)
            counts[3] += len(neg)
            out[f"{held}[{folder}]"] = _figures(len(pos) - sum(pos), len(pos), len(neg) - sum(neg), len(neg))
    for folder, (fr, n_pos, ref, n_neg) in sorted(pooled.items()):
        out[f"pooled[{folder}]"] = _figures(fr, n_pos, ref, n_neg)
    return out


def _figures(false_refusals: int, answerable: int, refused: int, to_refuse: int) -> str:
    parts = []
    if answerable:
        parts.append(f"false_refusal={false_refusals / answerable:.3f} ({false_refusals}/{answerable})")
    if to_refuse:
        parts.append(f"refused={refused / to_refuse:.3f} ({refused}/{to_refuse})")
    return "  ".join(parts)

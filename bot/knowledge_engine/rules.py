"""The rule a hazard breaks: the closest numbered clause for a hazard or violation description.

A member describing a hazard in the monthly report ("杆上的人把扳手直接扔下来") is told which rule it
breaks (「相关规定：《…》 20.3.1」) — but only when the engine is confident, because a wrong rule on a
report is worse than none.

Confidence rule (all three must hold):

1. the engine's own answer decision for the description is ``answer`` (refusal.py): the folder is
   about this and the best clause is close enough in meaning — an off-topic or "related" description
   (「本月无隐患」, 「食堂饭菜太咸」) gets no rule;
2. the best source is a numbered clause (a rule one can cite, not a prose passage);
3. the best clause stands out: its share of the second-pass scores of the ranked top 10
   (``share``: softmax of the reranker's logits, rerank.py) is at least ``SHARE_MIN``.  The reranker's
   score is a log-odds of "this candidate is the gold clause", so the share is the ranker's own belief
   that the first clause, not one of the nine behind it, is the one; when two clauses are close
   (约时停送电 vs 约时操作) the share is low and no rule is shown.

``SHARE_MIN`` was chosen on bench/data/violations.jsonl together with the question sets the refusal
model is fitted on (natural_dev, natural_dev2, natural_extra: 133 items, where "correct" means the best
clause is a gold clause): at 0.90 the best clause was right for 69 of 73 shown (.95) and on all 13 of
the violations shown; out-of-folder questions: see the bench.  The held-out set
bench/data/violations_extra.jsonl was never used for the choice; ``bench/violations.py`` prints the
two separately.  The share is computed on the reranker's scale: when ``rerank_model.json`` is refitted
(or absent: the fused scores are then not log-odds), rerun the bench, and without it no rule is shown.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from . import rerank
from .refusal import ANSWER
from .types import Source

if TYPE_CHECKING:  # pragma: no cover
    from .engine import KnowledgeEngine

SHARE_MIN = 0.90
SHARE_DEPTH = 10


@dataclass
class RuleMatch:
    source: Source  # the clause, with its document title, number and text
    p_answer: float  # the refusal model's probability, 0–1
    share: float = 1.0  # the best clause's share of the reranker's belief over the top 10, 0–1

    @property
    def citation(self) -> str:
        """「《title》 clause」, the line a report summary shows."""
        return f"《{self.source.title}》 {self.source.clause}".strip()


def best_share(ranked: Sequence[Source], depth: int = SHARE_DEPTH) -> float:
    """Softmax share of the first source's score among the first ``depth`` (scores are reranker logits)."""
    scores = [s.score for s in list(ranked)[:depth]]
    if not scores:
        return 0.0
    top = max(scores)
    total = sum(math.exp(s - top) for s in scores)
    return math.exp(scores[0] - top) / total


def closest_rule(engine: "KnowledgeEngine", description: str) -> RuleMatch | None:
    """The clause a described hazard or violation breaks, or None when the engine is not confident."""
    if not description or not description.strip() or rerank.default_weights() is None:
        return None
    answer = engine.ask(description, limit=1)
    if answer.outcome != ANSWER or not answer.sources or not answer.sources[0].clause:
        return None
    share = best_share(answer.ranked or answer.sources)
    if share < SHARE_MIN:
        return None
    return RuleMatch(answer.sources[0], answer.top_score, share)

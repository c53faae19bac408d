"""The rule a hazard breaks: the closest numbered clause for a hazard or violation description.

A member describing a hazard in the monthly report ("杆上的人把扳手直接扔下来") is told which rule it
breaks (「相关规定：《…》 20.3.1」) — but only when the engine is confident, because a wrong rule on a
report is worse than none.  Confidence is the same decision as for questions (refusal.py): the
description must get the outcome ``answer``, and the best source must be a numbered clause.
Measured by ``bench/violations.py`` on bench/data/violations.jsonl.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .refusal import ANSWER
from .types import Source

if TYPE_CHECKING:  # pragma: no cover
    from .engine import KnowledgeEngine


@dataclass
class RuleMatch:
    source: Source  # the clause, with its document title, number and text
    p_answer: float  # the refusal model's probability, 0–1

    @property
    def citation(self) -> str:
        """「《title》 clause」, the line a report summary shows."""
        return f"《{self.source.title}》 {self.source.clause}".strip()


def closest_rule(engine: "KnowledgeEngine", description: str) -> RuleMatch | None:
    """The clause a described hazard or violation breaks, or None when the engine is not confident."""
    answer = engine.ask(description, limit=1)
    if answer.outcome != ANSWER or not answer.sources or not answer.sources[0].clause:
        return None
    return RuleMatch(answer.sources[0], answer.top_score)

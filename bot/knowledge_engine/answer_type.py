"""Answer-type evidence at sentence level (fifth pass of issue 13).

``number_type_missing`` (refusal.py, retrieval.py) asks whether any clause shown states a number of the kind the
question asks for (a date, a duration in years, a count of people…).  A numbered clause is one or two sentences,
so "the clause states one" is "the rule gives one".  A prose passage (a seed article, a policy excerpt) is ten
sentences about as many facts: it can state a date in one sentence while the sentence about the thing asked gives
none (「党支部是哪年成立的」 against an article dated 6月22日 that never says when the branch was founded).

``sentence_number_missing``: the question asks for a kind of number, and in no passage shown does the sentence
that carries most of the question's topic words (the best-scoring sentences, ties included) state a number of
that kind.  Passages without any topic word do not count; when no passage has one, the signal stays off (the
clause-level check has already spoken).  Computed when the best passage is not a numbered clause; an outright
rule like ``number_type_missing`` (refusal.decide).

Tried in the same pass and dropped (no cross-validated gain, or fired on answerable development questions):
an enumeration check (哪些/哪几 against passages without a list), the attribute right after the question word
(多大容量 → 容量 absent from the clauses shown), and a modal check (能不能 against a passage stating no rule);
bench/data/README.md, fifth pass.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

from .normalize import match_form
from .refusal import asked_quantity_types, asked_time_units

_SENTENCE_END = re.compile(r"[。！？!?；;\n]")


def sentence_number_missing(
    question_match: str, passage_texts: Sequence[str], topic_forms: Sequence[Sequence[str]],
    states: Callable[[str], bool],
) -> bool:
    """See the module docstring.  ``topic_forms``: each topic word of the question with its standard terms;
    ``states``: does a sentence state a number of the kind asked."""
    if not (asked_quantity_types(question_match) or asked_time_units(question_match)) or not passage_texts:
        return False
    about = 0
    for text in passage_texts:
        sentences = [s for s in _SENTENCE_END.split(match_form(text)) if s.strip()]
        scored = [(sum(1 for forms in topic_forms if any(f in s for f in forms)), s) for s in sentences]
        best = max((n for n, _ in scored), default=0)
        if not best:
            continue  # not about the topic at all
        about += 1
        if any(states(s) for n, s in scored if n == best):
            return False
    return about > 0

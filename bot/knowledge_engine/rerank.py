"""The second pass over the fused top 20: a learned linear score of features with reasons.

For each candidate clause (in fused order):

* ``prior``     1 / fused rank: the first pass stays the starting point;
* ``dense_gap`` its dense cosine minus the best cosine of the question (−0.1 when the dense list missed it):
  how close the clause is in meaning, relative to the closest clause;
* ``coverage``  IDF-weighted share of the question's topic bigrams the clause contains;
* ``ntype``     +1 when the question asks for a kind of number (metres, a duration, people…) the clause states,
  −1 when it does not, 0 for questions that ask for no number;
* ``words``     share of the question's content words the clause contains (as written or as standard term).

Heading match and the BM25 score were tried as well and got weights near zero on the development sets, so
they are not computed.  The weights are fitted by ``bench/rerank_fit.py`` (logistic regression of "this
candidate is a gold clause" on the development sets, leave-one-set-out checked) and stored in
``rerank_model.json``; the held-out sets were not used.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .refusal import asked_quantity_types, states_quantity_of
from .terms import EMPTY, TermMap

if TYPE_CHECKING:
    from .lexical import LexicalIndex
    from .retrieval import Hit

MODEL_PATH = Path(__file__).with_name("rerank_model.json")
FEATURES = ("prior", "dense_gap", "coverage", "ntype", "words")
DEPTH = 20
MISSING_DENSE_GAP = -0.1


def candidate_features(
    hits: Sequence["Hit"], *, top_dense: float, lex: "LexicalIndex", lex_query_tokens: list[str],
    query_match: str, texts: Sequence[str], terms: TermMap = EMPTY,
) -> np.ndarray:
    from .retrieval import coverage, topic_words

    kinds = asked_quantity_types(query_match)
    rows = []
    for rank, h in enumerate(hits):
        text = texts[h.index]
        ntype = (1.0 if any(states_quantity_of(k, text) for k in kinds) else -1.0) if kinds else 0.0
        rows.append([
            1.0 / (rank + 1),
            (h.dense - top_dense) if h.dense else MISSING_DENSE_GAP,
            coverage(lex_query_tokens, lex.doc_sets[h.index], lex),
            ntype,
            topic_words(query_match, [text], terms),
        ])
    return np.array(rows, dtype=float).reshape(len(hits), len(FEATURES))


@lru_cache(maxsize=1)
def default_weights() -> dict | None:
    """The fitted model, or None when the file is absent (the first pass order is kept)."""
    if not MODEL_PATH.exists():
        return None
    return json.loads(MODEL_PATH.read_text("utf-8"))


def scores(x: np.ndarray, model: dict) -> np.ndarray:
    mean, scale = np.array(model["mean"]), np.array(model["scale"])
    return ((x - mean) / scale) @ np.array(model["weights"])

"""Hybrid retrieval (dense + bigram BM25, fused by rank) and the refusal decision.

Fusion
------
Reciprocal-rank fusion: ``score = w_dense/(k + rank_dense) + w_lex/(k + rank_lex)``
with ``k = 20`` over the top 50 of each list and equal weights.  A small ``k``
keeps the top of each list decisive (the lists are short and precise); the
dense list understands paraphrases, BM25 wins on exact terms (voltages,
device names, near-verbatim exam stems).  On the dev sets equal weights and
k in 10–60 were within one question of each other; k=20 / 1:1 was kept as the
plain choice.  Then the fused top 10 are re-ordered by adding
``0.02 × coverage`` (see below) to the fused score: a tie-break towards the
clause that contains more of the question's topic terms (colloquial dev set:
hit@1 +5 points, MRR +0.025; exam stems unchanged or better).  The dense query carries the standard terms of the synonym map
(see query.py), which moved dense hit@5 on colloquial questions from 0.78 to
0.93.

Refusal
-------
The decision (three outcomes, a logistic model over signals with reasons,
fitted on all development sets and cross-validated) is in refusal.py; this
module computes its signals: topic coverage of the best clauses, how much of
the question the folder knows at all, the dense margin, unknown terms and
identifiers, and whether a quantity asked for is stated.

Unknown terms: a topic noun of the question (jieba noun tags; an established
word, neither everyday nor an ad-hoc compound, by its frequency in jieba's
general dictionary; not a colloquial word of the term map; no question word)
that appears nowhere in the documents (``色谱``, ``保护区``, ``招标``).
"""
from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from . import rerank
from .answer_type import sentence_number_missing
from .lexical import FILLER, QUESTION_CHARS, LexicalIndex, content_tokens, tokens
from .normalize import match_form
from .refusal import (
    A_NOT_A,
    QUANTITY_TYPES, TIME_UNITS, Decision, asked_quantity_types, asked_time_units, asks_quantity, decide,
    numbered_clause, states_quantity, states_quantity_of, states_time_unit,
)
from .terms import EMPTY, TermMap

# jieba's segmentations of the question being ranked: computed once per hybrid_search, where the signals asked
# for them 24 times (the content words once per candidate clause, the tagged words three times: 5 of a
# question's 26 ms of CPU). Kept for that one question only (a thread's own; questions run in a pool).
_question = threading.local()


@contextlib.contextmanager
def _one_question() -> Iterator[None]:
    outer = getattr(_question, "memo", None)
    _question.memo = {} if outer is None else outer
    try:
        yield
    finally:
        _question.memo = outer


def _segmented(kind: str, text: str, segment: Callable[[str], list]) -> list:
    memo = getattr(_question, "memo", None)
    if memo is None:
        return segment(text)
    key = (kind, text)
    if key not in memo:
        memo[key] = segment(text)
    return memo[key]


def _words(text: str) -> list[str]:
    """jieba's words of `text` (jieba.lcut)."""
    import jieba

    return _segmented("words", text, jieba.lcut)


def _tagged(text: str) -> list[tuple[str, str]]:
    """jieba's words of `text` with their part-of-speech tags (jieba.posseg.lcut)."""
    import jieba.posseg

    return _segmented("tagged", text, lambda t: [(p.word, p.flag) for p in jieba.posseg.lcut(t)])


RRF_K = 20
W_DENSE = 1.0
W_LEX = 1.0
CANDIDATES = 50
TERM_FLAGS = {"n", "nz", "nt", "ns", "vn"}  # jieba tags of nouns and verbal nouns (not nr: it tags slang as names)
# A topic term is an established word: jieba's general-dictionary frequency in [TERM_MIN_FREQ, GENERIC_FREQ).
# Above: everyday nouns (时候 31521, 地方, 情况). Below: the dictionary's long tail of ad-hoc compounds
# (靠墙 3, 屏边 3, 金属罐 2) and words jieba only guessed, which a colloquial question makes up freely.
TERM_MIN_FREQ = 10
GENERIC_FREQ = 5000
COVERAGE_RERANK = 0.02  # weight of topic-term coverage when re-ordering the fused top 10
RERANK_DEPTH = 10
_IDENT = re.compile(r"[a-z0-9][a-z0-9\-]*")


@dataclass
class Hit:
    index: int  # position in the engine's chunk table
    score: float  # fused score (after reranking, the reranker's score)
    dense: float = 0.0  # cosine with the question (0 when not in the dense list)
    lexical: float = 0.0  # BM25 score
    dense_rank: int | None = None
    lex_rank: int | None = None


@dataclass
class Retrieval:
    hits: list[Hit]
    refused: bool
    confidence: float  # P(answerable) from the refusal model
    features: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    outcome: str = "answer"  # answer | related | offtopic | empty (refusal.py)


# reranker hook: gets the question and the candidate texts (best first) and
# returns one score per text (higher = better); the hits are re-sorted by it.
Reranker = Callable[[str, Sequence[str]], Sequence[float]]


def rrf(rank_lists: list[tuple[list[int], float]], k: int = RRF_K) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranked, weight in rank_lists:
        for r, idx in enumerate(ranked):
            fused[idx] = fused.get(idx, 0.0) + weight / (k + r + 1)
    return fused


def coverage(query_toks: list[str], doc_tokens: set[str], lex: LexicalIndex) -> float:
    toks = [t for t in dict.fromkeys(content_tokens(query_toks))]
    if not toks:
        return 0.0
    weights = [lex.idf(t) if t in lex.df else lex.idf("\x00") for t in toks]
    total = sum(weights)
    got = sum(w for t, w in zip(toks, weights) if t in doc_tokens)
    return got / total if total else 0.0


def unknown_identifiers(query_match: str, lex: LexicalIndex) -> list[str]:
    """Codes the question names that no document contains: device models
    (``xgn15``, ``gw4-126``), service numbers (``95598``).  Units such as
    ``20mm2`` or ``10kv`` do not count."""
    out = []
    for tok in _IDENT.findall(query_match):
        is_model = re.fullmatch(r"[a-z]{2,}-?\d{2,}[a-z0-9\-]*", tok)
        is_number = re.fullmatch(r"\d{5,}", tok)
        if (is_model or is_number) and tok not in lex.df:
            out.append(tok)
    return out


def known_share(query_match: str, lex: LexicalIndex) -> float:
    """IDF-weighted share of the question's own topic bigrams that occur anywhere in the folder.

    Stricter than coverage: a bigram with any filler character (能倒 in 时能倒闸) spans two words and says
    nothing about whether the folder knows the topic."""
    toks = [t for t in dict.fromkeys(tokens(query_match, already_normalised=True)) if t.isascii() or not FILLER & set(t)]
    toks = [t for t in toks if not QUESTION_CHARS & set(t)]
    if not toks:
        return 0.0
    weights = [lex.idf(t) if t in lex.df else lex.idf("\x00") for t in toks]
    return sum(w for t, w in zip(toks, weights) if t in lex.df) / sum(weights)


# A-not-A words ask yes or no (行不行, 算不算, 有没有, 可不可以): the question, not its topic.  jieba keeps them as one
# verb, so they counted as topic words that no clause contains (sixth pass of issue 13).
def _asks_yes_no(word: str) -> bool:
    return A_NOT_A.search(word) is not None


def _content_words(query_match: str) -> list[str]:
    """The question's content words, once each in order: jieba words of two or more characters, no question,
    A-not-A, filler-only or digit words."""
    return [
        w for w in dict.fromkeys(_words(query_match))
        if len(w) >= 2 and not QUESTION_CHARS & set(w) and not set(w) <= FILLER and not w.isdigit() and not _asks_yes_no(w)
    ]


def topic_words(query_match: str, clause_texts: Sequence[str], terms: TermMap = EMPTY) -> float:
    """Share of the question's content words (jieba words of two or more characters, no question or
    filler-only words) that one of the clauses shown contains, as written or as the term map's standard
    term; the best of the clauses.  Word level, unlike the bigram coverage: 新装 … 材料 in a metering
    question are not found in a clause about meters."""
    words = _content_words(query_match)
    if not words or not clause_texts:
        return 0.0
    forms = [match_form(t) for t in clause_texts]
    best = 0.0
    for form in forms:
        got = sum(1 for w in words if w in form or any(t in form for t in terms.expand(w)))
        best = max(best, got / len(words))
    return best


def unknown_terms(query_match: str, lex: LexicalIndex, terms: TermMap = EMPTY) -> list[str]:
    """Topic nouns of the question that no document contains anywhere (``色谱``, ``保护区``).

    Everyday nouns (frequent in jieba's general dictionary) and colloquial words the term map knows
    (``火线`` → 相线) do not count: they are not what the question is about, or are asked about in the
    documents' own words."""
    import jieba

    out = []
    for word, flag in _tagged(query_match):
        if len(word) < 2 or flag not in TERM_FLAGS or word in lex.text:
            continue
        if any(ch in QUESTION_CHARS for ch in word):  # "哪些地方" is the question, not its topic
            continue
        if not TERM_MIN_FREQ <= jieba.dt.FREQ.get(word, 0) < GENERIC_FREQ or terms.knows(word):
            continue
        out.append(word)
    return out


def unknown_share(query_match: str, lex: LexicalIndex, terms: TermMap = EMPTY) -> float:
    """Share of the question's established nouns (jieba noun tags, two or more characters, frequency in
    jieba's general dictionary lies in [TERM_MIN_FREQ, GENERIC_FREQ): neither everyday words nor ad-hoc
    compounds) that the folder never contains, neither as written, nor as a two-character part of a longer
    word (手指头 → 手指), nor through the term map.  Word level and graded, unlike ``unknown_term``: a question
    on tariffs, licences or customer service (电价, 执照, 投诉, 转正) is mostly made of words the folder lacks,
    even when its best clause shares a heading with it."""
    import jieba

    words = [
        w for w, flag in dict.fromkeys(_tagged(query_match))
        if len(w) >= 2 and flag in TERM_FLAGS and not QUESTION_CHARS & set(w) and not w.isascii()
        and TERM_MIN_FREQ <= jieba.dt.FREQ.get(w, 0) < GENERIC_FREQ
    ]
    if not words:
        return 0.0

    def known(w: str) -> bool:
        return w in lex.text or terms.knows(w) or (len(w) > 2 and any(w[i : i + 2] in lex.df for i in range(len(w) - 1)))

    return sum(1 for w in words if not known(w)) / len(words)


# A word in more than this share of the passages is the folder's common vocabulary (作业, 工作, 设备 in the
# regulation): it says nothing about which clause the question is about.
COMMON_WORD_SHARE = 0.08
COMMON_WORD_MIN_DF = 3  # (a tiny folder has no common vocabulary to speak of)


# jieba tags of words that carry no topic: numbers, measure words, adverbs, pronouns, locatives, prepositions,
# conjunctions, particles, time words, punctuation
FUNCTION_FLAGS = ("m", "q", "d", "r", "f", "p", "c", "u", "y", "x", "e", "o", "s", "t", "z")


def salient_words(query_match: str, lex: LexicalIndex, terms: TermMap = EMPTY) -> list[tuple[str, tuple[str, ...]]]:
    """The question's topic words with the forms they may take in a clause (as written, or the term map's
    standard terms): jieba words of two or more characters that are not function words (by their tag), contain
    no question word and do not begin or end with a filler character (要交, 时能: jieba glued a function word to
    the next one), not everyday words (frequent in jieba's general dictionary: 需要, 时候, 规定) and not the
    folder's common vocabulary (作业, 设备).  Fragments jieba's word guesser makes of colloquial text (电换,
    人站) stay: dropping the words that are in neither its dictionary, nor the folder, nor the term file was
    tried and lost two questions leave-one-set-out (it also drops real jargon such as 过流, 工单)."""
    import jieba

    out = []
    for w, flag in _tagged(query_match):
        if len(w) < 2 or w.isascii() or QUESTION_CHARS & set(w) or w[0] in FILLER or w[-1] in FILLER or _asks_yes_no(w):
            continue
        if flag.startswith(FUNCTION_FLAGS) or jieba.dt.FREQ.get(w, 0) >= GENERIC_FREQ:
            continue
        df = lex.word_df(w)
        if df > COMMON_WORD_SHARE * lex.size and df >= COMMON_WORD_MIN_DF:
            continue
        if all(x[0] != w for x in out):
            out.append((w, (w, *terms.expand(w))))
    return out


def topic_signals(query_match: str, best: int, lex: LexicalIndex, terms: TermMap = EMPTY) -> tuple[float, float, float]:
    """Does the best clause (with its heading path) carry the question's topic?

    * ``topic_cover`` — IDF-weighted share of the salient words (salient_words) that the clause or its headings
      contain in one of their forms;
    * ``missing_idf`` — the highest IDF (scaled to [0, 1]) of a salient word that the folder uses somewhere but
      the best clause does not: an adjacent question (电能表, 并网, 许可证 on a clause about something else) names
      its topic in a word the folder has, yet the clause shown lacks it;
    * ``absent_share`` — IDF-weighted share of the salient words that no passage of the folder contains in any
      form (过流, 窃电, 无人机): jargon of another field, or a colloquial word the term map does not know yet."""
    words = salient_words(query_match, lex, terms)
    if not words:
        return 0.0, 0.0, 0.0
    form = lex.forms[best]
    total = got = missing = absent = 0.0
    for _word, forms in words:
        present = [f for f in forms if lex.word_df(f)]
        idf = min(lex.word_idf(f) for f in present) if present else 1.0  # the rarity of the topic in the folder
        total += idf
        if any(f in form for f in forms):
            got += idf
        elif present:
            missing = max(missing, idf)
        else:
            absent += idf
    return got / total, missing, absent / total


def number_type_missing(query_match: str, clause_texts: Sequence[str]) -> bool:
    """The question asks for a kind of number (money, a date, a duration, metres, volts…) that none of the
    clauses shown states, or names the time unit it wants (几年, 多少分钟) and none states a number in that unit
    (a clause with 每年 or a calendar year answers neither): they may be on the topic, they cannot carry the
    answer."""
    kinds = asked_quantity_types(query_match)
    if kinds and not any(states_quantity_of(kind, t) for kind in kinds for t in clause_texts):
        return True
    return time_unit_missing(query_match, clause_texts)


def time_unit_missing(query_match: str, clause_texts: Sequence[str]) -> bool:
    """The question names the time unit it wants (几年, 多少分钟) and none of the clauses shown states a number in
    that unit: they may state 每年 or a calendar year, not the answer."""
    units = asked_time_units(query_match)
    return bool(units) and not any(states_time_unit(u, t) for u in units for t in clause_texts)


def second_pass(hits: list[Hit], model: dict, *, dense_hits: list[tuple[int, float]], **context) -> list[Hit]:
    """Re-order the fused top rerank.DEPTH by the learned second pass (rerank.py); the rest keep their order."""
    head = hits[: rerank.DEPTH]
    if len(head) < 2:
        return hits
    top_dense = max((c for _, c in dense_hits), default=0.0)
    new = rerank.scores(rerank.candidate_features(head, top_dense=top_dense, **context), model)
    for h, s in zip(head, new):
        h.score = float(s)
    return sorted(head, key=lambda h: -h.score) + hits[rerank.DEPTH :]


@_one_question()  # (a fresh scope for every call: contextmanager's decorator form)
def hybrid_search(
    *,
    lex: LexicalIndex,
    lex_query_tokens: list[str],
    dense_hits: list[tuple[int, float]],
    mode: str = "hybrid",
    k: int = 10,
    reranker: Reranker | None = None,
    question: str = "",
    texts: Sequence[str] | None = None,
    query_match: str = "",
    terms: TermMap = EMPTY,
) -> Retrieval:
    """Fuse dense hits (chunk index, cosine) with BM25 over the lexical index."""
    scores = lex.scores(lex_query_tokens)
    lex_ranked: list[int] = []
    if scores.size and float(scores.max()) > 0:
        top = np.argsort(-scores)[:CANDIDATES]
        lex_ranked = [int(i) for i in top if scores[i] > 0]
    dense_ranked = [i for i, _ in dense_hits]
    cos = {i: c for i, c in dense_hits}
    lists: list[tuple[list[int], float]] = []
    if mode in ("hybrid", "dense"):
        lists.append((dense_ranked, W_DENSE))
    if mode in ("hybrid", "lexical"):
        lists.append((lex_ranked, W_LEX))
    fused = rrf(lists)
    d_rank = {i: r for r, i in enumerate(dense_ranked)}
    l_rank = {i: r for r, i in enumerate(lex_ranked)}
    order = sorted(fused, key=lambda i: -fused[i])
    hits = [
        Hit(i, fused[i], cos.get(i, 0.0), float(scores[i]) if scores.size else 0.0, d_rank.get(i), l_rank.get(i))
        for i in order[: max(k, 20)]
    ]
    if mode == "hybrid" and COVERAGE_RERANK:
        # agreement tie-break: among the fused top 10, prefer the clause that
        # contains more of the question's topic terms
        head = hits[:RERANK_DEPTH]
        for h in head:
            h.score += COVERAGE_RERANK * coverage(lex_query_tokens, lex.doc_sets[h.index], lex)
        hits = sorted(head, key=lambda h: -h.score) + hits[RERANK_DEPTH:]
    if mode == "hybrid" and texts is not None and (model := rerank.default_weights()) is not None:
        hits = second_pass(hits, model, dense_hits=dense_hits, lex=lex, lex_query_tokens=lex_query_tokens,
                           query_match=query_match, texts=texts, terms=terms)
    if reranker is not None and hits and texts is not None:
        cand = hits[:20]
        new = list(reranker(question, [texts[h.index] for h in cand]))
        for h, s in zip(cand, new):
            h.score = float(s)
        hits = sorted(cand, key=lambda h: -h.score) + hits[20:]
    hits = hits[:k]
    if not hits:
        return Retrieval([], True, 0.0, {}, "nothing found", "offtopic")
    features = signals(hits, dense_hits, lex, lex_query_tokens, query_match, texts_of=texts, terms=terms)
    codes = unknown_identifiers(query_match, lex)
    features["unknown_identifier"] = float(len(codes))  # an outright rule, not a model input
    features["numbered"] = 1.0 if texts is not None and numbered_clause(texts[hits[0].index]) else 0.0  # floor applies
    decision: Decision = decide(features, codes)
    return Retrieval(hits, decision.refused, decision.p_answer, features, decision.reason, decision.outcome)


def signals(
    hits: list[Hit],
    dense_hits: list[tuple[int, float]],
    lex: LexicalIndex,
    lex_query_tokens: list[str],
    query_match: str,
    *,
    texts_of: Sequence[str] | None,
    terms: TermMap = EMPTY,
) -> dict[str, float]:
    """The refusal model's inputs for one ranked result (see refusal.py for why each holds)."""
    cosines = sorted((c for _, c in dense_hits), reverse=True)[:10]
    top_dense = cosines[0] if cosines else 0.0
    rest = cosines[1:]
    covs = [coverage(lex_query_tokens, lex.doc_sets[h.index], lex) for h in hits[:3]]
    best_text = texts_of[hits[0].index] if texts_of is not None else ""
    best = hits[0]
    shown = [texts_of[h.index] for h in hits[:3]] if texts_of is not None else []
    cover, missing, absent = topic_signals(query_match, best.index, lex, terms)
    return {
        "dense": top_dense,
        # both rankers put the best clause near their top: two independent methods agree on it
        "agree": 1.0 if (best.dense_rank is not None and best.dense_rank < 3 and best.lex_rank is not None and best.lex_rank < 3) else 0.0,
        "coverage": covs[0],
        "coverage3": max(covs),
        "known": known_share(query_match, lex),
        "margin": top_dense - (sum(rest) / len(rest) if rest else 0.0),
        "topic_words": topic_words(query_match, [texts_of[h.index] for h in hits[:3]] if texts_of is not None else [], terms),
        "unknown_term": 1.0 if unknown_terms(query_match, lex, terms) else 0.0,
        "number_missing": 1.0 if asks_quantity(query_match) and not states_quantity(best_text) else 0.0,
        "unknown_share": unknown_share(query_match, lex, terms),
        "number_type_missing": 1.0 if number_type_missing(query_match, shown) else 0.0,
        "topic_cover": cover,
        "missing_idf": missing,
        "absent_share": absent,
        # prose passages only: a numbered clause is one or two sentences (answer_type.py)
        "sentence_number_missing": 1.0 if shown and not numbered_clause(best_text) and sentence_number_missing(
            query_match, shown, question_word_forms(query_match, terms), lambda t: states_asked_number(query_match, t)
        ) else 0.0,
    }


def states_asked_number(query_match: str, text: str) -> bool:
    """Does a sentence state a number of (one of) the kinds the question asks for, in the unit it names?  (A
    sentence of a passage: a number at its start is not a clause number.)"""
    kinds = asked_quantity_types(query_match)
    units = asked_time_units(query_match)
    return (not kinds or any(QUANTITY_TYPES[k][1].search(text) for k in kinds)) and (
        not units or any(TIME_UNITS[u][1].search(text) for u in units))


def question_word_forms(query_match: str, terms: TermMap = EMPTY) -> list[tuple[str, ...]]:
    """The question's content words (``_content_words``) that are neither everyday words nor number questions,
    each with the term file's standard terms: the words a sentence about the question's topic contains."""
    import jieba

    words = [w for w in _content_words(query_match) if jieba.dt.FREQ.get(w, 0) < GENERIC_FREQ and not asks_quantity(w)]
    return [(w, *terms.expand(w)) for w in words]


__all__ = ["Hit", "Retrieval", "Reranker", "hybrid_search", "signals", "tokens", "rrf", "coverage"]

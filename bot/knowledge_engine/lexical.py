"""Lexical index: BM25 (bm25s) over Chinese character bigrams.

Bigrams beat word segmentation (jieba) on short paraphrased questions: a
colloquial question rarely segments the way the regulation does, but it
still shares two-character runs with it.  Latin/digit runs (``10kv``,
``sf6``, ``110``) are kept as whole tokens.  The index is rebuilt from the
stored chunks when the engine opens (≈0.1 s for a thousand chunks), so the
vector store stays the single source of truth.
"""
from __future__ import annotations

import re

import numpy as np

from .normalize import match_form

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[a-z0-9][a-z0-9.+\-]*")
# characters that carry no topic in a question ("能不能", "咋整", "多少")
FILLER = set("的了吗呢吧啊呀么嘛啥咋怎什哪几多少能不可以要是得在有个一这那我你他她们就都也还和与及或把被让给会该应就吧哦呗哈咱俺谁些")
# characters of questions only: a bigram containing one spans a question word
# ("查哪", "哪些", "能不") and says nothing about the topic
QUESTION_CHARS = set("吗呢吧啊呀么嘛啥咋怎什哪些呗哈咱俺谁")


def tokens(text: str, *, already_normalised: bool = False) -> list[str]:
    t = text if already_normalised else match_form(text)
    out: list[str] = []
    for run in _TOKEN.findall(t):
        if run[0].isascii():
            out.append(run.rstrip(".-+"))
        elif len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def content_tokens(toks: list[str]) -> list[str]:
    """Tokens that carry topic: not made only of filler characters and not
    containing a question-only character."""
    out = []
    for tok in toks:
        if tok.isascii():
            out.append(tok)
        elif not all(ch in FILLER for ch in tok) and not any(ch in QUESTION_CHARS for ch in tok):
            out.append(tok)
    return out


def query_tokens(question_match: str, expansions: list[str]) -> list[str]:
    """Tokens of a (match-form) question plus its expansion terms, each term
    tokenised on its own so no bigram spans two terms."""
    out = tokens(question_match, already_normalised=True)
    for term in expansions:
        out.extend(tokens(term))
    return out


class LexicalIndex:
    def __init__(self, texts: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        import bm25s

        self.size = len(texts)
        forms = [match_form(t) for t in texts]
        # every chunk in match form, for "is this term mentioned anywhere at all" (a substring test)
        self.text = "\n".join(forms)
        self.forms = forms  # each chunk's match form (its heading prefix included), for word-level tests
        self._word_df: dict[str, int] = {}
        self.doc_tokens = [tokens(t, already_normalised=True) for t in forms]
        self.doc_sets = [set(d) for d in self.doc_tokens]
        self._bm25 = None
        if texts:
            self._bm25 = bm25s.BM25(k1=k1, b=b)
            self._bm25.index(self.doc_tokens, show_progress=False)
        self.vocab = set(self._bm25.vocab_dict) if self._bm25 is not None else set()
        df: dict[str, int] = {}
        for s in self.doc_sets:
            for tok in s:
                df[tok] = df.get(tok, 0) + 1
        self.df = df

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        if self._bm25 is None:
            return np.zeros(0, dtype=np.float32)
        q = [t for t in query_tokens if t in self.vocab]
        if not q:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(q), dtype=np.float32)

    def word_df(self, word: str) -> int:
        """In how many chunks a word (any string in match form) occurs as a substring; cached."""
        n = self._word_df.get(word)
        if n is None:
            n = self._word_df[word] = sum(1 for f in self.forms if word in f) if word in self.text else 0
        return n

    def word_idf(self, word: str) -> float:
        """IDF of a word over the chunks, scaled to [0, 1]: 1 for a word no chunk contains."""
        top = float(np.log(1 + (self.size + 0.5) / 0.5)) if self.size else 1.0
        n = self.word_df(word)
        return float(np.log(1 + (self.size - n + 0.5) / (n + 0.5))) / top

    def idf(self, tok: str) -> float:
        n = self.df.get(tok, 0)
        return float(np.log(1 + (self.size - n + 0.5) / (n + 0.5)))

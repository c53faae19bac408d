"""Question normalisation: clean-up, truncation and colloquial→regulation terms.

Linemen type the words of the site ("火线", "瓷瓶", "爬杆", "千伏"); the
regulations use the standard terms ("相线", "绝缘子", "登杆", "kV").  The
knowledge folder's term map (``术语.yaml``, see terms.py) appends the standard
term to the question (the original words stay), which helps both the bigram
index (shared bigrams appear) and the dense model (the standard term is closer
to the clause wording).
"""
from __future__ import annotations

import re
import unicodedata

from .normalize import match_form
from .terms import EMPTY, TermMap

MAX_QUERY_CHARS = 200

_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200d]")


def clean_question(question: str) -> str:
    """Strip emoji and control characters, collapse spaces, cap the length.

    A pasted 10,000-character text is cut to its first sentences (MAX_QUERY_CHARS):
    the question is at its start far more often than at its end.
    """
    q = _EMOJI.sub(" ", question or "")
    q = "".join(ch for ch in q if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    q = re.sub(r"\s+", " ", q).strip()
    if len(q) > MAX_QUERY_CHARS:
        cut = q[:MAX_QUERY_CHARS]
        m = re.search(r"^.*[。？?！!；;]", cut)
        q = m.group(0) if m and len(m.group(0)) >= 20 else cut
    return q


def prepare(question: str, terms: TermMap = EMPTY) -> tuple[str, str, list[str]]:
    """Return (clean question, match form, expansion terms from the folder's term map)."""
    q = clean_question(question)
    m = match_form(q)
    return q, m, terms.expand(m)

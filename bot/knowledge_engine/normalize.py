"""Text normalisation.

Two forms of every text exist:

* the *display* form (what users read): the loaded text with PDF-conversion
  noise removed (stray spaces between CJK characters, broken spacing around
  clause numbers) but otherwise verbatim;
* the *match* form (what retrieval compares): NFKC (full/half width folded),
  Traditional→Simplified, lower case.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_PUNCT = r"\u3000-\u303f\uff00-\uffef"
# a space (or several) between two CJK characters / CJK punctuation: PDF noise
_CJK_SPACE = re.compile(rf"(?<=[{_CJK}{_CJK_PUNCT}])[ \t\u00a0\u3000]+(?=[{_CJK}{_CJK_PUNCT}])")
_MULTI_SPACE = re.compile(r"[ \t\u00a0]{2,}")
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\ufeff]")


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # opencc-python-reimplemented, pure python, loads in ms

    return opencc.OpenCC("t2s")


_ARTICLE_HEAD = re.compile(r"^(\s*(?:#+\s*)?第\s*[\d一二三四五六七八九十百千零〇两]+\s*(?:条|章|节|部分|编))[ \t\u3000]+", re.M)


def clean_display(text: str) -> str:
    """Remove conversion noise but keep the wording (and full-width punctuation).

    The space after an article number ("第一条 为规范…") is a separator, not
    noise, and is kept (as one ASCII space)."""
    text = _CTRL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _ARTICLE_HEAD.sub(lambda m: m.group(1) + "\x00", text)
    text = _CJK_SPACE.sub("", text)
    text = _MULTI_SPACE.sub(" ", text)
    return text.replace("\x00", " ")


def clean_line(line: str) -> str:
    return clean_display(line).strip()


# a pinyin reading in brackets after a character, as some converted pages print it: 創(chuàng)新
_PINYIN = re.compile(rf"(?<=[{_CJK}])[(（][a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ]{{1,7}}[)）]", re.I)


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def strip_readings(text: str) -> str:
    """Remove pinyin readings in brackets (創(chuàng)新 → 創新): they split words apart for matching."""
    return _PINYIN.sub("", text)


def index_form(text: str) -> str:
    """What is embedded and indexed for a chunk: Simplified, without pinyin readings
    (users still read and are quoted the original text)."""
    return to_simplified(strip_readings(text))


@lru_cache(maxsize=4096)
def match_form(text: str) -> str:
    """Form used for matching: width-folded, simplified, no pinyin readings, lower-cased, no CJK gaps.

    Cached: every question compares itself with the same indexed clauses, and the pure-Python
    Traditional→Simplified conversion of those clause texts was a sixth of a question's CPU time."""
    text = unicodedata.normalize("NFKC", text)
    text = to_simplified(strip_readings(text))
    text = _CJK_SPACE.sub("", text)
    return text.lower()


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF

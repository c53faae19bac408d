"""How a clause reads on a phone: one citation line, tables as lines, and the sentence that answers.

All extractive: nothing here writes new words, it picks and reshapes the document's own text."""
from __future__ import annotations

import re

from .normalize import is_cjk, match_form
from .types import Source

_SENTENCE_END = re.compile(r"(?<=[。；！？!?;])")
_NUMBER_PREFIX = re.compile(r"^\s*(第[一二三四五六七八九十百零\d]+[章节条]|[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+、|\d+(\.\d+)*)\s*")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def citation(source: Source) -> str:
    """《title》 + clause number + the nearest heading without its own number, once:
    《登高与杆塔作业安全》二、（二）杆根和杆身 — not the whole heading path with the title again."""
    heading = source.section.split(" > ")[-1].strip() if source.section else ""
    if heading == source.title.strip():
        heading = ""
    name = _NUMBER_PREFIX.sub("", heading).strip() if source.clause else heading
    if name and source.clause and name in source.clause:
        name = ""
    gap = " " if name and source.clause[-1:].isalnum() else ""  # 6.9.5 名称, but 二、（二）名称
    return f"《{source.title}》{source.clause}{gap}{name}".strip()


def phone_text(text: str) -> str:
    """Markdown tables become one line per row, 「列名：值；列名：值」, readable on a narrow screen."""
    lines = text.split("\n")
    out: list[str] = []
    header: list[str] | None = None
    for line in lines:
        if _is_table_row(line):
            cells = _cells(line)
            if header is None:
                header = cells
            elif not _TABLE_RULE.match(line):
                pairs = [f"{name}：{value}" if name else value for name, value in zip(header, cells) if value]
                out.append("；".join(pairs))
            continue
        header = None
        out.append(line)
    return "\n".join(out)


def lead_sentence(question: str, source: Source, max_chars: int = 120) -> str:
    """The sentence of the clause that shares most with the question (character pairs count double, single
    Chinese characters once; matched in a normalised form); the clause's first sentence when nothing does.
    Empty for a clause of one sentence: it is shown right below the lead, once is enough."""
    sentences = [s.strip() for s in _SENTENCE_END.split(phone_text(source.text)) if s.strip()]
    if len(sentences) < 2:
        return ""
    question = match_form(question)
    pairs, chars = _pairs(question), {ch for ch in question if is_cjk(ch)}

    def shared(sentence: str) -> int:
        form = match_form(sentence)
        return 2 * len(pairs & _pairs(form)) + len(chars & set(form))

    best = max(sentences, key=lambda s: (shared(s), -sentences.index(s)))
    if not shared(best):
        best = sentences[0]
    while (stripped := _NUMBER_PREFIX.sub("", best).lstrip(".．、 ")) != best:  # （一）1. … → …
        best = stripped
    return best if len(best) <= max_chars else best[:max_chars] + "……"


def _pairs(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1) if not text[i : i + 2].isspace()}


def _is_table_row(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith("|") and stripped.endswith("|") and stripped.count("|") >= 3


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]

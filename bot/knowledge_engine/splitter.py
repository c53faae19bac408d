"""Structure-aware splitting of Chinese regulations and policy texts.

A document is read line by line (each non-empty line is a paragraph) and an
outline is rebuilt from the numbering styles Chinese documents use:

=====================  ======  ==============================================
style                  rank    example
=====================  ======  ==============================================
part                   5       ``第 1 部分``, ``第一编``
chapter                10      ``第一章 总则``
section                20      ``第二节``
article (条)           30      ``第十二条 …`` — always a clause
decimal                40+d    ``6``, ``6.9``, ``6.9.5`` (d = number of parts)
markdown heading       #×2     ``## 标题`` (always a heading)
一、                   60
（一）                 70
1. / 1、               80
（1） / 1）            90
a) / （a）             100
=====================  ======  ==============================================

Rules, applied to each numbered line:

* a line numbered *deeper* than the clause being collected is part of that
  clause (list items ``a）``, ``1）`` under ``6.3.3.4``; ``（一）`` under 第五条);
* otherwise a short title-like line (no sentence punctuation) is a heading:
  it closes the clause and replaces the headings of its rank and deeper;
* otherwise it starts a new clause (one clause = one chunk).

Un-numbered paragraphs belong to the open clause, or — in prose documents
without numbering — are grouped into chunks of a few hundred characters under
the current heading.  Markdown tables (``|`` rows, multi-line cells included)
are kept whole together with their caption (``表 1 …``) as one chunk; a table
inside a clause carries that clause's number.  Clauses longer than
``max_chars`` are split at item boundaries, then at ``。；`` sentence ends;
every part keeps the clause number and heading path, and parts after the
first carry the clause's lead-in line in their embedded text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .normalize import clean_line

SPLITTER_VERSION = "3"

_CN_NUM = "一二三四五六七八九十百千零〇两"
_RE_PART = re.compile(rf"^第\s*([\d{_CN_NUM}]+)\s*(部分|编)\s*(.*)$")
_RE_CHAPTER = re.compile(rf"^第\s*([\d{_CN_NUM}]+)\s*章\s*(.*)$")
_RE_SECTION = re.compile(rf"^第\s*([\d{_CN_NUM}]+)\s*节\s*(.*)$")
_RE_ARTICLE = re.compile(rf"^第\s*([\d{_CN_NUM}]+)\s*条\s*(.*)$")
_RE_DECIMAL = re.compile(
    r"^(\d{1,2}(?:\s?[.．]\s?\d{1,3}){1,6})(?:\s+(?=[^\s\d.．%])|(?=[\u4e00-\u9fff（(“\"《]))(.*)$"
)
_RE_DECIMAL1 = re.compile(r"^(\d{1,2})\s+(?=[\u4e00-\u9fff])(.*)$")
_RE_CN_LIST = re.compile(rf"^([{_CN_NUM}]+)\s*[、．.]\s*(.*)$")
_RE_CN_PAREN = re.compile(rf"^[（(]\s*([{_CN_NUM}]+)\s*[）)]\s*[、．.]?\s*(.*)$")
_RE_NUM_DOT = re.compile(r"^(\d{1,2})\s*[.．、](?!\d)\s*(.*)$")
_RE_NUM_PAREN = re.compile(r"^(?:[（(]\s*(\d{1,2})\s*[）)]|(\d{1,2})\s*[）)])\s*(.*)$")
_RE_ALPHA = re.compile(r"^(?:[（(]\s*([a-zA-Z])\s*[）)]|([a-zA-Z])\s*[）)])\s*(.*)$")
_RE_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")
_RE_CAPTION = re.compile(r"^(表|Table)\s*[\dA-Za-z一二三四五六七八九十][\d.．\-—]*\s*\S")
_RE_BRACKET = re.compile(r"^\[(\d{1,3})\]\s*(\S.*)$")
_RE_RULE = re.compile(r"^[=\-*_~—·．.]{3,}$")
_RE_CIRCLED = re.compile(r"^[①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳]")
_SENT_PUNCT = re.compile(r"[。；;！!？?，,：:]")
_SENT_END = re.compile(r"(?<=[。；;！!？?])")


@dataclass
class Numbering:
    style: str
    rank: int
    label: str  # the clause / heading number as written in citations
    rest: str  # text after the number


@dataclass
class Chunk:
    text: str  # display text (verbatim clause)
    clause: str  # clause label, e.g. "6.9.5", "第十二条", "表1"; "" for prose
    section: str  # heading path, " > " joined
    kind: str  # clause | table | prose
    part: int = 0  # part index when a long clause was split
    lead: str = ""  # clause lead-in line, for parts after the first
    block: int = 0  # ordinal of the clause in the document (groups parts)
    headings: list[str] = field(default_factory=list)


def _strip_md(line: str) -> str:
    line = line.strip()
    line = re.sub(r"^[>\s]+", "", line) if line.startswith(">") else line
    line = re.sub(r"^\*\*(.+?)\*\*", r"\1", line)
    return line.replace("**", "").strip()


def detect_numbering(line: str) -> Numbering | None:
    m = _RE_BRACKET.match(line)
    if m:
        return Numbering("bracket", 3, f"[{m.group(1)}]", m.group(2))
    m = _RE_PART.match(line)
    if m:
        return Numbering("part", 5, f"第{m.group(1)}{m.group(2)}", m.group(3))
    m = _RE_CHAPTER.match(line)
    if m:
        return Numbering("chapter", 10, f"第{m.group(1)}章", m.group(2))
    m = _RE_SECTION.match(line)
    if m:
        return Numbering("section", 20, f"第{m.group(1)}节", m.group(2))
    m = _RE_ARTICLE.match(line)
    if m:
        return Numbering("article", 30, f"第{m.group(1)}条", m.group(2))
    m = _RE_DECIMAL.match(line)
    if m:
        label = re.sub(r"\s", "", m.group(1)).replace("．", ".")
        return Numbering("decimal", 40 + label.count(".") + 1, label, m.group(2))
    m = _RE_DECIMAL1.match(line)
    if m:
        return Numbering("decimal", 41, m.group(1), m.group(2))
    m = _RE_CN_PAREN.match(line)
    if m:
        return Numbering("cn_paren", 70, f"（{m.group(1)}）", m.group(2))
    m = _RE_CN_LIST.match(line)
    if m and m.group(2):
        return Numbering("cn_list", 60, f"{m.group(1)}、", m.group(2))
    m = _RE_NUM_PAREN.match(line)
    if m:
        num = m.group(1) or m.group(2)
        return Numbering("num_paren", 90, f"（{num}）", m.group(3))
    m = _RE_NUM_DOT.match(line)
    if m and m.group(2):
        return Numbering("num_dot", 80, f"{m.group(1)}.", m.group(2))
    m = _RE_ALPHA.match(line)
    if m and m.group(3):
        return Numbering("alpha", 100, f"{(m.group(1) or m.group(2)).lower()})", m.group(3))
    if _RE_CIRCLED.match(line):
        return Numbering("circled", 110, line[0], line[1:])
    return None


def _title_like(rest: str) -> bool:
    rest = rest.strip()
    if not rest or len(rest) > 30:
        return False
    return not _SENT_PUNCT.search(rest)


def _decimal_key(label: str) -> tuple[int, ...]:
    return tuple(int(p) for p in label.split("."))


_CJK_END = re.compile(r"[\u4e00-\u9fff，、（“”\w]$")


def _join_wrapped(lines: list[str]) -> list[str]:
    """Undo hard line wraps from PDF conversion: a line that stops mid-sentence
    (ends in a CJK character or a comma) continues on the next line unless that
    one starts a numbered item."""
    out: list[str] = []
    for line in lines:
        title_line = len(out) == 1 and len(out[0]) <= 30 and not _SENT_PUNCT.search(out[0])  # "3.27 高处作业"
        if out and not title_line and _CJK_END.search(out[-1]) and not detect_numbering(line) and not line.startswith(("注", "|")):
            out[-1] += line
        else:
            out.append(line)
    return out


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENT_END.split(text) if s.strip()]


def _pack(pieces: list[str], max_chars: int, sep: str) -> list[str]:
    """Greedily pack pieces into groups no longer than max_chars."""
    out: list[str] = []
    cur = ""
    for piece in pieces:
        if len(piece) > max_chars:
            if cur:
                out.append(cur)
                cur = ""
            sub = split_sentences(piece)
            if len(sub) > 1:
                out.extend(_pack(sub, max_chars, ""))
            else:
                out.extend(piece[i : i + max_chars] for i in range(0, len(piece), max_chars))
            continue
        cand = cur + sep + piece if cur else piece
        if len(cand) > max_chars and cur:
            out.append(cur)
            cur = piece
        else:
            cur = cand
    if cur:
        out.append(cur)
    return out


class _Builder:
    def __init__(self, max_chars: int, prose_chars: int) -> None:
        self.max_chars = max_chars
        self.prose_chars = prose_chars
        self.headings: list[tuple[int, str]] = []
        self.chunks: list[Chunk] = []
        self.clause_lines: list[str] = []
        self.clause_label = ""
        self.clause_rank = 0
        self.clause_style = ""
        self.prose: list[str] = []
        self.block = 0
        self.last_decimal: tuple[int, ...] | None = None

    # -- headings -----------------------------------------------------------
    def section(self) -> str:
        return " > ".join(h for _, h in self.headings)

    def heading_label(self) -> str:
        """Number of the nearest numbered heading (for prose and bare lists under
        it): "6.9", "第三条", or the list path "二、（二）"."""
        path: list[str] = []
        for _, h in reversed(self.headings):
            n = detect_numbering(h)
            if n and n.style in ("decimal", "article"):
                return n.label if not path else n.label + "".join(reversed(path))
            if n and n.style in ("cn_list", "cn_paren", "num_dot", "num_paren"):
                path.append(n.label)
                continue
            if path:
                break
        return "".join(reversed(path))

    def push_heading(self, rank: int, text: str) -> None:
        self.close()
        while self.headings and self.headings[-1][0] >= rank:
            self.headings.pop()
        self.headings.append((rank, text))

    # -- clauses ------------------------------------------------------------
    def start_clause(self, label: str, rank: int, line: str, style: str = "") -> None:
        self.close()
        while self.headings and self.headings[-1][0] >= rank:
            self.headings.pop()  # a sibling of a heading-with-text ends its block
        self.clause_label, self.clause_rank, self.clause_lines = label, rank, [line]
        self.clause_style = style

    def close(self) -> None:
        self.flush_prose()
        if not self.clause_lines:
            return
        self.block += 1
        lines, label = _join_wrapped(self.clause_lines), self.clause_label
        self.clause_lines, self.clause_label, self.clause_rank = [], "", 0
        text = "\n".join(lines)
        if len(text) <= self.max_chars:
            self._emit(Chunk(text, label, self.section(), "clause", block=self.block))
            return
        lead = lines[0] if len(lines[0]) <= 120 else split_sentences(lines[0])[0][:120]
        for i, part in enumerate(_pack(lines, self.max_chars, "\n")):
            self._emit(Chunk(part, label, self.section(), "clause", part=i, lead=lead if i else "", block=self.block))

    def _emit(self, chunk: Chunk) -> None:
        chunk.headings = [h for _, h in self.headings]
        self.chunks.append(chunk)

    # -- prose --------------------------------------------------------------
    def add_prose(self, line: str) -> None:
        self.prose.append(line)
        if sum(len(p) for p in self.prose) >= self.prose_chars:
            self.flush_prose()

    def flush_prose(self) -> None:
        if not self.prose:
            return
        paras, self.prose = self.prose, []
        self.block += 1
        label = self.heading_label()
        for i, part in enumerate(_pack(paras, self.max_chars, "\n")):
            self._emit(Chunk(part, label, self.section(), "prose", part=i, block=self.block))

    # -- tables -------------------------------------------------------------
    def add_table(self, caption: str, rows: list[str]) -> None:
        label = self.clause_label or self.heading_label()
        self.close()  # the clause that introduces the table comes first
        self.block += 1
        body = "\n".join(rows)
        text = f"{caption}\n{body}" if caption else body
        limit = max(self.max_chars * 4, 1600)
        if len(text) <= limit:
            self._emit(Chunk(text, label, self.section(), "table", block=self.block))
            return
        header = rows[:2] if len(rows) > 1 and set(rows[1].replace("|", "").strip()) <= set("-: ") else rows[:1]
        body_rows = rows[len(header) :]
        groups = _pack(body_rows, limit - len(caption) - sum(len(h) for h in header), "\n")
        for i, g in enumerate(groups):
            part_text = "\n".join(([caption] if caption else []) + header + [g])
            self._emit(Chunk(part_text, label, self.section(), "table", part=i, block=self.block))


def split_text(text: str, *, max_chars: int = 360, prose_chars: int = 300) -> list[Chunk]:
    """Split a document's display text into clause / table / prose chunks."""
    b = _Builder(max_chars, prose_chars)
    raw_lines = [clean_line(line) for line in text.split("\n")]
    lines = [ln for ln in raw_lines if ln]
    i = 0
    pending_caption = ""
    in_code = False
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            in_code = not in_code
            i += 1
            continue
        # ---- tables (markdown pipes; a row stays open until it ends with '|')
        if line.startswith("|"):
            rows = []
            cur = line
            i += 1
            while i < len(lines):
                nxt = lines[i]
                if cur.rstrip().endswith("|") and cur.count("|") >= 2:
                    rows.append(cur)
                    if not nxt.startswith("|"):
                        cur = ""
                        break
                    cur = nxt
                else:
                    cur = cur + " " + nxt
                i += 1
            if cur:
                rows.append(cur)
            caption = pending_caption
            pending_caption = ""
            b.add_table(caption, rows)
            continue
        if pending_caption:  # a caption not followed by a table: ordinary text
            _handle_line(b, pending_caption)
            pending_caption = ""
        if _RE_CAPTION.match(line) and len(line) <= 60 and i + 1 < len(lines) and lines[i + 1].startswith("|"):
            pending_caption = line
            i += 1
            continue
        _handle_line(b, line, lines[i + 1] if i + 1 < len(lines) else "")
        i += 1
    if pending_caption:
        _handle_line(b, pending_caption)
    b.close()
    return b.chunks


def _short_heading(line: str) -> str:
    head = re.split(r"[。；;，,：:]", line, maxsplit=1)[0]
    return head[:30]


def _heads_decimal_block(label: str, next_line: str) -> bool:
    """A numbered title is a heading only when deeper numbers follow it."""
    nxt = detect_numbering(_strip_md(next_line)) if next_line else None
    if nxt is None or nxt.style != "decimal":
        return False
    return nxt.label.startswith(label + ".")


def _handle_line(b: _Builder, raw: str, next_line: str = "") -> None:
    md = _RE_MD_HEADING.match(raw)
    if md:
        title = _strip_md(md.group(2))
        num = detect_numbering(title)
        if num and num.style == "article" and not _title_like(num.rest):
            b.start_clause(num.label, num.rank, title)
            return
        rank = num.rank if num else len(md.group(1)) * 2
        b.push_heading(rank, title)
        return
    line = _strip_md(raw)
    if not line:
        return
    if _RE_RULE.match(line):
        # a separator line (=====, -----): whatever was open ends here
        b.close()
        while b.headings and b.headings[-1][0] >= 30:
            b.headings.pop()
        return
    num = detect_numbering(line)
    if num and num.style == "decimal":
        key = _decimal_key(num.label)
        last = b.last_decimal
        plausible = last is None or (key > last and key[0] <= last[0] + 3)
        if b.clause_lines and num.rank > b.clause_rank and b.clause_rank >= 40 and not key[: len(_decimal_key(b.clause_label))] == _decimal_key(b.clause_label):
            plausible = False  # "0.7m" style continuation inside a decimal clause
        if not plausible:
            num = None
        else:
            b.last_decimal = key
    if num is None:
        if b.clause_lines:
            b.clause_lines.append(line)
        else:
            b.add_prose(line)
        return
    if num.style in ("bracket", "part", "chapter", "section"):
        b.push_heading(num.rank, line)
        return
    if num.style == "article":
        b.start_clause(num.label, num.rank, line)
        return
    if num.style == "decimal" and b.clause_lines and b.clause_style == "decimal" and num.label.startswith(b.clause_label + "."):
        # 6.9 with text of its own, then 6.9.1 …: the parent is a clause and
        # also the heading of its children
        parent_rank, parent_line = b.clause_rank, b.clause_lines[0]
        b.close()
        b.push_heading(parent_rank, _short_heading(parent_line))
        b.start_clause(num.label, num.rank, line, "decimal")
        return
    if b.clause_lines and num.rank > b.clause_rank:
        b.clause_lines.append(line)
        return
    if num.style == "decimal":
        if _title_like(num.rest) and _heads_decimal_block(num.label, next_line):
            b.push_heading(num.rank, line)
        else:
            b.start_clause(num.label, num.rank, line, "decimal")
        return
    if _title_like(num.rest):
        b.push_heading(num.rank, line)
        return
    if num.rank >= 80 and not b.clause_lines:
        # a bare list (a）… b）…) right under a heading: one clause, carried by
        # the heading's number; its siblings are appended to it
        b.start_clause(b.heading_label() or num.label, num.rank - 1, line)
        return
    b.start_clause(num.label, num.rank, line)

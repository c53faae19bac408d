"""Telegram-flavoured HTML: validation, entity extraction and plain-text rendering.

Only the subset Telegram accepts for ``parse_mode=HTML`` is allowed. The parser is
deliberately small: it is for the fake Bot API server (to reject what Telegram would
reject) and for showing bot output in a terminal.
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass, field

# tag -> entity type
_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only <span class="tg-spoiler">
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}

_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)\s*(/?)>")
_ENTITY_RE = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_ATTR_RE = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


class HTMLParseError(ValueError):
    """Raised with a Telegram-like description (without the 'Bad Request: ' prefix)."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class ParsedHTML:
    text: str
    entities: list[dict] = field(default_factory=list)


def parse_html(source: str) -> ParsedHTML:
    """Parse Telegram HTML into plain text and message entities.

    Raises :class:`HTMLParseError` ("can't parse entities: ...") for unsupported tags,
    unbalanced tags or a bare ``<``.
    """
    out: list[str] = []
    offset16 = 0
    stack: list[tuple[str, int, dict]] = []
    entities: list[dict] = []
    pos = 0
    n = len(source)
    while pos < n:
        lt = source.find("<", pos)
        chunk = source[pos:] if lt < 0 else source[pos:lt]
        if chunk:
            plain = _unescape(chunk)
            out.append(plain)
            offset16 += utf16_len(plain)
        if lt < 0:
            break
        m = _TAG_RE.match(source, lt)
        byte_off = len(source[:lt].encode("utf-8"))
        if not m:
            raise HTMLParseError(
                f"can't parse entities: Unsupported start tag \"\" at byte offset {byte_off}"
            )
        closing, name, attrs, _selfclose = m.group(1), m.group(2).lower(), m.group(3) or "", m.group(4)
        if name not in _TAGS:
            kind = "end" if closing else "start"
            raise HTMLParseError(
                f"can't parse entities: Unsupported {kind} tag \"{name}\" at byte offset {byte_off}"
            )
        if closing:
            if not stack or stack[-1][0] != name:
                raise HTMLParseError(
                    f"can't parse entities: Unmatched end tag at byte offset {byte_off}, "
                    f"expected \"</{stack[-1][0]}>\", found \"</{name}>\""
                    if stack
                    else f"can't parse entities: Unexpected end tag at byte offset {byte_off}"
                )
            tag, start16, extra = stack.pop()
            length = offset16 - start16
            if length > 0:
                ent = {"type": _TAGS[tag], "offset": start16, "length": length, **extra}
                entities.append(ent)
        else:
            parsed_attrs = {
                a.group(1).lower(): a.group(2) or a.group(3) or a.group(4) or ""
                for a in _ATTR_RE.finditer(attrs)
            }
            extra: dict = {}
            if name == "a":
                href = parsed_attrs.get("href", "")
                extra["url"] = _html.unescape(href)
            elif name == "span":
                if parsed_attrs.get("class") != "tg-spoiler":
                    raise HTMLParseError(
                        f"can't parse entities: Tag \"span\" must have class \"tg-spoiler\" "
                        f"at byte offset {byte_off}"
                    )
            elif name == "blockquote" and "expandable" in attrs:
                extra["type"] = "expandable_blockquote"
            elif name == "code" and stack and stack[-1][0] == "pre":
                cls = parsed_attrs.get("class", "")
                if cls.startswith("language-"):
                    # Telegram folds <pre><code class="language-x"> into pre.language
                    stack[-1][2]["language"] = cls[len("language-"):]
            elif name == "tg-emoji":
                extra["custom_emoji_id"] = parsed_attrs.get("emoji-id", "")
            if "type" in extra:
                etype = extra.pop("type")
                stack.append((name, offset16, extra | {"_type": etype}))
            else:
                stack.append((name, offset16, extra))
        pos = m.end()
    if stack:
        raise HTMLParseError(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1][0]}\""
        )
    for ent in entities:
        if "_type" in ent:
            ent["type"] = ent.pop("_type")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedHTML("".join(out), entities)


def _unescape(chunk: str) -> str:
    # Telegram only knows &lt; &gt; &amp; &quot; and numeric entities; others stay literal.
    def repl(m: re.Match[str]) -> str:
        body = m.group(1)
        if body.startswith("#x"):
            return chr(int(body[2:], 16))
        if body.startswith("#"):
            return chr(int(body[1:]))
        known = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
        return known.get(body, m.group(0))

    return _ENTITY_RE.sub(repl, chunk)


def html_to_text(source: str) -> str:
    """Readable plain text for a terminal: tags dropped, entities unescaped.

    Never raises; invalid markup is shown with tags stripped on a best-effort basis.
    """
    try:
        return parse_html(source).text
    except HTMLParseError:
        return _html.unescape(re.sub(r"</?[a-zA-Z][^<>]*>", "", source))

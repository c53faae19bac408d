"""Long replies are split so that every part is a message Telegram accepts: at most 4096 UTF-16 code units of
visible text (tags parsed, entities decoded),
never cut inside a tag or an HTML entity, every tag closed in its part and reopened in the next, and no
visible character lost."""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from bot.services.outbox import visible_length
from handlers.ui.render import TELEGRAM_TEXT_LIMIT, split_text


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.broken = False

    def handle_starttag(self, tag, attrs) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.broken = True

    def handle_data(self, data) -> None:
        self.text.append(data)


def visible(part: str) -> str:
    parser = _Balance()
    parser.feed(part)
    parser.close()
    assert not parser.broken and not parser.stack, f"unbalanced tags in part starting {part[:40]!r}"
    return "".join(parser.text)


def assert_valid_parts(text: str, parts: list[str], limit: int = TELEGRAM_TEXT_LIMIT) -> None:
    assert len(parts) > 1
    for part in parts:
        assert 0 < visible_length(part) <= limit
        assert not re.match(r"^[#\w]*;", part), f"part starts inside an entity: {part[:20]!r}"
        assert not re.search(r"&[#\w]*$", part), f"part ends inside an entity: {part[-20:]!r}"
        assert not re.search(r"<[^>]*$", part) and not re.match(r"^[^<]*>", part), "cut inside a tag"
    assert "".join(visible(part) for part in parts).replace("\n", "") == html.unescape(
        re.sub(r"<[^>]+>", "", text)).replace("\n", "")


def test_escaped_text_is_never_cut_inside_an_entity():
    text = html.escape("if a<b and c>d then <stop> & go " * 400)  # one long line full of &lt; &gt; &amp;
    parts = split_text(text)
    assert_valid_parts(text, parts)
    assert "".join(parts) == text  # no tags open: the parts are exactly the text cut in pieces


def test_length_is_counted_in_utf16_units_as_telegram_does():
    text = "😀" * 3000  # 6000 UTF-16 code units, 3000 code points
    parts = split_text(text)
    assert [visible_length(part) for part in parts] == [4096, 6000 - 4096]
    assert "".join(parts) == text


def test_a_tag_spanning_the_cut_is_closed_and_reopened():
    link = '<a href="https://example.org/a?x=1&amp;y=2">'
    text = "<b>标题</b>\n" + link + "安" * 5000 + "</a>\n<i>完</i>"
    parts = split_text(text)
    assert_valid_parts(text, parts)
    assert parts[0] == "<b>标题</b>"  # the line break before the long line was the better cut
    assert parts[1].startswith(link) and parts[1].endswith("</a>") and parts[2].startswith(link)


def test_splits_prefer_line_breaks():
    lines = [f"<b>第{i}条</b> " + "安" * 90 for i in range(200)]
    parts = split_text("\n".join(lines))
    assert all(visible_length(part) <= TELEGRAM_TEXT_LIMIT for part in parts)
    assert "\n".join(parts) == "\n".join(lines)  # cut only where a line ended


def test_short_text_is_one_part():
    assert split_text("") == [""]
    assert split_text("<b>安全</b> &amp; 健康") == ["<b>安全</b> &amp; 健康"]

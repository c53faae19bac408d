"""Scanned documents with a known text, for the OCR tests and bench/ocr.py: text is drawn onto white A4 pages
with the Noto Sans CJK font that the mplfonts package ships, and the page images are saved as an image-only
PDF (no text layer), as a scanner would produce, or as a photo (jpg/png)."""
from __future__ import annotations

import io
import random
import re
from pathlib import Path

DPI = 200
A4 = (int(8.27 * DPI), int(11.69 * DPI))
MARGIN = int(0.8 * DPI)


def font_path() -> Path:
    import mplfonts

    return Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"


def _font(px: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path()), px)


def wrap(text: str, font, width: int) -> list[str]:
    """Break a paragraph into lines no wider than `width` pixels (character by character, as Chinese wraps)."""
    lines, line = [], ""
    for ch in text:
        if line and font.getlength(line + ch) > width:
            lines.append(line)
            line = ch
        else:
            line += ch
    return lines + ([line] if line else [])


def paragraphs(markdown: str) -> list[str]:
    """The printed paragraphs of a markdown text: headings without their #, no blank lines."""
    return [line.lstrip("#").strip() for line in markdown.splitlines() if line.strip()]


def render_pages(paras: list[str], *, font_px: int = 36, columns: int = 1, noise: float = 0.0,
                 seed: int = 7) -> list:
    """Page images (PIL, grayscale) holding the paragraphs, as many pages as they need."""
    from PIL import Image, ImageDraw, ImageFilter

    font = _font(font_px)
    gap = int(DPI * 0.25)
    column_width = (A4[0] - 2 * MARGIN - gap * (columns - 1)) // columns
    line_height = int(font_px * 1.6)
    rows = []
    for para in paras:
        rows += wrap(para, font, column_width)
        rows.append(None)  # paragraph spacing
    rows.pop()
    per_column = (A4[1] - 2 * MARGIN) // line_height
    pages = []
    rng = random.Random(seed)
    while rows:
        page = Image.new("L", A4, 255)
        draw = ImageDraw.Draw(page)
        for column in range(columns):
            x = MARGIN + column * (column_width + gap)
            for i in range(per_column):
                if not rows:
                    break
                row = rows.pop(0)
                if row:
                    draw.text((x, MARGIN + i * line_height), row, font=font, fill=0)
        if noise:
            page = page.rotate(rng.uniform(-noise, noise), fillcolor=255, resample=Image.BICUBIC)
            page = page.filter(ImageFilter.GaussianBlur(0.6))
        pages.append(page)
    return pages


def degraded(page, factor: float = 0.35, blur: float = 1.0):
    """A poor scan of a page: scanned at a fraction of the resolution, blurred, scaled back up."""
    from PIL import Image, ImageFilter

    small = page.resize((int(page.width * factor), int(page.height * factor)), Image.BILINEAR)
    return small.filter(ImageFilter.GaussianBlur(blur)).resize(page.size, Image.BILINEAR)


def scanned_pdf(pages: list) -> bytes:
    """An image-only PDF of the page images (what a scanner saves)."""
    out = io.BytesIO()
    pages[0].save(out, "PDF", resolution=DPI, save_all=True, append_images=pages[1:])
    return out.getvalue()


def photo(page, kind: str = "JPEG") -> bytes:
    out = io.BytesIO()
    page.convert("RGB").save(out, kind, quality=85)
    return out.getvalue()


def accuracy(expected: str, got: str) -> float:
    """1 − edit distance / length, over the characters without whitespace (line breaks are layout) and without
    markdown table rules (a table's cells are compared, not its | and --- markup)."""
    a, b = (re.sub(r"\s|\|", "", re.sub(r"(?m)^\|( ?-{3,} ?\|)+$", "", text)) for text in (expected, got))
    return 1 - _distance(a, b) / max(1, len(a))


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def render_table(caption: str, rows: list[list[str]], *, font_px: int = 36):
    """One page holding a ruled table (the caption above it), as a scanned regulation prints one."""
    from PIL import Image, ImageDraw

    font = _font(font_px)
    page = Image.new("L", A4, 255)
    draw = ImageDraw.Draw(page)
    draw.text((MARGIN, MARGIN), caption, font=font, fill=0)
    widths = [max(font.getlength(row[i]) for row in rows) + font_px for i in range(len(rows[0]))]
    row_height = int(font_px * 1.8)
    top = MARGIN + 2 * row_height
    for r, row in enumerate(rows):
        x = MARGIN
        y = top + r * row_height
        for i, cell in enumerate(row):
            draw.rectangle((x, y, x + widths[i], y + row_height), outline=0, width=2)
            draw.text((x + font_px // 2, y + (row_height - font_px) // 2 - 4), cell, font=font, fill=0)
            x += widths[i]
    return page


def markdown_table(markdown: str) -> tuple[str, list[list[str]]]:
    """The first table of a markdown text: its caption line (表…) and its rows of cells."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    caption = next(line for line in reversed(lines[:start]) if line.strip())
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not all(set(c) <= set("-: ") for c in cells):
            rows.append(cells)
    return caption, rows

"""Offline OCR of scanned PDF pages and photos of notices.

The recogniser is RapidOCR (``rapidocr-onnxruntime``): its wheel ships the PP-OCRv4 Chinese detection and
recognition models and the direction classifier, and onnxruntime runs them on the CPU — nothing is fetched at
run time. Pages are turned into images with pypdfium2 (its wheel ships pdfium): rendering the page, rather
than extracting its embedded image with pypdf, reads every scan the same way whatever its encoding (JBIG2,
CCITT fax, JPEG 2000, several image strips per page, a /Rotate flag, a crop box) at a known resolution.

Only pages without a usable text layer are OCRed; pages with text keep their text. The recognised boxes are
put back into lines by their coordinates (top to bottom, left to right; two columns are read one after the
other) so that a clause number such as 「16.5.2.6」 starts its line as in the original, where the clause
splitter (splitter.py) finds it.

OCR takes seconds a page, so results are cached by the file's content hash in a folder beside the index:
a re-sync, a reindex or the sync right after an upload (which was already read once to check it) never OCRs
the same file twice. The cache holds text only; deleting it costs time, not data.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RENDER_DPI = 200  # a scanned A4 page at 200 dpi is ~1650×2340 px; RapidOCR reads at most 2000 px a side
MAX_IMAGE_PIXELS = 50_000_000  # a photo or a page image above this is refused (decompression bombs)
MAX_IMAGE_SIDE = 3000  # larger photos are scaled down before OCR (the recogniser works at ≤2000 px anyway)
TEXT_LAYER_MIN_CHARS = 20  # a page whose text layer has fewer letters or Chinese characters is OCRed
OCR_THREADS = 1  # onnxruntime threads: on a 2-core server one core stays free to answer questions meanwhile
OCR_VERSION = "1"  # bump when the reading or the line rebuilding changes: cached results are redone
CACHE_KEEP_SECONDS = 30 * 86400  # an OCR result of a file no longer indexed is kept this long after last use

PageProgress = Callable[[int, int], None]  # (page being read, 1-based; pages in all)


class OcrError(Exception):
    """OCR could not run (the recogniser is not installed, the image is too large or unreadable)."""


@dataclass
class OcrBox:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    score: float

    @property
    def height(self) -> float:
        return max(1.0, self.y1 - self.y0)


@dataclass
class OcrText:
    """What OCR made of a file: the text (pages with a text layer included), how many pages were OCRed, and
    the mean recognition confidence of the OCRed characters (None when no page needed OCR)."""

    text: str
    pages: int = 1
    ocr_pages: int = 0
    confidence: float | None = None
    seconds: float = 0.0
    page_confidence: list[float] = field(default_factory=list)


# ----------------------------------------------------------- the recogniser
_engine: Any = None
_engine_lock = threading.Lock()  # one recognition at a time: onnxruntime already uses every core


def available() -> bool:
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _recogniser() -> Any:
    global _engine
    if _engine is None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError:
            raise OcrError("OCR is not installed here (rapidocr-onnxruntime needs Python 3.11 or 3.12)") from None
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        _engine = RapidOCR(intra_op_num_threads=OCR_THREADS, inter_op_num_threads=1)
    return _engine


def recognise(image: Any) -> list[OcrBox]:
    """The text boxes RapidOCR finds in a PIL image (any mode), in no particular order."""
    image = _prepared(image)
    with _engine_lock:
        result, _elapsed = _recogniser()(image)
    boxes = []
    for points, text, score in result or []:
        xs = [float(p[0]) for p in points]
        ys = [float(p[1]) for p in points]
        text = str(text).strip()
        if text:
            boxes.append(OcrBox(min(xs), min(ys), max(xs), max(ys), text, float(score)))
    return boxes


def _prepared(image: Any) -> Any:
    from PIL import ImageOps

    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise OcrError(f"image of {width}×{height} pixels is larger than the {MAX_IMAGE_PIXELS // 1_000_000} megapixel limit")
    from PIL import Image

    image = ImageOps.exif_transpose(image)  # phone photos are stored sideways with an orientation tag
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")  # text on a transparent background: put it on white paper
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    elif image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if max(image.size) > MAX_IMAGE_SIDE:
        image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    return image


# ------------------------------------------------------------ line rebuilding
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


_UNIT = r"(米|m|kV|V|A|千伏|伏|安|%|％|倍|小时|h|分钟|min|秒|s|天|日|年|个|月|mm|cm|km|公里|吨|t|kg|公斤|Ω|度|℃|级|元|人|名|次|根|台|处|项|层|步|张|只|套)"
# a line that starts with one of these begins a clause or heading, never continues the line above it
_CLAUSE_START = re.compile(
    r"^(#|第\s*[\d一二三四五六七八九十百零〇]+\s*[部分编章节条]|[一二三四五六七八九十]+\s*[、．.]|[（(]\s*[一二三四五六七八九十\d]+\s*[）)]"
    r"|\d{1,2}(\s?[.．]\s?\d{1,3})+(?![\d.．])(?!\s*" + _UNIT + "))"
)


_NUMBER_GLUED = re.compile(rf"^(\d{{1,2}}(?:[.．]\d{{1,3}})*)(?![\d.．])(?=[\u4e00-\u9fff])(?!{_UNIT})")


def _spaced_number(line: str) -> str:
    """「1总则」→「1 总则」: the recogniser often drops the space after a clause number; the splitter wants it
    after a bare 「1」 and the source documents have it. A measurement (「1.5米」) is left alone."""
    return _NUMBER_GLUED.sub(r"\1 ", line, count=1)


def lines_of(boxes: list[OcrBox]) -> list[str]:
    """Rebuild the page's text from box coordinates: columns left to right (when the page has a gutter), in
    each the lines top to bottom and boxes left to right, and the lines a paragraph wrapped into joined back
    (a line that reaches the right edge continues on the next one, unless that one starts a clause)."""
    out: list[str] = []
    for block in _blocks(boxes):
        rows = _rows(block)
        if not rows:
            continue
        char = statistics.median(b.height for b in block)
        left = min(b.x0 for b in block)
        right = max(b.x1 for b in block)
        cells = [_cells(row, char) for row in rows]
        tabular = [len(c) >= 3 for c in cells]
        tabular = [t and ((i > 0 and tabular[i - 1]) or (i + 1 < len(rows) and tabular[i + 1]))
                   for i, t in enumerate(tabular)]  # a table is two or more rows of three or more cells
        paragraph = ""
        for i, row in enumerate(rows):
            if tabular[i]:
                if paragraph:
                    out.append(paragraph)
                paragraph = ""
                out.append("| " + " | ".join(_join(cell) for cell in cells[i]) + " |")
                if i == 0 or not tabular[i - 1]:  # the header row: the splitter keeps a markdown table whole
                    out.append("|" + " --- |" * len(cells[i]))
                continue
            text = _join(row)
            continues = (i > 0 and not tabular[i - 1] and rows[i - 1][-1].x1 >= right - 1.5 * char
                         and row[0].x0 <= left + 0.8 * char and not _CLAUSE_START.match(text))
            if continues and paragraph:
                paragraph += ("" if _CJK.match(paragraph[-1:] or " ") or _CJK.match(text[0]) else " ") + text
            else:
                if paragraph:
                    out.append(paragraph)
                paragraph = text
        if paragraph:
            out.append(paragraph)
    return [_spaced_number(line) for line in out if line.strip()]


def _cells(row: list[OcrBox], char: float) -> list[list[OcrBox]]:
    """A row cut where boxes are more than a character apart (table cells; a text line has one cell)."""
    cells = [[row[0]]]
    for before, box in zip(row, row[1:]):
        if box.x0 - before.x1 > 1.2 * char:
            cells.append([box])
        else:
            cells[-1].append(box)
    return cells


def _rows(boxes: list[OcrBox]) -> list[list[OcrBox]]:
    """Boxes whose vertical extents overlap by half the smaller height share a line."""
    rows: list[list[OcrBox]] = []
    spans: list[tuple[float, float]] = []
    for box in sorted(boxes, key=lambda b: (b.y0 + b.y1) / 2):
        for i in range(len(rows) - 1, max(-1, len(rows) - 4), -1):
            top, bottom = spans[i]
            overlap = min(bottom, box.y1) - max(top, box.y0)
            if overlap >= 0.5 * min(box.height, bottom - top):
                rows[i].append(box)
                spans[i] = (min(top, box.y0), max(bottom, box.y1))
                break
        else:
            rows.append([box])
            spans.append((box.y0, box.y1))
    return [sorted(row, key=lambda b: b.x0) for row in rows]


def _join(row: list[OcrBox]) -> str:
    text = row[0].text
    for before, box in zip(row, row[1:]):
        gap = box.x0 - before.x1
        tight = gap < 0.6 * min(before.height, box.height)
        cjk_pair = _CJK.match(before.text[-1]) and _CJK.match(box.text[0])
        text += ("" if tight and cjk_pair else " ") + box.text
    return text


def _blocks(boxes: list[OcrBox]) -> list[list[OcrBox]]:
    """Split a two-column page into reading blocks: full-width boxes (titles) cut the page into bands, and in
    each band the left column comes before the right one. A page without a clear gutter is one block."""
    if len(boxes) < 6:
        return [boxes]
    left = min(b.x0 for b in boxes)
    right = max(b.x1 for b in boxes)
    width = right - left
    gutter = _gutter(boxes, left + 0.4 * width, left + 0.6 * width)  # columns of a page are about equal
    if gutter is None:
        return [boxes]
    blocks: list[list[OcrBox]] = []
    band: list[OcrBox] = []

    def close_band() -> None:
        if band:
            blocks.append([b for b in band if b.x1 <= gutter])
            blocks.append([b for b in band if b.x0 >= gutter])
            band.clear()

    for box in sorted(boxes, key=lambda b: b.y0):
        if box.x0 < gutter < box.x1:  # spans the gutter: a title or a full-width paragraph
            close_band()
            blocks.append([box])
        else:
            band.append(box)
    close_band()
    return [block for block in blocks if block]


def _gutter(boxes: list[OcrBox], lo: float, hi: float) -> float | None:
    """An x in [lo, hi] that no more than a few boxes cross while both sides hold many lines."""
    best: tuple[int, float] | None = None
    steps = 40
    for i in range(steps + 1):
        x = lo + (hi - lo) * i / steps
        crossing = sum(1 for b in boxes if b.x0 < x < b.x1)
        if best is None or crossing < best[0]:
            best = (crossing, x)
    if best is None:
        return None
    crossing, x = best
    left = sum(1 for b in boxes if b.x1 <= x)
    right = sum(1 for b in boxes if b.x0 >= x)
    if crossing > 0.15 * len(boxes) or min(left, right) < 0.3 * len(boxes) or min(left, right) < 3:
        return None
    # a table's cells sit in rows across the gutter with wide gaps; text columns fill their width
    beside = [b for b in boxes if b.x1 <= x or b.x0 >= x]
    span_left = x - min(b.x0 for b in boxes)
    span_right = max(b.x1 for b in boxes) - x
    wide = sum(1 for b in beside if b.x1 - b.x0 >= 0.6 * (span_left if b.x1 <= x else span_right))
    if wide < 0.5 * len(beside):
        return None
    return x


# ----------------------------------------------------------------- reading
def _confidence(boxes: list[OcrBox]) -> float | None:
    chars = sum(len(b.text) for b in boxes)
    if not chars:
        return None
    return sum(b.score * len(b.text) for b in boxes) / chars


def read_image(path: Path) -> OcrText:
    """OCR a photo (jpg/png). Raises OcrError."""
    from PIL import Image, UnidentifiedImageError

    started = time.perf_counter()
    try:
        with Image.open(path) as image:
            if image.size[0] * image.size[1] > MAX_IMAGE_PIXELS:
                raise OcrError(f"image of {image.size[0]}×{image.size[1]} pixels is larger than the "
                               f"{MAX_IMAGE_PIXELS // 1_000_000} megapixel limit")
            image.load()
            boxes = recognise(image)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise OcrError(f"cannot read the image ({type(exc).__name__})") from None
    confidence = _confidence(boxes)
    return OcrText("\n".join(lines_of(boxes)), pages=1, ocr_pages=1, confidence=confidence,
                   seconds=time.perf_counter() - started, page_confidence=[confidence or 0.0])


def read_pdf(path: Path, text_layers: list[str], progress: PageProgress | None = None,
             max_pages: int | None = None) -> OcrText:
    """The PDF's text, page by page: the given text layer where it has enough text, OCR of the rendered page
    where not. ``text_layers`` holds pypdf's text of each page. Raises OcrError."""
    import pypdfium2 as pdfium

    started = time.perf_counter()
    todo = [i for i, text in enumerate(text_layers) if not _has_text(text)]
    if max_pages is not None and len(todo) > max_pages:
        raise OcrError(f"{len(todo)} scanned pages, more than the {max_pages} that are read by OCR")
    pages = list(text_layers)
    weighted: list[tuple[float, int]] = []
    page_confidence: list[float] = []
    if todo:
        try:
            document = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise OcrError(f"cannot render the PDF ({exc})") from None
        try:
            for n, i in enumerate(todo):
                if progress is not None:
                    progress(n + 1, len(todo))
                with _engine_lock:  # pdfium is not thread-safe either
                    page = document[i]
                    width, height = page.get_size()
                    scale = min(RENDER_DPI / 72, (MAX_IMAGE_PIXELS / max(1.0, width * height)) ** 0.5)
                    image = page.render(scale=scale).to_pil()
                    page.close()
                boxes = recognise(image)
                pages[i] = "\n".join(lines_of(boxes))
                confidence = _confidence(boxes)
                page_confidence.append(confidence if confidence is not None else 0.0)
                if confidence is not None:
                    weighted.append((confidence, sum(len(b.text) for b in boxes)))
        finally:
            document.close()
    chars = sum(n for _c, n in weighted)
    confidence = sum(c * n for c, n in weighted) / chars if chars else (0.0 if todo else None)
    return OcrText("\n".join(pages), pages=len(pages), ocr_pages=len(todo), confidence=confidence,
                   seconds=time.perf_counter() - started, page_confidence=page_confidence)


def _has_text(text: str) -> bool:
    return len(re.findall(r"[0-9A-Za-z\u3400-\u9fff]", text or "")) >= TEXT_LAYER_MIN_CHARS


def needs_ocr(text_layers: list[str]) -> int:
    """How many pages of a PDF (given pypdf's text of each) would be OCRed."""
    return sum(1 for text in text_layers if not _has_text(text))


# ------------------------------------------------------------------- cache
class OcrCache:
    """OCR results by the file's sha256 (and OCR_VERSION), as small JSON files in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @staticmethod
    def key(data_digest: str) -> str:
        return f"{data_digest}-{OCR_VERSION}"

    def get(self, digest: str) -> OcrText | None:
        entry = self.folder / f"{self.key(digest)}.json"
        try:
            result = OcrText(**json.loads(entry.read_text("utf-8")))
            os.utime(entry)  # last used: retain() keeps what was used lately
            return result
        except (OSError, ValueError, TypeError):
            return None

    def put(self, digest: str, result: OcrText) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{self.key(digest)}.json"
        tmp = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(asdict(result), ensure_ascii=False), "utf-8")
        os.replace(tmp, target)

    def retain(self, digests: set[str], unused_seconds: float = CACHE_KEEP_SECONDS) -> int:
        """Delete cached results of files no longer indexed and not used for a while (a document in the trash
        may come back; an upload being checked is not indexed yet); returns how many."""
        keep = {self.key(d) for d in digests}
        removed = 0
        cutoff = time.time() - unused_seconds
        if self.folder.is_dir():
            for entry in self.folder.glob("*.json"):
                try:
                    stale = entry.stem not in keep and entry.stat().st_mtime < cutoff
                except OSError:
                    continue
                if stale:
                    entry.unlink(missing_ok=True)
                    removed += 1
        return removed


def file_digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()

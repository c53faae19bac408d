"""Loading knowledge files (md, txt, html, docx, pdf) into display text.

Every failure raises :class:`LoadError` with a reason a person can act on;
the sync puts it in the report and keeps that file's previous chunks.
"""
from __future__ import annotations

import codecs
import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

from .normalize import clean_display

if TYPE_CHECKING:
    from .ocr import OcrCache, OcrText, PageProgress

MAX_FILE_BYTES = 50 * 1024 * 1024
TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text"}
HTML_SUFFIXES = {".html", ".htm"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}  # photos of a notice: read by OCR (ocr.py)
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | IMAGE_SUFFIXES | {".docx", ".pdf"}


class LoadError(Exception):
    """A file could not be turned into text; the message says why."""


class OcrNoText(LoadError):
    """OCR ran and found no text on the scanned pages or the photo."""


class OcrMissing(LoadError):
    """The file needs OCR and the recogniser is not installed (rapidocr-onnxruntime needs Python < 3.13)."""


@dataclass
class LoadedDoc:
    title: str
    text: str
    encoding: str = ""
    warnings: list[str] = field(default_factory=list)
    ocr: OcrText | None = None  # set when pages or a photo were read by OCR: pages, mean confidence


@dataclass
class OcrOptions:
    """How scans are read: where OCR results are cached (by content hash), how many scanned pages at most,
    and who hears which page is being read."""

    cache: OcrCache | None = None
    max_pages: int | None = None
    progress: PageProgress | None = None


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode text bytes: UTF-8 (with or without BOM), UTF-16 with BOM, GBK/GB18030, or what
    charset-normalizer finds. Raises LoadError for binary or undecodable content."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    if b"\x00" in data:  # valid UTF-8, but no text document has them: a damaged or binary file
        raise LoadError("binary content, not a text file (contains NUL bytes)")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
        if _plausible(text):
            return text, "gb18030"
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
    except Exception:  # pragma: no cover - defensive
        best = None
    if best is not None:
        text = str(best)
        if _plausible(text):
            return text, str(best.encoding)
    raise LoadError("cannot decode text: not UTF-8, GBK/GB18030 or another recognisable encoding")


def _plausible(text: str) -> bool:
    if not text:
        return True
    bad = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\n\r\t") or 0xE000 <= ord(ch) <= 0xF8FF or ch == "\ufffd")
    return bad / len(text) < 0.01


def _title_from_lines(text: str, fallback: str) -> str:
    seen = 0
    for line in text.split("\n"):
        line = line.strip().strip("#").strip()
        if not line:
            continue
        seen += 1
        if seen > 6:
            break
        if line.startswith(("【", "[", "注", "|", "来源")):
            continue
        if len(line) <= 40 and not re.match(r"^(\d|第\s*\S+\s*[章节条]|[一二三四五六七八九十]+、|[（(])", line):
            return line.strip("《》")
    return fallback


class _HTMLText(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table", "ul", "ol", "dd", "dt", "pre", "blockquote"}
    SKIP = {"script", "style", "head", "noscript", "nav", "footer"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.title = ""
        self._in_title = False
        self._heading = 0
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self._in_title = True
        if tag in self.SKIP:
            self.skip += 1
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.parts.append("\n" + "#" * int(tag[1]) + " ")
        elif tag == "tr":
            self.parts.append("\n|")
        elif tag in ("td", "th"):
            self._in_cell = True
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag in self.SKIP and self.skip:
            self.skip -= 1
        if tag in ("td", "th"):
            self.parts.append(" |")
            self._in_cell = False
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if self._in_title:
            self.title += data
            return
        if self.skip:
            return
        self.parts.append(data.replace("\n", " ") if self._in_cell else data)


def _load_html(text: str) -> tuple[str, str]:
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    body = html.unescape("".join(parser.parts))
    return parser.title.strip(), body


def _load_docx(path: Path) -> tuple[str, str]:
    try:
        import docx  # python-docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(str(path))
    except Exception as exc:
        raise LoadError(f"cannot open Word document ({type(exc).__name__}: {exc})") from None
    lines: list[str] = []
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(child, document)
            text = para.text.strip()
            if not text:
                continue
            style = (para.style.name or "").lower() if para.style is not None else ""
            if style.startswith("heading") or style.startswith("标题"):
                level = re.sub(r"\D", "", style) or "1"
                lines.append("#" * min(int(level), 6) + " " + text)
            elif style == "title":
                lines.append("# " + text)
            else:
                lines.append(text)
        elif tag == "tbl":
            table = Table(child, document)
            for i, row in enumerate(table.rows):
                cells = [c.text.replace("\n", " ").strip() for c in row.cells]
                lines.append("| " + " | ".join(cells) + " |")
                if i == 0:
                    lines.append("|" + " --- |" * len(cells))
    title = (document.core_properties.title or "").strip()
    return title, "\n".join(lines)


def _load_pdf(path: Path, ocr: OcrOptions) -> tuple[str, OcrText | None]:
    try:
        from pypdf import PdfReader

        reader = PdfReader(str(path), strict=False)
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:
        raise LoadError(f"corrupt or unreadable PDF ({type(exc).__name__}: {str(exc)[:120]})") from None
    from . import ocr as reader_ocr

    if not reader_ocr.needs_ocr(pages):
        return "\n".join(pages), None
    result = _ocr_cached(path, ocr, lambda: reader_ocr.read_pdf(path, pages, ocr.progress, ocr.max_pages))
    return result.text, result


def _load_image(path: Path, ocr: OcrOptions) -> tuple[str, OcrText]:
    from . import ocr as reader_ocr

    def read():
        if ocr.progress is not None:
            ocr.progress(1, 1)
        return reader_ocr.read_image(path)

    result = _ocr_cached(path, ocr, read)
    return result.text, result


def _ocr_cached(path: Path, ocr: OcrOptions, read) -> OcrText:
    """OCR a file once: the result is kept by the file's sha256, so a re-sync or reindex reads the cache."""
    from . import ocr as reader_ocr

    digest = reader_ocr.file_digest(path)
    cached = ocr.cache.get(digest) if ocr.cache is not None else None
    if cached is not None:
        return cached
    if not reader_ocr.available():
        raise OcrMissing("scanned pages or a photo need OCR, which is not installed here "
                        "(rapidocr-onnxruntime needs Python 3.11 or 3.12)")
    try:
        result = read()
    except reader_ocr.OcrError as exc:
        raise LoadError(f"OCR failed: {exc}") from None
    if ocr.cache is not None:
        ocr.cache.put(digest, result)
    return result


def load_file(path: Path, ocr: OcrOptions | None = None) -> LoadedDoc:
    """Load one knowledge file; raises LoadError with a human-readable reason. Scanned PDF pages and photos
    are read by OCR (see ocr.py), through ``ocr.cache`` when one is given."""
    ocr = ocr or OcrOptions()
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"unsupported file type {suffix or '(none)'}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc}") from None
    if size > MAX_FILE_BYTES:
        raise LoadError(f"file is {size / 1024 / 1024:.0f} MB, larger than the {MAX_FILE_BYTES // 1024 // 1024} MB limit")
    if size == 0:
        raise LoadError("file is empty")
    title = ""
    encoding = ""
    recognised = None
    if suffix == ".docx":
        title, text = _load_docx(path)
    elif suffix == ".pdf":
        text, recognised = _load_pdf(path, ocr)
    elif suffix in IMAGE_SUFFIXES:
        text, recognised = _load_image(path, ocr)
    else:
        text, encoding = decode_bytes(path.read_bytes())
        if suffix in HTML_SUFFIXES or (suffix in TEXT_SUFFIXES and re.search(r"<(html|body|p|div)[\s>]", text[:2000], re.I)):
            title, text = _load_html(text)
    text = clean_display(text)
    if not text.strip():
        if recognised:
            raise OcrNoText("no text was recognised on the scanned pages or photo")
        raise LoadError("document contains no text")
    title = clean_display(title).strip() or _title_from_lines(text, path.stem)
    return LoadedDoc(title=title, text=text, encoding=encoding, ocr=recognised)

"""The knowledge folder kept by admins from the chat: uploads, removal to a trash folder and back, syncs.

Every check happens before anything is written: the name is made safe, the size is checked, the type is
read from the content (magic bytes, not the name), Word files are checked for zip bombs before they are
parsed, PDFs for encryption and page count, and the file is read and split exactly as a sync would (in a
hidden temporary file inside the folder, which the sync skips). Only then is it moved into place
atomically; a clash with a different file of the same name is the admin's choice (replace / keep both).
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import threading
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from bot.knowledge_engine.fleet import SYNC_LOCK_FILE, ingest_turn, publish_version
from bot.knowledge_engine.folder import LEGACY_FORMATS
from bot.knowledge_engine import ocr
from bot.knowledge_engine.loaders import HTML_SUFFIXES, IMAGE_SUFFIXES, TEXT_SUFFIXES, LoadError, OcrMissing, OcrNoText, decode_bytes
from bot.services import daily_items
from bot.services.errors import DomainError

if TYPE_CHECKING:
    from bot.knowledge_engine import KnowledgeEngine, SyncReport
    from bot.knowledge_engine.ocr import OcrText, PageProgress
    from bot.knowledge_engine.types import Source

UPLOAD_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | IMAGE_SUFFIXES | {".docx", ".pdf"}
IMAGE_KINDS = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png"}  # suffix → what the magic bytes must say
PHOTO_PREFIX = "通知照片"  # a photo sent without a caption is saved as 通知照片-20261201-0930.jpg
TRASH = "_trash"  # inside the knowledge folder; folder.py skips names starting with "_", so syncs ignore it
MAX_NAME_CHARS = 80  # of the stem; the whole name stays far below the 255 bytes file systems allow
MAX_DOCX_UNPACKED = 100 * 1024 * 1024  # a Word file's XML, uncompressed: real regulations are a few MB
MAX_DOCX_RATIO = 200  # uncompressed / compressed: text XML deflates ~10×; a bomb deflates 1000×
FORBIDDEN_CHARS = '/\\:*?"<>|'
PREVIEW_CLAUSES = 3


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pdf_pages: int


@dataclass
class Saved:
    name: str  # relative to the knowledge folder
    replaced: bool


@dataclass
class Change:
    """What one upload did to the index, for the reply."""

    name: str
    title: str = ""
    added: int = 0
    removed: int = 0
    chunks: int = 0
    clauses: int = 0
    preview: list[Source] = field(default_factory=list)
    failed: str = ""
    ocr_pages: int = 0  # pages (or a photo) read by OCR, and their mean recognition confidence
    ocr_confidence: float | None = None


# ------------------------------------------------------------------ names
def safe_name(raw: str | None) -> str:
    """A file name that can only land directly in the knowledge folder: the last path part, NFC, no control or
    reserved characters, no leading dot, _ or ~ (hidden, reserved or Office lock files are never indexed),
    the stem cut to MAX_NAME_CHARS. Raises DomainError('kb_bad_name') when nothing usable is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join("_" if ch in FORBIDDEN_CHARS or unicodedata.category(ch).startswith("C") else ch for ch in name)
    name = name.strip().lstrip(".~$_ ").strip()
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = re.sub(r"\.{2,}", ".", stem).strip(". ")[:MAX_NAME_CHARS].rstrip(". ")
    if not stem:
        raise DomainError("kb_bad_name")
    return f"{stem}.{suffix.lower()}" if suffix else stem


def check_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in LEGACY_FORMATS:
        raise DomainError("kb_legacy_format", suffix=suffix)
    if suffix not in UPLOAD_SUFFIXES:
        raise DomainError("kb_bad_type", suffix=suffix or "—")
    return suffix


def check_size(size: int | None, limits: Limits) -> None:
    if size is not None and size > limits.max_bytes:
        raise DomainError("kb_too_large", mb=f"{size / 1024 / 1024:.0f}", max=limits.max_bytes // 1024 // 1024)
    if size == 0:
        raise DomainError("kb_empty")


# ---------------------------------------------------------------- content
def check_content(name: str, data: bytes, limits: Limits) -> None:
    """The content is what the name says, and safe to parse. Raises DomainError with the reason."""
    check_size(len(data), limits)
    suffix = check_suffix(name)
    kind = _sniff(data)
    if suffix == ".pdf":
        if kind != "pdf":
            raise DomainError("kb_not_what_it_says", suffix=suffix)
        _check_pdf(data, limits)
    elif suffix == ".docx":
        if kind not in ("docx", "zip"):
            raise DomainError("kb_not_what_it_says", suffix=suffix)
        _check_docx(data)
    elif suffix in IMAGE_SUFFIXES:
        if kind != IMAGE_KINDS[suffix]:
            raise DomainError("kb_not_what_it_says", suffix=suffix)
        _check_image(data)
    else:  # text formats have no magic bytes: any known binary type is refused, the rest must decode as text
        if kind is not None:
            raise DomainError("kb_not_what_it_says", suffix=suffix)
        try:
            decode_bytes(data)
        except LoadError:
            raise DomainError("kb_not_what_it_says", suffix=suffix) from None


def _sniff(data: bytes) -> str | None:
    """The type the content's magic bytes say (filetype knows executables, archives, images, PDF, Office)."""
    import filetype

    kind = filetype.guess(data[:8192])
    return kind.extension if kind is not None else None


def _check_pdf(data: bytes, limits: Limits) -> None:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise DomainError("kb_pdf_encrypted")
        pages = len(reader.pages)
    except DomainError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise DomainError("kb_unreadable", reason=f"{type(exc).__name__}") from None
    if pages > limits.max_pdf_pages:
        raise DomainError("kb_pdf_too_many_pages", pages=pages, max=limits.max_pdf_pages)


def _check_image(data: bytes) -> None:
    """The photo's size from its header (nothing is decoded), and OCR is there to read it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise DomainError("kb_not_what_it_says", suffix=".jpg/.png") from None
    if width * height > ocr.MAX_IMAGE_PIXELS:
        raise DomainError("kb_image_too_large", width=width, height=height, max=ocr.MAX_IMAGE_PIXELS // 1_000_000)
    if not ocr.available():
        raise DomainError("kb_ocr_unavailable")


def photo_name(caption: str | None, now: datetime) -> str:
    """The file name of a photo sent as a photo: its caption when it has one, else 通知照片-date-time."""
    if caption and caption.strip():
        try:
            return safe_name(" ".join(caption.split())[:MAX_NAME_CHARS] + ".jpg")
        except DomainError:
            pass
    return f"{PHOTO_PREFIX}-{now:%Y%m%d-%H%M%S}.jpg"


def _check_docx(data: bytes) -> None:
    """Read the zip directory only (no member is inflated): a zip bomb is refused before python-docx opens it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        raise DomainError("kb_not_what_it_says", suffix=".docx") from None
    if not any(m.filename == "word/document.xml" for m in members):
        raise DomainError("kb_not_what_it_says", suffix=".docx")
    unpacked = sum(m.file_size for m in members)
    packed = max(1, sum(m.compress_size for m in members))
    if unpacked > MAX_DOCX_UNPACKED or unpacked / packed > MAX_DOCX_RATIO:
        raise DomainError("kb_zip_bomb", mb=f"{unpacked / 1024 / 1024:.0f}")


# ----------------------------------------------------------------- saving
def read_as_sync_would(engine: KnowledgeEngine, name: str, data: bytes,
                       progress: PageProgress | None = None) -> OcrText | None:
    """Parse the upload with the engine's own loader and splitter, from a hidden temporary file in the
    folder (the sync skips names starting with a dot). Scanned pages and photos are OCRed here, with
    ``progress(page, pages)``, into the OCR cache the sync reads. Returns what OCR made of it (None when
    nothing needed OCR). Raises DomainError('kb_unreadable') with the reason, 'kb_ocr_unavailable', 'kb_ocr_no_text'."""
    folder = engine.knowledge_dir
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".probe-{uuid.uuid4().hex}{Path(name).suffix}"
    try:
        probe.write_bytes(data)
        doc, _chunks = engine.preview(probe, progress)
    except OcrMissing:
        raise DomainError("kb_ocr_unavailable") from None
    except OcrNoText:
        raise DomainError("kb_ocr_no_text") from None
    except LoadError as exc:
        raise DomainError("kb_unreadable", reason=str(exc)) from None
    finally:
        probe.unlink(missing_ok=True)
    return doc.ocr if doc.ocr is not None and doc.ocr.ocr_pages else None


def existing_differs(folder: Path, name: str, data: bytes) -> bool | None:
    """None: no file of that name; False: the same content is already there; True: a different file."""
    target = folder / name
    if not target.is_file():
        return None
    return _digest(target.read_bytes()) != _digest(data)


def save(folder: Path, name: str, data: bytes, *, replace: bool = False) -> Saved:
    """Write the file into the folder atomically (temp file + rename). Without ``replace`` an existing file
    is never overwritten: the new one is linked in only if the name is free (atomic, also against a second
    upload at the same moment), else DomainError('kb_clash'). ``name`` must come from safe_name()."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.parent.resolve() != folder.resolve():
        raise DomainError("kb_bad_name")
    tmp = folder / f".upload-{uuid.uuid4().hex}.part"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            existed = target.exists()
            os.replace(tmp, target)
            return Saved(name, replaced=existed)
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise DomainError("kb_clash", name=name) from None
        return Saved(name, replaced=False)
    finally:
        tmp.unlink(missing_ok=True)


def save_keeping_both(folder: Path, name: str, data: bytes) -> Saved:
    """Save under the first free name 「名称 (2).ext」, 「名称 (3).ext」…"""
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(2, 100):
        try:
            return save(folder, f"{stem} ({n}){suffix}", data)
        except DomainError as error:
            if error.code != "kb_clash":
                raise
    raise DomainError("kb_clash", name=name)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ syncs
def sync(engine: KnowledgeEngine, redis_url: str | None, progress: Callable[[int, int, str], None] | None = None,
         *, rebuild: bool = False) -> SyncReport:
    """One sync at a time: the engine's lock in this process, the fleet's lock (Redis) or a lock file in the
    index folder across processes. Other bot processes are told when the index changed."""
    with ingest_turn(redis_url, engine.index_dir / SYNC_LOCK_FILE):
        report = engine.rebuild(progress) if rebuild else engine.sync(progress)
    if report.added or report.changed or report.removed:
        publish_version(redis_url)
    return report


def pending_signature(engine: KnowledgeEngine) -> tuple[tuple[str, int, int], ...]:
    """The files a sync would touch, with size and mtime (-1 once deleted): equal on two scans = settled."""
    signature = []
    for name in sorted(engine.pending_changes()):
        try:
            st = (engine.knowledge_dir / name).stat()
            signature.append((name, st.st_size, st.st_mtime_ns))
        except OSError:
            signature.append((name, -1, -1))
    return tuple(signature)


def describe(engine: KnowledgeEngine, name: str, before: set[str], report: SyncReport,
             recognised: OcrText | None = None) -> Change:
    """What the sync did to one file: chunks added and removed (by chunk key), its first clauses, and what OCR
    made of it (``recognised``, from read_as_sync_would)."""
    failed = dict(report.failed).get(name, "")
    if failed:
        return Change(name, failed=failed)
    after = engine.file_keys(name)
    chunks = engine.file_clauses(name)
    numbered = [c for c in chunks if c.clause]
    return Change(name, title=chunks[0].title if chunks else "", added=len(after - before), removed=len(before - after),
                  chunks=len(chunks), clauses=len(numbered), preview=(numbered or chunks)[:PREVIEW_CLAUSES],
                  ocr_pages=recognised.ocr_pages if recognised else 0,
                  ocr_confidence=recognised.confidence if recognised else None)


def find_document(engine: KnowledgeEngine, wanted: str) -> str:
    """A document by file name, title or a unique part of either (chat /kb remove and `fieldmate kb remove`).
    Raises DomainError('kb_no_such_document' / 'kb_ambiguous')."""
    documents = engine.documents()
    exact = [d.file for d in documents if wanted in (d.file, d.title, d.title and f"《{d.title}》")]
    partial = [d.file for d in documents if wanted and (wanted in d.file or wanted in d.title)]
    found = exact or partial
    if len(found) != 1:
        raise DomainError("kb_no_such_document" if not found else "kb_ambiguous", name=wanted)
    return found[0]


def find_trashed(folder: Path, wanted: str) -> str:
    """A document in the trash by its name or a unique part of it. Raises DomainError."""
    trash = trashed(folder)
    exact = [name for name in trash if name == wanted]
    partial = [name for name in trash if wanted and wanted in name]
    found = exact or partial
    if len(found) != 1:
        raise DomainError("kb_no_such_document" if not found else "kb_ambiguous", name=wanted)
    return found[0]


# ------------------------------------------------------------ trash folder
def key_of(name: str) -> str:
    """A short stable key for a file name (button data is limited to 64 bytes)."""
    return hashlib.sha1(name.encode()).hexdigest()[:12]


def remove(folder: Path, name: str) -> str:
    """Move a document into the trash folder (restorable); returns its name there."""
    source = folder / name
    if not source.is_file() or not source.resolve().is_relative_to(folder.resolve()) or name.startswith(TRASH + "/"):
        raise DomainError("kb_no_such_document", name=name)
    target = folder / TRASH / name
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    return name


def trashed(folder: Path) -> list[str]:
    root = folder / TRASH
    if not root.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def restore(folder: Path, name: str) -> str:
    """Move a document back from the trash to where it was (keeping both if that name was taken meanwhile)."""
    source = folder / TRASH / name
    if name not in trashed(folder):
        raise DomainError("kb_no_such_document", name=name)
    target = folder / name
    if target.exists():
        saved = save_keeping_both(target.parent, target.name, source.read_bytes())
        source.unlink()
        return (Path(name).parent / saved.name).as_posix()
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(source, target)
    return name


# ------------------------------------------------------------- FAQ answers
FAQ_FILE = "常见问题解答.md"
FAQ_TITLE = "# 常见问题解答\n"
_faq_lock = threading.Lock()
MAX_FAQ_ANSWER = 2000  # characters: a FAQ answer is a few sentences; longer text belongs in a regulation


def faq_section(question: str, answer: str, admin: str, day: date) -> str:
    """One FAQ section: the question as its heading (so retrieval matches it), the answer, and who answered
    when: the line 「管理员答复：王管理，2026-12-01」 is part of the text, so every answer from it shows it."""
    heading = " ".join(question.split()).lstrip("#").strip()
    body = "\n".join(line.rstrip() for line in answer.strip().splitlines())
    return f"\n## {heading}\n\n{body}\n\n管理员答复：{admin}，{day.isoformat()}\n"


def append_faq(folder: Path, question: str, answer: str, admin: str, day: date) -> str:
    """Append a section to the FAQ document (created on first use), atomically; returns its file name.
    Raises DomainError('faq_empty' / 'faq_too_long')."""
    answer = answer.strip()
    if not answer:
        raise DomainError("faq_empty")
    if len(answer) > MAX_FAQ_ANSWER:
        raise DomainError("faq_too_long", length=len(answer), max=MAX_FAQ_ANSWER)
    target = folder / FAQ_FILE
    with _faq_lock:  # read-append-replace: two admins answering at once must not drop a section
        current = target.read_text("utf-8") if target.is_file() else FAQ_TITLE
        text = current.rstrip("\n") + "\n" + faq_section(question, answer, admin, day)
        save(folder, FAQ_FILE, text.encode("utf-8"), replace=True)
    return FAQ_FILE


# ------------------------------------------------------- daily-item lists
DAILY_FOLDER = "daily"  # inside the knowledge folder: the daily items' yaml lists (bot.services.daily_items)
DAILY_SUFFIXES = {".yaml", ".yml"}
MAX_LISTED_PROBLEMS = 10


def listed_problems(lines: list[str]) -> str:
    """At most MAX_LISTED_PROBLEMS lines, then how many more."""
    more = len(lines) - MAX_LISTED_PROBLEMS
    return "\n".join(lines[:MAX_LISTED_PROBLEMS] + ([f"… +{more}"] if more > 0 else []))


def is_daily_list(name: str) -> bool:
    return Path(name).suffix.lower() in DAILY_SUFFIXES


def save_daily_list(folder: Path, name: str, data: bytes, limits: Limits) -> tuple[Saved, daily_items.LoadResult]:
    """Validate an uploaded daily-item list as it would load beside the other lists in `folder`, and only if
    every item loads save it (atomically, replacing a list of the same name): a bad file never replaces a good
    one. Raises DomainError('daily_list_invalid') listing the problems with file and line."""
    check_size(len(data), limits)
    if _sniff(data) is not None:
        raise DomainError("kb_not_what_it_says", suffix=Path(name).suffix)
    result = daily_items.check_upload(folder, name, data)
    blocking = [problem for problem in result.problems if problem.skipped] or \
        ([] if result.items else [daily_items.problem(name, 1, "no_items")])
    if blocking:
        # `problems` in English (CLI, logs); `found` the problems themselves, for the chat to say in its language
        raise DomainError("daily_list_invalid", name=name, count=len(blocking), found=blocking,
                          problems=listed_problems([f"{p.file}:{p.line}: {p.message}" for p in blocking]))
    return save(folder, name, data, replace=True), result

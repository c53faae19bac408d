"""Which files of the knowledge folder are indexed, and why the others are not.

Every path is resolved (symlinks followed by the OS, ``..`` collapsed) and must
lie inside the resolved folder: a link to a file elsewhere on the server would
otherwise make that file answerable to every member.  Links whose target stays
inside the folder are indexed under their own name; links to folders are never
followed (they could loop or lead outside).  Nothing is dropped silently: every
file or folder left out gets a reason in :attr:`FolderScan.skipped`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .loaders import SUPPORTED_SUFFIXES
from .terms import TERM_FILE

# Folders of the knowledge folder that hold other things than documents.
SKIP_DIRS = {
    "daily": "daily-item lists (read by the daily schedule, not indexed)",
    "daily_items": "daily-item lists (read by the daily schedule, not indexed)",
    "__pycache__": "Python cache folder",
}
LEGACY_FORMATS = {
    ".doc": "old Word format .doc is not supported: save it as .docx",
    ".xls": "Excel files are not indexed: save the text as .docx or .md",
    ".xlsx": "Excel files are not indexed: save the text as .docx or .md",
    ".ppt": "PowerPoint files are not indexed: save the text as .docx or .pdf",
    ".pptx": "PowerPoint files are not indexed: save the text as .docx or .pdf",
    ".wps": "WPS format is not supported: save it as .docx",
}
OUTSIDE = "link to a file outside the knowledge folder (not read)"
TERM_LIST = "term list: used to match questions, not indexed as a document"


@dataclass
class FolderScan:
    files: dict[str, Path] = field(default_factory=dict)  # relative name → resolved path inside the folder
    skipped: list[tuple[str, str]] = field(default_factory=list)  # relative name → why it is not indexed


def scan_folder(root: Path) -> FolderScan:
    """List the documents to index under ``root`` (sorted), and every other entry with a reason."""
    scan = FolderScan()
    if not root.is_dir():
        return scan
    real_root = root.resolve()  # (inside() for one path; here resolved once for the whole walk)
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        kept = []
        for name in sorted(dirnames):
            why = _skip_dir_reason(here / name, name)
            if why:
                scan.skipped.append((_rel(here / name, root) + "/", why))
            else:
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = here / name
            rel = _rel(path, root)
            why = "" if rel == TERM_FILE else _skip_file_reason(path, name)
            if why:
                scan.skipped.append((rel, why))
                continue
            real = path.resolve()
            if not real.is_relative_to(real_root):
                scan.skipped.append((rel, OUTSIDE))
            elif not real.is_file():
                scan.skipped.append((rel, "not a regular file"))
            elif rel == TERM_FILE:
                scan.skipped.append((rel, TERM_LIST))
            else:
                scan.files[rel] = real
    return scan


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, with every link followed, lies in the folder ``root``."""
    return path.resolve().is_relative_to(root.resolve())


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _skip_dir_reason(path: Path, name: str) -> str:
    if path.is_symlink():
        return "link to a folder (links to folders are not followed)"
    if name in SKIP_DIRS:
        return SKIP_DIRS[name]
    if name.startswith("."):
        return "hidden folder (name starts with a dot)"
    if name.startswith("_"):
        return "folder name starts with _ (reserved, not indexed)"
    return ""


def _skip_file_reason(path: Path, name: str) -> str:
    suffix = path.suffix.lower()
    if name.startswith("~$"):
        return "Office lock file of an open document"
    if name.startswith("."):
        return "hidden file (name starts with a dot)"
    if name.startswith("_"):
        return "file name starts with _ (reserved, not indexed)"
    if suffix in LEGACY_FORMATS:
        return LEGACY_FORMATS[suffix]
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        return f"unsupported file type {suffix or '(no extension)'} (supported: {supported})"
    return ""

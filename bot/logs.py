"""Where log lines go.

A bot serving Telegram logs to stderr (the service manager collects it).  The terminal
commands — the simulator and `fieldmate ingest` — keep the terminal for the conversation
or the per-file report: their log lines go to a file under LOG_DIR, and `-v` shows them on
the terminal too.  Library output that would bypass logging (warnings.warn, e.g. from the
PDF reader) is routed into it.
"""
from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET_LIBRARIES = ("pypdf", "chromadb", "httpx", "jieba")  # chatty at INFO; their warnings still show


def log_to_console(verbose: bool) -> None:
    """The service: everything at INFO (DEBUG with -v) on stderr."""
    _configure(logging.DEBUG if verbose else logging.INFO, [logging.StreamHandler()])


def log_to_file(log_dir: Path, name: str, verbose: bool) -> Path:
    """A terminal command: INFO and up to LOG_DIR/name (rotated at 5 MB); with -v also DEBUG on stderr.
    Returns the file's path so the command can say once where its logs are."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / name
    file = logging.handlers.RotatingFileHandler(path, maxBytes=5 * 1024 * 1024, backupCount=2, encoding="utf-8")
    file.setLevel(logging.INFO)
    handlers: list[logging.Handler] = [file]
    if verbose:
        handlers.append(logging.StreamHandler())
    _configure(logging.DEBUG if verbose else logging.INFO, handlers)
    return path


def _configure(level: int, handlers: list[logging.Handler]) -> None:
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
    logging.basicConfig(level=level, handlers=handlers, force=True)
    logging.captureWarnings(True)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))

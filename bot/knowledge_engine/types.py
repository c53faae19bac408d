"""Plain result types of the knowledge engine (no heavy imports)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Source:
    chunk_id: str
    title: str
    section: str
    clause: str
    text: str
    score: float
    file: str


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    sources: list[Source]
    top_score: float  # P(answerable) from the refusal model, 0–1
    latency_ms: float
    mode: str = "extractive"  # extractive | llm | refused
    reason: str = ""  # why refused / why the LLM fell back
    # answer | related | offtopic | empty (refusal.py); refused is True for all but "answer"
    outcome: str = "answer"
    # the ranked top 10 with their scores, also when refused (evaluation, `ask --json`)
    ranked: list[Source] = field(default_factory=list)


@dataclass
class DocumentInfo:
    """One indexed file of the knowledge folder (`/kb`)."""

    file: str
    title: str
    chunks: int
    clauses: int
    indexed_at: float  # epoch seconds of the sync that last wrote it (0: unknown, an older index)


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0
    warnings: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    embedded: int = 0  # passages actually sent to the embedding model (the others were reused by content hash)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # not a document to index, and why
    interrupted: bool = False  # cancelled part-way; what was written is consistent, the rest waits for the next sync

    def file_lines(self) -> list[tuple[str, str, str]]:
        """One (name, status, detail) per file or folder of the knowledge folder, sorted by name.

        status: added, changed, unchanged, removed, failed (detail: why), skipped (detail: why);
        an indexed file's detail carries its warning, if any."""
        warnings = dict(self.warnings)
        lines = [(name, status, warnings.get(name, "")) for status, names in (
            ("added", self.added), ("changed", self.changed), ("unchanged", self.unchanged), ("removed", self.removed),
        ) for name in names]
        lines += [(name, "failed", why) for name, why in self.failed]
        lines += [(name, "skipped", why) for name, why in self.skipped]
        return sorted(lines)

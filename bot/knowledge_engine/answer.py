"""Answer texts: extractive (default) and LLM-written from retrieved clauses only."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Sequence

from .refusal import ANSWER, EMPTY, OFFTOPIC, RELATED, not_chinese
from .types import Answer, Source

if TYPE_CHECKING:  # pragma: no cover
    from .retrieval import Retrieval

# Fixed texts of the engine itself (CLI, API); the bot renders its own through the i18n catalogs.
RELATED_TEXT = "没有找到直接规定，以下条款可能相关（仅供参考，不是答案）。为安全起见，请咨询本支部安全员。"
OFFTOPIC_TEXT = "这个问题不在知识库的范围内（知识库只收安全规程和支部制度）。"
NOT_CHINESE_TEXT = "知识库是中文的，请用中文提问。The knowledge folder is in Chinese: please ask in Chinese."

SYSTEM_PROMPT = (
    "你是供电所现场人员的安全规程助手。只能依据下面给出的条款回答，不得使用条款以外的知识，"
    "不得编造数字或要求。每句话末尾用【条款号】注明依据，例如【6.9.5】。"
    "如果这些条款不足以回答问题，只回答：依据不足。回答使用简体中文，简洁。"
)


def source_label(src: Source) -> str:
    return src.clause or (src.section.split(" > ")[-1] if src.section else "")


def format_source_heading(src: Source) -> str:
    label = f"《{src.title}》" if src.title else ""
    if src.clause:
        label += f" {src.clause}"
    if src.section:
        label += f"（{src.section}）"
    return label.strip()


def format_extractive(sources: Sequence[Source], start: int = 0) -> str:
    blocks = []
    for n, src in enumerate(sources, start + 1):
        blocks.append(f"{n}. {format_source_heading(src)}\n{src.text}")
    return "\n\n".join(blocks)


def build_answer(
    question: str, r: "Retrieval", ranked: list[Source], offset: int, limit: int, latency_ms: float
) -> Answer:
    """The engine's answer for a ranked retrieval: the page of clauses shown and the text for each outcome."""
    outcome, reason = r.outcome, r.reason
    if outcome != EMPTY and not_chinese(question):
        # the signals are computed on Chinese bigrams: for another language they say nothing
        outcome, reason = OFFTOPIC, "not chinese"
    page = ranked[offset : offset + limit]
    if outcome == ANSWER:
        return Answer(question, format_extractive(page, start=offset), False, page, r.confidence, latency_ms,
                      "extractive", "", ANSWER, ranked)
    if outcome == RELATED:
        text = RELATED_TEXT + "\n\n" + format_extractive(page, start=offset)
        return Answer(question, text, True, page, r.confidence, latency_ms, "refused", reason, RELATED, ranked)
    text = "" if outcome == EMPTY else NOT_CHINESE_TEXT if reason == "not chinese" else OFFTOPIC_TEXT
    return Answer(question, text, True, [], r.confidence, latency_ms, "refused", reason, outcome, ranked)


def build_messages(question: str, sources: Sequence[Source]) -> list[tuple[str, str]]:
    parts = []
    for src in sources:
        parts.append(f"[{src.clause or '无编号'}] 《{src.title}》 {src.section}\n{src.text}")
    human = "条款：\n" + "\n\n".join(parts) + f"\n\n问题：{question}"
    return [("system", SYSTEM_PROMPT), ("human", human)]


class LLMAnswerError(RuntimeError):
    pass


async def llm_answer(chat_model: Any, question: str, sources: Sequence[Source]) -> str:
    """Ask the chat model; accept only an answer that cites a retrieved clause."""
    reply = await chat_model.ainvoke(build_messages(question, sources))
    text = str(getattr(reply, "content", reply) or "").strip()
    if not text:
        raise LLMAnswerError("empty reply")
    if "依据不足" in text[:10]:
        raise LLMAnswerError("model found the clauses insufficient")
    labels = [s.clause for s in sources if s.clause]
    if labels and not any(re.search(rf"(?<![\d.]){re.escape(lbl)}(?![\d])", text) for lbl in labels):
        raise LLMAnswerError("reply cites none of the retrieved clauses")
    refs = "\n".join(f"· {format_source_heading(s)}" for s in sources)
    return f"{text}\n\n依据：\n{refs}"

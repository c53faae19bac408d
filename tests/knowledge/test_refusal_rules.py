"""The refusal decision's rules, on a tiny lexical index (no model needed)."""
from __future__ import annotations

from bot.knowledge_engine import retrieval
from bot.knowledge_engine.lexical import LexicalIndex
from bot.knowledge_engine.normalize import match_form
from bot.knowledge_engine.retrieval import decide, unknown_identifiers, unknown_terms

CLAUSES = [
    "6.3.1 变压器停电检修时，应断开各侧断路器和隔离开关，并在操作把手上悬挂标示牌。",
    "7.2.4 雷电时禁止进行倒闸操作和更换熔丝工作。",
    "8.1.2 登杆前应检查杆根、基础和拉线是否牢固。",
]
LEX = LexicalIndex(CLAUSES)


def terms(question: str) -> list[str]:
    return unknown_terms(match_form(question), LEX)


def test_a_topic_noun_the_documents_never_mention_is_unknown():
    assert terms("变压器油色谱超多少要停运") == ["色谱"]
    assert terms("变压器保护区是几米") == ["保护区"]


def test_words_the_documents_contain_everyday_nouns_slang_and_question_words_are_not():
    assert terms("变压器停电检修要断开哪些开关") == []  # all in the documents
    assert terms("打雷的时候能倒闸吗") == []  # 时候: an everyday noun, not the topic
    assert terms("带电拆线先拆火线吗") == []  # 火线: slang the synonym map turns into 相线
    assert terms("登杆前要检查哪些地方") == []  # 哪些地方: the question itself
    assert terms("梯子靠墙放多少度") == []  # 靠墙: an ad-hoc compound from the dictionary's long tail


def test_unknown_terms_refuse_only_a_match_that_is_not_strong():
    weak = retrieval.TERM_CONFIDENCE - 0.01
    dense = weak - retrieval.COVERAGE_WEIGHT * 0.1
    refused, _, reason = decide(dense, 0.1, [], ["色谱"])
    assert refused and "色谱" in reason
    assert decide(dense, 0.1, [], [])[0] is False  # the same evidence without an unknown term is answered
    strong = retrieval.TERM_CONFIDENCE + 0.02 - retrieval.COVERAGE_WEIGHT * 0.3
    assert decide(strong, 0.3, [], ["色谱"])[0] is False


def test_unknown_identifiers_refuse_outright():
    assert unknown_identifiers(match_form("XGN15环网柜咋合闸"), LEX) == ["xgn15"]
    assert unknown_identifiers(match_form("10kV线路20mm2的地线"), LEX) == []  # units, not codes
    refused, _, reason = decide(0.99, 0.9, ["xgn15"], [])
    assert refused and "xgn15" in reason

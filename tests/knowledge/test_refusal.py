"""The refusal decision: its signals on a tiny lexical index and its three outcomes (no model needed)."""
from __future__ import annotations

from bot.knowledge_engine.lexical import LexicalIndex
from bot.knowledge_engine.normalize import match_form
from bot.knowledge_engine.refusal import (
    RefusalModel, asks_quantity, decide, not_chinese, states_quantity,
)
from bot.knowledge_engine.retrieval import known_share, unknown_identifiers, unknown_terms
from bot.knowledge_engine.terms import parse_terms

CLAUSES = [
    "6.3.1 变压器停电检修时，应断开各侧断路器和隔离开关，并在操作把手上悬挂标示牌。",
    "7.2.4 雷电时禁止进行倒闸操作和更换熔丝工作。",
    "8.1.2 登杆前应检查杆根、基础和拉线是否牢固。",
]
LEX = LexicalIndex(CLAUSES)
TERMS = parse_terms("设备:\n  火线: 相线\n  拆线: [断线, 拆除]\n")

# P(answerable) rises with dense similarity and with topic coverage: threshold 0.5, off-topic below known 0.4
MODEL = RefusalModel(
    weights={"dense": 2.0, "coverage": 2.0}, bias=0.0, mean={"dense": 0.9, "coverage": 0.5},
    scale={"dense": 0.05, "coverage": 0.25}, threshold=0.5, offtopic_known=0.4,
)


def terms(question: str) -> list[str]:
    return unknown_terms(match_form(question), LEX, TERMS)


def test_a_topic_noun_the_documents_never_mention_is_unknown():
    assert terms("变压器油色谱超多少要停运") == ["色谱"]
    assert terms("变压器保护区是几米") == ["保护区"]


def test_words_the_documents_contain_everyday_nouns_slang_and_question_words_are_not():
    assert terms("变压器停电检修要断开哪些开关") == []  # all in the documents
    assert terms("打雷的时候能倒闸吗") == []  # 时候: an everyday noun, not the topic
    assert terms("带电拆线先拆火线吗") == []  # 火线: slang the term map turns into 相线
    assert terms("登杆前要检查哪些地方") == []  # 哪些地方: the question itself
    assert terms("拉线靠墙能行吗") == []  # 靠墙: an ad-hoc compound from the dictionary's long tail


def test_unknown_identifiers_refuse_outright_even_with_strong_evidence():
    assert unknown_identifiers(match_form("XGN15环网柜咋合闸"), LEX) == ["xgn15"]
    assert unknown_identifiers(match_form("10kV线路20mm2的地线"), LEX) == []  # units, not codes
    d = decide({"dense": 0.99, "coverage": 1.0, "known": 0.9}, ["xgn15"], MODEL)
    assert d.refused and d.outcome == "related" and "xgn15" in d.reason


def test_strong_evidence_is_an_answer_weak_evidence_on_the_folder_topic_is_related():
    strong = decide({"dense": 0.95, "coverage": 0.8, "known": 0.9}, [], MODEL)
    assert strong.outcome == "answer" and not strong.refused and strong.p_answer > 0.5
    weak = decide({"dense": 0.86, "coverage": 0.2, "known": 0.9}, [], MODEL)
    assert weak.outcome == "related" and weak.refused and weak.p_answer < 0.5


def test_weak_evidence_on_a_topic_the_folder_does_not_know_is_off_topic():
    d = decide({"dense": 0.86, "coverage": 0.0, "known": 0.1}, [], MODEL)
    assert d.outcome == "offtopic" and d.refused


def test_known_share_tells_the_folders_subject_from_everyday_life():
    assert known_share(match_form("雷电时能倒闸吗"), LEX) > 0.6
    assert known_share(match_form("食堂晚上几点关门"), LEX) < 0.2


def test_a_quantity_asked_for_must_be_stated_by_the_clause():
    assert asks_quantity("风刮到几级就停") and asks_quantity("井下多少度不能下") and not asks_quantity("能用锉刀吗")
    assert states_quantity("20.6.2 在 6 级及以上的大风……应停止露天高处作业。")
    assert states_quantity("21.3 温度超过 50℃时，不应进行作业")
    assert not states_quantity("20.1.2 凡发现工作人员有饮酒、精神不振时，禁止登高作业。")  # its number is no quantity


def test_a_question_in_a_latin_script_language_is_recognised():
    assert not_chinese("What must be checked before climbing a pole?")
    assert not not_chinese("10kV 线路 SF6 开关") and not not_chinese("XGN15")


def test_the_shipped_model_loads_with_every_signal():
    from bot.knowledge_engine.refusal import FEATURES, default_model

    model = default_model()
    assert set(model.weights) == set(FEATURES) and 0 < model.threshold < 1


def test_nothing_semantically_close_is_never_an_answer():
    from bot.knowledge_engine.refusal import DENSE_FLOOR

    d = decide({"dense": DENSE_FLOOR - 0.005, "coverage": 1.0, "known": 0.9}, [], MODEL)
    assert d.refused and "cosine" in d.reason

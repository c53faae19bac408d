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


def test_a_clause_without_the_kind_of_number_asked_for_cannot_carry_the_answer():
    from bot.knowledge_engine.retrieval import number_type_missing

    metres = ["25.2.5 起重臂与 10kV 带电体的距离不应小于 3.00m。"]
    assert not number_type_missing("吊车离10kv线路多远", metres)
    assert number_type_missing("吊车作业一次收多少钱", metres)  # money asked, metres stated
    assert number_type_missing("线路重合闸一般整定几秒", metres)  # a duration asked
    assert not number_type_missing("吊车能跨越带电线路吗", metres)  # no number asked at all


def test_words_the_folder_never_uses_make_a_question_look_unanswerable():
    from bot.knowledge_engine.lexical import LexicalIndex
    from bot.knowledge_engine.retrieval import unknown_share

    lex = LexicalIndex(["登杆塔前应核对线路名称和杆塔号。", "电能表的接线应由两人进行。"])
    assert unknown_share("居民电价是多少", lex) == 1.0
    assert unknown_share("电能表接线几个人", lex) == 0.0


def test_the_second_pass_puts_the_clause_closest_in_meaning_and_number_first():
    from bot.knowledge_engine.lexical import LexicalIndex
    from bot.knowledge_engine.rerank import FEATURES
    from bot.knowledge_engine.retrieval import Hit, second_pass

    texts = ["工作票应提前一天送达。", "起重臂与带电体的距离不应小于 3.00m。"]
    lex = LexicalIndex(texts)
    hits = [Hit(0, 0.05, dense=0.88), Hit(1, 0.04, dense=0.91)]
    weights = {"prior": 0.5, "dense_gap": 3.0, "ntype": 1.0}
    model = {"weights": [weights.get(f, 0.0) for f in FEATURES], "mean": [0.0] * len(FEATURES), "scale": [1.0] * len(FEATURES)}
    ranked = second_pass(hits, model, dense_hits=[(1, 0.91), (0, 0.88)], lex=lex, lex_query_tokens=["吊车", "多远"],
                         query_match="吊车离带电体多远", texts=texts)
    assert [h.index for h in ranked] == [1, 0]
    # the learned score replaces the fused one
    assert ranked[0].score > ranked[1].score


def test_nothing_semantically_close_to_a_numbered_clause_is_never_an_answer():
    from bot.knowledge_engine.refusal import DENSE_FLOOR

    d = decide({"dense": DENSE_FLOOR - 0.005, "coverage": 1.0, "known": 0.9, "numbered": 1.0}, [], MODEL)
    assert d.refused and "cosine" in d.reason


def test_the_dense_floor_does_not_apply_to_prose_passages():
    from bot.knowledge_engine.refusal import DENSE_FLOOR

    d = decide({"dense": DENSE_FLOOR - 0.005, "coverage": 1.0, "known": 0.9, "numbered": 0.0}, [], MODEL)
    assert "cosine" not in d.reason


def test_word_frequency_over_the_folder_is_counted_per_passage_and_scaled():
    lex = LexicalIndex(["登杆前应检查杆根。", "登杆时应系安全带。", "电能表的接线应由两人进行。"])
    assert lex.word_df("登杆") == 2 and lex.word_df("电能表") == 1 and lex.word_df("光伏") == 0
    assert lex.word_idf("光伏") == 1.0  # no passage has it: the rarest possible
    assert 0 < lex.word_idf("登杆") < lex.word_idf("电能表") < 1.0


def test_topic_words_leave_out_question_words_function_words_and_glued_fragments():
    from bot.knowledge_engine.retrieval import salient_words

    words = [w for w, _ in salient_words(match_form("电能表接线最少要几个人"), LEX, TERMS)]
    assert "电能表" in words and "接线" in words
    assert not {"最少", "几个", "要几"} & set(words)  # an adverb, a number word, a fragment glued to 要
    # a colloquial word carries its standard terms with it
    assert ("火线", ("火线", "相线")) in salient_words(match_form("带电拆火线"), LEX, TERMS)
    # an A-not-A word asks yes or no; it is not what the question is about (sixth pass)
    words = [w for w, _ in salient_words(match_form("电能表接线一个人干行不行"), LEX, TERMS)]
    assert "电能表" in words and "行不行" not in words


def test_a_topic_word_the_folder_has_but_the_best_clause_lacks_is_what_an_adjacent_question_looks_like():
    from bot.knowledge_engine.retrieval import topic_signals

    lex = LexicalIndex([
        "16.4.2 电源侧不停电更换电能表时，直接接入的电能表应将出线负荷断开。",
        "20.1.2 凡发现工作人员有饮酒、精神不振时，禁止登高作业。",
        "5.4.1 检修动力电源箱的支路开关均应加装剩余电流动作保护器。",
    ])
    # answerable: every topic word of the question is in the best clause
    cover, missing, absent = topic_signals(match_form("更换电能表要断开出线负荷吗"), 0, lex)
    assert cover == 1.0 and missing == 0.0 and absent == 0.0
    # adjacent: 检修 is in the folder, not in the metering clause; 检定 is in no passage at all
    cover, missing, absent = topic_signals(match_form("电能表检修后多久检定"), 0, lex)
    assert cover < 1.0 and missing == lex.word_idf("检修") > 0.0 and absent > 0.0


def test_a_time_unit_asked_for_must_be_stated_in_that_unit():
    from bot.knowledge_engine.refusal import asked_time_units
    from bot.knowledge_engine.retrieval import number_type_missing

    assert asked_time_units("党支部书记一届任期几年") == ["years"]
    assert asked_time_units("谈心谈话至少谈多少分钟") == ["minutes"]
    assert asked_time_units("线路票开了好几天") == []  # 好几天: "several days", no question
    yearly = ["党支部委员与党员之间的谈心谈话每年不少于一次。"]
    # 每年 is a duration for the coarse check, not a number of minutes
    assert number_type_missing("谈心谈话一次至少要谈多少分钟", yearly)
    assert not number_type_missing("谈心谈话多久谈一次", yearly)
    # a calendar year is no number of years
    assert number_type_missing("支部书记任期几年", ["该支部于2019年成立。"])
    assert not number_type_missing("支部书记任期几年", ["党支部委员会每届任期三年。"])
    assert not number_type_missing("作业中断几个月要重新考试", ["中断工作连续3个月以上者，应重新学习本规程。"])


def test_clauses_without_the_number_asked_for_are_never_an_answer():
    d = decide({"dense": 0.99, "coverage": 1.0, "known": 0.9, "number_type_missing": 1.0}, [], MODEL)
    assert d.refused and d.outcome == "related" and "number" in d.reason
    assert not decide({"dense": 0.99, "coverage": 1.0, "known": 0.9, "number_type_missing": 0.0}, [], MODEL).refused


def test_an_indefinite_ji_asks_for_no_number():
    from bot.knowledge_engine.refusal import asked_quantity_types, asked_time_units, asks_quantity

    assert asked_quantity_types("一根杆上架了好几回线，挂地线先挂哪根") == []
    assert not asks_quantity("负责人走开了，我们几个还能接着干吗")
    assert not asks_quantity("几十米外有人在吊装")
    assert asked_quantity_types("下电缆井最少几个人") == ["people"]
    # a yes/no question asks yes or no: its 几 means "a few" (sixth pass)
    assert asked_quantity_types(match_form("紧线时能找几个人上去把线压住吗")) == []
    assert not asks_quantity(match_form("拿砂轮机打磨几下，算不算动火"))
    assert asked_quantity_types(match_form("最少几个人，一个人行不行")) == ["people"]  # 最少几 still asks
    assert asked_time_units(match_form("抢修算不算加班，能调休几天")) == ["days"]  # the last part asks the number
    assert asked_quantity_types(match_form("新版补了哪几块内容")) == []  # 哪几块: which parts, not money
    assert asked_quantity_types(match_form("高温津贴一个月发多少")) == ["money"]


def test_working_days_and_a_share_of_the_members_are_numbers_of_their_kind():
    from bot.knowledge_engine.retrieval import number_type_missing

    assert not number_type_missing(match_form("从申请到拿到方案用了几天"), ["仅用了8个工作日。"])
    assert not number_type_missing(match_form("支委会到多少人才能开"), ["党支部委员会会议须有半数以上委员到会。"])
    assert not number_type_missing(match_form("要多少人同意"), ["须经到会党员三分之二以上同意。"])


def test_in_a_prose_passage_the_sentence_on_the_topic_must_state_the_number_asked():
    from bot.knowledge_engine.retrieval import question_word_forms, sentence_number_missing, states_asked_number

    def missing(question: str, passages: list[str]) -> bool:
        q = match_form(question)
        return sentence_number_missing(q, passages, question_word_forms(q), lambda t: states_asked_number(q, t))

    article = "6月22日，公司召开推进会。余山供电所党支部书记介绍了示范点的做法。"
    assert missing("余山供电所党支部是哪年成立的", [article])  # a date, but not in the sentence on the branch
    assert not missing("余山供电所党支部是哪年成立的", ["余山供电所党支部成立于2015年。"])
    assert not missing("推进会是几号开的", [article])  # the date is in the sentence on the meeting
    assert not missing("余山供电所党支部在哪", [article])  # no number asked
    assert not missing("预备党员多久转正", [article])  # no passage on the topic: the clause-level check decides


def test_no_topic_sentence_with_the_number_asked_is_never_an_answer():
    d = decide({"dense": 0.99, "coverage": 1.0, "known": 0.9, "sentence_number_missing": 1.0}, [], MODEL)
    assert d.outcome == "related" and "number" in d.reason


def test_seconds_and_amperes_asked_for_must_be_stated():
    from bot.knowledge_engine.refusal import asked_quantity_types, asked_time_units
    from bot.knowledge_engine.retrieval import number_type_missing

    assert asked_time_units("重合闸时间一般整定几秒") == ["seconds"]
    assert "current" in asked_quantity_types("零序保护定值一般设多少安")
    assert "current" not in asked_quantity_types("离带电体要保持多少安全距离")
    assert number_type_missing("重合闸时间一般整定几秒", ["试验时间为 1min，以无击穿为合格。"])
    assert not number_type_missing("加压要持续几秒", ["加压持续 60s 后降压。"])

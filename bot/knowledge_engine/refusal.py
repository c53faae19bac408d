"""The answer/refusal decision: three outcomes from signals that hold for a reason.

Outcomes (``Answer.outcome``)
-----------------------------
* ``answer``   — a confident answer: the best clauses are shown as the answer.
* ``related``  — the question is about the folder's subject but no clause answers
  it with confidence: the closest clauses are shown under 「没有找到直接规定，以下条款
  可能相关」, clearly marked as not an answer.
* ``offtopic`` — the folder is not about this at all (canteen hours, pay day, a
  question not in Chinese): a short plain reply, no clauses.
* ``empty``    — nothing to ask (only punctuation or emoji).

Only ``answer`` counts as answered: ``Answer.refused`` (and ``"refused"`` in
``ask --json``) is true for the other three, so "false refusal" means an
answerable question that did not get ``answer``.

Signals (each computed for any question, each with a reason)
-------------------------------------------------------------
* ``dense``      cosine of the question with the best dense hit (semantic closeness);
* ``agree``      1 when the dense and the lexical ranking both have the best clause in
  their top three: two independent methods point at the same clause;
* ``coverage``   IDF-weighted share of the question's topic bigrams (and expansion
  terms) found in the best clause: does the best clause contain the topic?
* ``coverage3``  the same, best of the top three clauses shown;
* ``topic_words`` share of the question's content words (jieba words) that one of the
  clauses shown contains, as written or as their standard term: the topic at word level;
* ``known``      IDF-weighted share of the question's own topic bigrams that occur
  anywhere in the folder: is the folder about this at all?
* ``margin``     best dense cosine minus the mean of ranks 2–10: does one clause
  stand out from the rest, or is everything equally (un)related?
* ``unknown_term`` 1 when a topic noun of the question appears nowhere in the
  folder (色谱, 保护区): the documents cannot be about it;
* ``number_missing`` 1 when the question asks for a quantity (几米, 多久, 几级) and
  the best clause states no number with a unit: it cannot carry the answer;
* ``unknown_share`` share of the question's established nouns that the folder never
  contains (电价, 执照, 铅封): graded, so a question made mostly of words the folder
  lacks looks unanswerable even when its best clause shares a heading with it;
* ``number_type_missing`` 1 when the question asks for a kind of number (money, a
  date, a duration, metres, volts, people…) that none of the clauses shown states, or
  names the time unit it wants (几年, 多少分钟) and none states a number in that unit
  (每年 or a calendar year is a number, not this answer; fourth pass of issue 13);
* ``sentence_number_missing`` 1 when the best passage is prose (not a numbered clause), the
  question asks for a kind of number, and in none of the passages shown does the sentence that
  carries the question's topic words state one (answer_type.py; fifth pass of issue 13);
* ``missing_idf`` the highest IDF (scaled to [0, 1]) of a topic word of the question
  (jieba words, no function words, question words, everyday or common folder words;
  mapped through the term file) that the folder uses somewhere but the best clause and
  its headings do not: adjacent questions (电能表, 新装, 蓄电池, 整定 on a clause about
  something else) name their topic in a word the folder has, yet the clause shown lacks it;
* ``absent_share`` IDF-weighted share of those topic words that no passage contains in
  any form (过流, 取证, 工单): another field's jargon — or a colloquial word the term file
  does not know yet, which is why it is a weighted signal and not a rule.

``topic_cover`` (the IDF-weighted share of the topic words the best clause contains) is
computed as well and shown by ``bench/retrieval.py --features``; it is not a model input:
leave-one-set-out it changed nothing over ``coverage``/``topic_words`` (third pass of issue 13).
Since the fourth pass the model reads eight of the signals (``FEATURES``): ``agree``,
``coverage3``, ``topic_words``, ``known`` and ``unknown_share`` are computed and shown but
carry no weight (cross-validated on three times the data, they changed nothing).

The answer probability is a logistic model over these signals, fitted on all
development sets together and reported by leave-one-set-out and leave-one-batch-out
cross-validation
(``bench/retrieval.py --fit`` writes ``refusal_model.json``; the file records the
sets, the threshold and the cross-validated figures).  Outright rules stay for
what no weighting should overrule: an unknown device model or service number
(``XGN15``, ``95598``) is never answered, nor a question whose best clause is a numbered
clause and whose best dense cosine is under ``DENSE_FLOOR`` (not applied to prose passages),
nor a question that asks for a kind of number none of the clauses shown states
(``number_type_missing``: they cannot carry the answer, however close they are; fourth
pass of issue 13 — on the 454 development questions it fired on 37 to refuse and on one
answerable question whose answering clause was not in the top ten anyway), nor, for prose passages,
a question whose number kind no topic sentence states (``sentence_number_missing``; fifth pass: on
the 561 development questions it adds 3 to refuse, 0 answerable).  A question that is not answered is
``offtopic`` when its topic is mostly unknown to the folder (``known`` below the
model's ``offtopic_known``), else ``related``.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MODEL_PATH = Path(__file__).with_name("refusal_model.json")
# The model's inputs (fourth pass of issue 13): eight signals.  ``agree``, ``coverage3``, ``topic_words``, ``known``
# and ``unknown_share`` are still computed and shown (``known`` also makes the offtopic cut) but are no inputs:
# with all sets as development data, leaving them out changed the cross-validated figures by one question or
# none, in either direction (bench/data/README.md, fourth pass).
FEATURES = (
    "dense", "coverage", "margin", "unknown_term", "number_missing", "number_type_missing", "missing_idf", "absent_share",
)

ANSWER, RELATED, OFFTOPIC, EMPTY = "answer", "related", "offtopic", "empty"
# Outright floor on the best dense cosine, for numbered clauses only: everyday questions against a small
# folder of rules ("明天天气怎么样" → a weather clause) sit at 0.85–0.87 while sharing a word with some
# clause, which the linear model can outweigh.  Prose passages (articles, excerpts) embed lower for their
# answerable questions too (0.86–0.88): the same floor refused a quarter of them, so it does not apply when
# the best passage is not a numbered clause (second pass of issue 13; leave-one-set-out showed no change on
# the regulation sets with or without it).
DENSE_FLOOR = 0.875
_NUMBERED = re.compile(r"^\s*(\d+(\.\d+)+|第\S{1,4}条)")


def numbered_clause(text: str) -> bool:
    return _NUMBERED.match(text) is not None

_ASKS_QUANTITY = re.compile(r"几|多少|多远|多久|多长|多高|多大|多深|多宽|多重|多粗|多厚|啥时候|什么时候|哪天")
_CN_DIGITS = "一二三四五六七八九十两百半"
_QUANTITY = re.compile(
    rf"(\d|[{_CN_DIGITS}])\s*(mm|cm|km|m|kv|v|kn|n|h|min|s|℃|°|%|级|人|名|次|年|月|天|日|周|小时|分钟|米|倍|片|个|根|步|档|层|遍)",
    re.I,
)
_LEADING_NUMBER = re.compile(r"^\s*\d+(\.\d+)*\s*")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


# 几 that asks nothing: 好几回 / 好几天 ("several"), 我们几个 ("the few of us"), 十几 / 几十 ("a dozen or so", "dozens").
# Removed before a question is read for the number it asks (fifth pass of issue 13: 「一根杆上架了好几回线，挂地线先挂
# 上面的还是下面的」 read as asking for a number of times).
_INDEFINITE_JI = re.compile(r"(?<=[好们十])几|几(?=[十百千万])")
# A question whose last part is a yes/no question (…吗, 行不行, 算不算) asks "yes or no", not a number: its 几 means
# "a few" (「能找几个人上去把它压住吗」, 「打磨几下，算不算动火」, 「接地线断了几股还能用吗」).  Not after 最少/至少/最多
# (「最少几个人，一个人行不行」 still asks the number), and not when an earlier part asks it (「算不算加班，能调休几天」:
# the last part has no yes/no mark).  Sixth pass of issue 13.
_CLAUSE_SEP = re.compile(r"[,;。!?、\s]+")
A_NOT_A = re.compile(r"(.)[不没]\1")  # 行不行, 算不算, 有没有: asks yes or no
_YES_NO = re.compile(r"[吗么嘛]$|" + A_NOT_A.pattern)
_BOUND_JI = re.compile(r"(?<!最少)(?<!至少)(?<!最多)几")


def yes_no_question(question_match: str) -> bool:
    """Is the question's last part a yes/no question (ends with 吗, or asks 行不行 / 算不算 / 有没有)?"""
    parts = [p for p in _CLAUSE_SEP.split(question_match) if p]
    return bool(parts) and _YES_NO.search(parts[-1]) is not None


def definite(question_match: str) -> str:
    """The question without indefinite uses of 几 (好几, 们几, 十几, 几十; any 几 of a yes/no question but 最少几 …)."""
    question_match = _INDEFINITE_JI.sub("", question_match)
    if "几" in question_match and yes_no_question(question_match):
        question_match = _BOUND_JI.sub("", question_match)
    return question_match


def asks_quantity(question_match: str) -> bool:
    return _ASKS_QUANTITY.search(definite(question_match)) is not None


def states_quantity(clause_text: str) -> bool:
    """Does the clause state a number with a unit (its own clause number does not count)?"""
    return _QUANTITY.search(_LEADING_NUMBER.sub("", clause_text)) is not None


# What kind of number a question asks for, and the units a clause states that kind of number in.  A
# question about money, a year or seconds is not answered by a clause that states only metres: the clause
# can be on the topic and still not carry the answer (adjacent questions on tariffs, settings, dates).
_NUM = rf"(\d|[{_CN_DIGITS}])\s*"
QUANTITY_TYPES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "money": (re.compile(r"多少钱|(?<!哪)几块|钱|费用|电费|奖金|补贴|津贴|补助|工资|薪|价格|电价|罚款|经费"), re.compile(_NUM + r"(元|万元|块)")),
    "date": (re.compile(r"哪年|哪一年|几号|哪天|几月份|哪个月|什么时候成立|哪年成立"), re.compile(r"\d{4}\s*年|\d+\s*月\s*\d+\s*日|\d+\s*号")),
    "duration": (
        re.compile(r"多久|多长时间|几天|几年|几个月|几小时|几个小时|几分钟|几秒|多少天|多少年|多少分钟|周期|有效期"),
        re.compile(_NUM + r"(h|min|s|小时|分钟|秒|天|日|个?工作日|年|个月|周|季)|每(年|月|季|天|日|周|学期)|半年|一年|当天|次日"),
    ),
    "times": (re.compile(r"几次|几回|多少次|几遍"), re.compile(_NUM + r"(次|回|遍)|每(年|月|季|天|日|周)")),
    "people": (
        re.compile(r"几个人|几人|几名|多少人|最少几个|至少几个"),
        re.compile(_NUM + r"(人|名)|两人|二人|专人|一人|半数|过半|[一二三四五六七八九十\d]\s*分之\s*[一二三四五六七八九十\d]"),
    ),
    "length": (
        re.compile(r"多远|几米|多高|多深|多宽|多长(?!时间)|多粗|多大截面|离.{0,6}多少"),
        re.compile(_NUM + r"(mm|cm|km|m|米|毫米|厘米|公里|倍)(?![a-z])|表\s*\d+", re.I),
    ),
    "voltage": (re.compile(r"几伏|多少伏|电压.{0,8}(多少|范围)"), re.compile(_NUM + r"(v|kv|伏|千伏)", re.I)),
    "current": (re.compile(r"电流.{0,8}(多少|多大)|\d+\s*ma|多少安(?!全)|几安(?![全装])", re.I), re.compile(_NUM + r"(a|ma|安)(?![a-z])", re.I)),
    "pressure": (re.compile(r"气压|压力.{0,6}(多少|多大)"), re.compile(_NUM + r"(mpa|kpa|pa)", re.I)),
    "share": (re.compile(r"率|比例|百分之|几成"), re.compile(_NUM + r"(%|％)|百分之|\d+\s*成")),
    "level": (re.compile(r"几级"), re.compile(_NUM + r"级")),
}


def asked_quantity_types(question_match: str) -> list[str]:
    """The kinds of number a question asks for (a question word such as 多少/几 must be present)."""
    question_match = definite(question_match)
    if not asks_quantity(question_match) and not re.search(r"多大|哪年|比例|范围", question_match):
        return []
    return [name for name, (asks, _) in QUANTITY_TYPES.items() if asks.search(question_match)]


def states_quantity_of(kind: str, clause_text: str) -> bool:
    return QUANTITY_TYPES[kind][1].search(_LEADING_NUMBER.sub("", clause_text)) is not None


# The unit a question names for a duration or a period (几年, 多少分钟): a clause that gives the time in another
# unit (每年 for "how many minutes", 2019年 for "every how many years") states a number, not this answer.  The
# coarse ``duration`` kind above accepts any of them; these ask for the unit itself.
_UNIT_NUM = r"(?<![\d.])(\d{1,3}(\.\d+)?|[一二三四五六七八九十两半]{1,3})\s*"
TIME_UNITS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "years": (re.compile(r"(?<!好)几年|多少年"), re.compile(_UNIT_NUM + r"(个)?(年|周年)(?!级)")),
    "months": (re.compile(r"(?<!好)几个月|多少个月"), re.compile(_UNIT_NUM + r"个?月(?!\s*\d)")),
    "days": (re.compile(r"(?<!好)几天|多少天|(?<!好)几日|几个工作日"), re.compile(_UNIT_NUM + r"(个工作日|天|日)(?!\s*\d)")),
    "hours": (re.compile(r"(?<!好)几(个)?小时|多少(个)?小时|几个钟头"), re.compile(_UNIT_NUM + r"(个)?(h|小时|钟头)", re.I)),
    "minutes": (re.compile(r"(?<!好)几分钟|多少分钟"), re.compile(_UNIT_NUM + r"(min|分钟)", re.I)),
    "seconds": (re.compile(r"(?<!好)几秒|多少秒"), re.compile(_UNIT_NUM + r"(s|秒)(?![a-z])", re.I)),
}


def asked_time_units(question_match: str) -> list[str]:
    """The time units a question names with its question word (几年, 多少分钟; not 好几天, "several days")."""
    question_match = definite(question_match)
    return [name for name, (asks, _) in TIME_UNITS.items() if asks.search(question_match)]


def states_time_unit(unit: str, clause_text: str) -> bool:
    return TIME_UNITS[unit][1].search(_LEADING_NUMBER.sub("", clause_text)) is not None


def not_chinese(question: str) -> bool:
    """A question written in a Latin-script language: no CJK character, at least two words."""
    return not _CJK.search(question) and len(_LATIN_WORD.findall(question)) >= 2


@dataclass
class RefusalModel:
    weights: dict[str, float]
    bias: float
    mean: dict[str, float]
    scale: dict[str, float]
    threshold: float  # answer when P(answerable) ≥ threshold
    offtopic_known: float  # not answered and known < this → offtopic

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias + sum(
            w * (float(features.get(name, 0.0)) - self.mean[name]) / self.scale[name] for name, w in self.weights.items()
        )
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @classmethod
    def from_dict(cls, data: dict) -> "RefusalModel":
        return cls(
            weights=dict(data["weights"]), bias=float(data["bias"]), mean=dict(data["mean"]),
            scale=dict(data["scale"]), threshold=float(data["threshold"]), offtopic_known=float(data["offtopic_known"]),
        )


@lru_cache(maxsize=1)
def default_model() -> RefusalModel:
    return RefusalModel.from_dict(json.loads(MODEL_PATH.read_text("utf-8")))


@dataclass
class Decision:
    outcome: str
    p_answer: float  # the model's probability that the folder answers the question
    reason: str = ""

    @property
    def refused(self) -> bool:
        return self.outcome != ANSWER


def decide(
    features: dict[str, float], unknown_identifiers: list[str] | None = None, model: RefusalModel | None = None
) -> Decision:
    model = model or default_model()
    p = model.probability(features)
    if unknown_identifiers:
        why = f"the documents never mention {', '.join(unknown_identifiers)}"
    elif features.get("numbered", 0.0) and features.get("dense", 0.0) < DENSE_FLOOR:
        why = f"nothing semantically close (cosine {features.get('dense', 0.0):.3f} < {DENSE_FLOOR})"
    elif features.get("number_type_missing", 0.0):
        why = "the clauses shown state no number of the kind asked"
    elif features.get("sentence_number_missing", 0.0):
        why = "the sentences of the passages shown on the topic state no number of the kind asked"
    elif p >= model.threshold:
        return Decision(ANSWER, p)
    else:
        why = f"P(answerable) {p:.2f} < {model.threshold:.2f}"
    if features.get("known", 0.0) < model.offtopic_known:
        return Decision(OFFTOPIC, p, f"off-topic: {why}; known {features.get('known', 0.0):.2f}")
    return Decision(RELATED, p, why)

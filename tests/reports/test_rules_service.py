"""The rule a hazard breaks, service side: the plain value (bot/services/item_rules.py), the lookup off the
event loop, and the report service storing it with the hazard across a return and resubmission."""
from __future__ import annotations

import logging
import threading
from dataclasses import replace

from bot.knowledge_engine.types import Source
from bot.services import reports
from bot.services.item_rules import EXCERPT_CHARS, EngineRuleLookup, ItemRule, excerpt_of, find_rule
from tests.reports.helpers import actor, make_world, sample_input
from tests.reports.test_service import NOV_20

RULE = ItemRule("电力安全工作规程（第3部分）", "20.3.1", "杆塔作业应使用工具袋")


def test_rule_from_the_draft_is_checked_and_bounded():
    assert ItemRule.from_dict(RULE.as_dict()) == RULE
    assert ItemRule.from_dict({"title": "规程", "clause": "5.3.5"}) == ItemRule("规程", "5.3.5", "")
    for bad in (None, "20.3.1", [], {"title": "规程"}, {"title": "规程", "clause": ""}, {"title": 1, "clause": "1.1"},
                {"title": "规程", "clause": "1.1", "excerpt": 5}):
        assert ItemRule.from_dict(bad) is None, bad
    long = ItemRule.from_dict({"title": "规" * 500, "clause": "1." * 50, "excerpt": "字" * 500})
    assert len(long.title) == 200 and len(long.clause) == 40 and len(long.excerpt) == EXCERPT_CHARS
    assert RULE.citation == "《电力安全工作规程（第3部分）》 20.3.1"


def test_excerpt_drops_the_clause_number_and_is_cut():
    assert excerpt_of("20.3.1 杆塔作业应使用\n工具袋。", "20.3.1") == "杆塔作业应使用 工具袋。"
    cut = excerpt_of("字" * 200)
    assert len(cut) == EXCERPT_CHARS and cut.endswith("…")


def test_engine_lookup_turns_a_confident_match_into_a_rule(monkeypatch):
    from bot.knowledge_engine import rules

    source = Source("c1", "电力安全工作规程（第3部分）", "20 高处作业", "20.3.1",
                    "20.3.1 杆塔作业应使用工具袋，较大的工具应固定在牢固的构件上。", 0.9, "part3.txt")
    answers = {"扳手扔下来": rules.RuleMatch(source, 0.95, 0.97)}
    monkeypatch.setattr(rules, "closest_rule", lambda engine, text: answers.get(text))
    lookup = EngineRuleLookup(object())
    assert lookup("扳手扔下来") == ItemRule("电力安全工作规程（第3部分）", "20.3.1",
                                           "杆塔作业应使用工具袋，较大的工具应固定在牢固的构件上。")
    assert lookup("食堂饭菜太咸") is None


async def test_find_rule_runs_off_the_loop_and_never_raises(caplog):
    threads = []

    def lookup(text: str) -> ItemRule:
        threads.append(threading.get_ident())
        return RULE

    assert await find_rule(lookup, "扳手扔下来") == RULE
    assert threads and threads[0] != threading.get_ident()
    assert await find_rule(None, "扳手扔下来") is None
    assert await find_rule(lookup, "   ") is None and len(threads) == 1  # nothing to look up

    def broken(text: str) -> ItemRule:
        raise ValueError("index closed")

    with caplog.at_level(logging.WARNING, logger="fieldmate.rules"):
        assert await find_rule(broken, "扳手扔下来") is None
    assert "ValueError: index closed" in caplog.text


def test_form_data_round_trip_keeps_the_rule():
    data = {"month": "2026-11", "summary": "小结", "hazards": [
        {"description": "扳手扔下来", "photos": [], "rule": RULE.as_dict()},
        {"description": "门锁坏了", "photos": [], "rule": None},
        {"description": "旧草稿", "photos": []},  # a draft from before rules: no key at all
        {"description": "坏数据", "photos": [], "rule": {"clause": 7}},
    ]}
    parsed = reports.ReportInput.from_form(data)
    assert [h.rule for h in parsed.hazards] == [RULE, None, None, None]


async def test_submit_stores_the_rule_and_a_resubmission_keeps_or_clears_it(session):
    w = await make_world(session)
    data = sample_input()
    data.hazards[0] = replace(data.hazards[0], rule=RULE)
    report = (await reports.submit(session, w.li, data, form_token="t1", now=NOV_20)).report
    first, second = report.hazards
    assert (first.rule_title, first.rule_clause, first.rule_excerpt) == (RULE.title, RULE.clause, RULE.excerpt)
    assert second.rule_clause is None
    form = reports.report_to_form(report)
    assert form["hazards"][0]["rule"] == RULE.as_dict() and form["hazards"][1]["rule"] is None

    await reports.review(session, actor(w.sec_a), report.id, approve=False, comment="请核实")
    edited = reports.ReportInput.from_form({**form, "hazards": [
        {**form["hazards"][0], "rule": None},  # the member removed it while editing
        {**form["hazards"][1], "rule": ItemRule("规程", "5.3.5").as_dict()},
    ]})
    again = (await reports.submit(session, w.li, edited, form_token="t2", now=NOV_20)).report
    assert [h.id for h in again.hazards] == [first.id, second.id]  # same hazards, updated
    assert again.hazards[0].rule_clause is None and again.hazards[0].rule_title is None
    assert (again.hazards[1].rule_title, again.hazards[1].rule_clause, again.hazards[1].rule_excerpt) == (
        "规程", "5.3.5", None)


# --- violations: the same value, the same storage ----------------------------------------------------------

HELMET = ItemRule("电力安全工作规程（第3部分）", "6.2.4", "任何人进入生产现场应正确佩戴安全帽")


def test_violation_form_data_round_trip_keeps_the_rule():
    data = {"month": "2026-11", "summary": "小结", "violations": [
        {"description": "未戴安全帽", "photos": [], "rule": HELMET.as_dict()},
        {"description": "围栏没封闭", "photos": [], "rule": None},
        {"description": "旧草稿", "photos": []},  # a draft from before violation rules: no key at all
        {"description": "坏数据", "photos": [], "rule": ["6.2.4"]},
    ]}
    parsed = reports.ReportInput.from_form(data)
    assert [v.rule for v in parsed.violations] == [HELMET, None, None, None]


async def test_submit_stores_a_violations_rule_and_a_resubmission_keeps_or_clears_it(session):
    w = await make_world(session)
    data = sample_input()
    data.hazards[0] = replace(data.hazards[0], rule=RULE)
    data.violations = [replace(data.violations[0], rule=HELMET), reports.ViolationInput(description="围栏没封闭")]
    report = (await reports.submit(session, w.li, data, form_token="t1", now=NOV_20)).report
    first, second = report.violations
    assert (first.rule_title, first.rule_clause, first.rule_excerpt) == (HELMET.title, HELMET.clause, HELMET.excerpt)
    assert second.rule_clause is None and report.hazards[0].rule_clause == RULE.clause
    form = reports.report_to_form(report)
    assert [v["rule"] for v in form["violations"]] == [HELMET.as_dict(), None]  # what the review renders

    await reports.review(session, actor(w.sec_a), report.id, approve=False, comment="请核实")
    edited = reports.ReportInput.from_form({**form, "violations": [
        {**form["violations"][0], "rule": None},  # the member removed it while editing
        {**form["violations"][1], "rule": ItemRule("规程", "5.3.5").as_dict()},
    ]})
    again = (await reports.submit(session, w.li, edited, form_token="t2", now=NOV_20)).report
    assert again.violations[0].rule_clause is None and again.violations[0].rule_title is None
    assert (again.violations[1].rule_title, again.violations[1].rule_clause, again.violations[1].rule_excerpt) == (
        "规程", "5.3.5", None)
    assert again.hazards[0].rule_clause == RULE.clause  # the hazard's rule is untouched


async def test_an_engine_lookup_runs_in_the_engines_query_pool_with_the_questions(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from bot.knowledge_engine import rules

    names = []

    def closest(engine, text):
        names.append(threading.current_thread().name)
        return None

    monkeypatch.setattr(rules, "closest_rule", closest)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="knowledge-query")

    class Engine:
        query_pool = pool

    try:
        assert await find_rule(EngineRuleLookup(Engine()), "扳手扔下来") is None
    finally:
        pool.shutdown()
    assert names and names[0].startswith("knowledge-query")

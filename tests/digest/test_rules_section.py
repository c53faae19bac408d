"""The digest's 「违反最多的规定」 section: the rules the hazards of the branch's month break most often, counted
by hand on tests/digest/world.py plus rules set on its hazards; in /digest and in the Excel file."""
from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select

from bot.features import digest_sections
from bot.services.digest import Scope, build_digest, month_period, week_of
from bot.services.digest_sections import rules_section
from storage.models import Hazard, Report
from tests.digest.world import NOW, TZ, make_world, utc

DOC = "电力安全工作规程（第3部分）"


async def with_rules(session):
    """李海波 (approved): 20.3.1, 20.1.2; 王强 (submitted): 20.3.1 and five more rules of one hazard each;
    陈书记's returned report and 孙丽's (branch B) break 20.1.2 and 王强's October report 5.3.5: not counted."""
    world = await make_world(session)
    hazards = {h.description: h for h in (await session.scalars(select(Hazard))).all()}

    def rule(hazard: Hazard, clause: str, excerpt: str | None = "条款原文") -> Hazard:
        hazard.rule_title, hazard.rule_clause, hazard.rule_excerpt = DOC, clause, excerpt
        return hazard

    rule(hazards["李海波发现的隐患1"], "20.3.1", "杆塔作业应使用工具袋，较大的工具应固定在牢固的构件上，不准随便乱放")
    rule(hazards["李海波发现的隐患2"], "20.1.2")
    rule(hazards["王强发现的隐患1"], "20.3.1", None)
    rule(hazards["陈书记发现的隐患1"], "20.1.2")
    rule(hazards["孙丽发现的隐患1"], "20.1.2")
    wang_report = await session.scalar(select(Report).where(Report.member_id == world.wang.id))
    for n, clause in enumerate(("6.5", "6.4", "6.3", "6.2", "6.1"), start=1):
        wang_report.hazards.append(rule(Hazard(position=n, description=f"王强的隐患{clause}"), clause))
    session.add(Report(member_id=world.wang.id, branch_id=world.a.id, month="2026-10", status="approved",
                       first_submitted_at=utc(2026, 10, 20, 9, 0), submitted_at=utc(2026, 10, 20, 9, 0),
                       summary="十月", hazards=[rule(Hazard(position=0, description="十月的隐患"), "5.3.5")]))
    await session.commit()
    return world


def lines(section) -> list[dict]:
    return [fact.params for fact in section.facts[1:]]


async def test_most_broken_rules_of_the_month_with_counts(session):
    world = await with_rules(session)
    section = await rules_section(session, Scope(world.a.id, week_of(NOW.date().replace(day=16)), TZ, NOW))
    assert section.title == "Most-broken rules"
    assert section.facts[0].params == {"month": "2026-11"}
    assert [(p["rank"], p["rule"], p["count"]) for p in lines(section)] == [
        (1, f"《{DOC}》 20.3.1「杆塔作业应使用工具袋，较大的工具应固定在牢固的构件上，不准…」", 2),
        (2, f"《{DOC}》 20.1.2「条款原文」", 1),  # 陈书记's (returned) and branch B's do not count
        (3, f"《{DOC}》 6.1「条款原文」", 1),
        (4, f"《{DOC}》 6.2「条款原文」", 1),
        (5, f"《{DOC}》 6.3「条款原文」", 1),  # five at most
    ]
    october = await rules_section(session, Scope(world.a.id, month_period("2026-10"), TZ, NOW))
    assert [(p["rule"], p["count"]) for p in lines(october)] == [(f"《{DOC}》 5.3.5「条款原文」", 1)]


async def test_no_section_while_no_hazard_has_a_rule(session):
    world = await make_world(session)
    scope = Scope(world.a.id, week_of(NOW.date().replace(day=16)), TZ, NOW)
    assert await rules_section(session, scope) is None
    digest = await build_digest(session, scope, digest_sections())
    assert "rules" not in [s.key for s in digest.sections] and digest.missing == []


async def test_digest_and_excel_show_the_most_broken_rules(harness, app, session):
    world = await with_rules(session)
    app.clock.set(NOW)
    (text, *_rest) = await harness.send(world.chen.telegram_id, "/digest 上周")
    assert "违反最多的规定" in text and "2026-11报告中的隐患违反最多的规定" in text
    assert f"1. 《{DOC}》 20.3.1「杆塔作业应使用工具袋" in text and "— 2条隐患" in text
    assert text.index("违反最多的规定") > text.index("四不伤害")  # after the reports section (registry order)

    await harness.send(world.chen.telegram_id, "/export 2026-11")
    (document,) = [c for c in harness.bot.session.calls if type(c).__name__ == "SendDocument"]
    book = load_workbook(io.BytesIO(document.document.data))
    rows = list(book["违反的规定"].iter_rows(values_only=True))
    assert rows[0] == ("文件", "条款号", "条款内容", "隐患数", "违章数")  # violations: tests/digest/test_violation_rules.py
    assert [row[1:4:2] for row in rows[1:]] == [("20.3.1", 2), ("20.1.2", 1), ("6.1", 1), ("6.2", 1), ("6.3", 1),
                                                ("6.4", 1), ("6.5", 1)]
    assert {row[4] for row in rows[1:]} == {0}  # no violation has a rule in this world


async def test_english_digest(harness, app, session):
    world = await with_rules(session)
    app.clock.set(NOW)
    await harness.send(world.chen.telegram_id, "/language")
    await harness.press(world.chen.telegram_id, "lang:en")
    (text, *_rest) = await harness.send(world.chen.telegram_id, "/digest 上周")
    assert "Most-broken rules" in text and "— hazards: 2" in text

"""The digest's 「违反最多的规定」 counts violations as well as hazards: the world of tests/digest/test_rules_section.py
(hazards with rules) plus violations with rules, counted by hand; in /digest and in the Excel file."""
from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select

from bot.services.digest import Scope, month_period, week_of
from bot.services.digest_sections import rules_section
from storage.models import Report, Violation
from tests.digest.test_rules_section import DOC, lines, with_rules
from tests.digest.world import NOW, TZ, make_world

HELMET = "任何人进入生产现场应正确佩戴安全帽"


def violation(description: str, clause: str, excerpt: str | None = "条款原文") -> Violation:
    return Violation(description=description, rule_title=DOC, rule_clause=clause, rule_excerpt=excerpt)


async def report_of(session, member, month: str = "2026-11") -> Report:
    return await session.scalar(select(Report).where(Report.member_id == member.id, Report.month == month))


async def with_violation_rules(session):
    """Hazards as in with_rules (November, branch A, counted: 20.3.1 ×2, 20.1.2, 6.1 … 6.5; October: 5.3.5), and
    violations: 李海波 (approved) 20.1.2 and 6.2.4, 王强 (submitted) 20.3.1, 6.2.4 and one without a rule;
    陈书记's returned report and 孙丽's (branch B) 6.2.4: not counted; 王强's October report 5.3.5.
    November: 20.3.1 = 2 hazards + 1 violation; 20.1.2 = 1 + 1; 6.2.4 = 0 + 2; 6.1 … 6.5 = 1 + 0."""
    world = await with_rules(session)
    li, wang, chen, sun = [await report_of(session, m) for m in (world.li, world.wang, world.chen, world.sun)]
    october = await report_of(session, world.wang, "2026-10")
    li.violations += [violation("李海波看到的违章1", "20.1.2"), violation("李海波看到的违章2", "6.2.4", HELMET)]
    wang.violations += [violation("王强看到的违章1", "20.3.1", None), violation("王强看到的违章2", "6.2.4", HELMET),
                        Violation(description="王强看到的违章3")]
    chen.violations.append(violation("陈书记看到的违章", "6.2.4"))
    sun.violations.append(violation("孙丽看到的违章", "6.2.4"))
    october.violations.append(violation("十月的违章", "5.3.5"))
    await session.commit()
    return world


async def test_the_digest_counts_hazards_and_violations_together(session):
    world = await with_violation_rules(session)
    section = await rules_section(session, Scope(world.a.id, week_of(NOW.date().replace(day=16)), TZ, NOW))
    assert section.facts[0].msgid == "The rules the hazards and violations in {month}'s reports break most often:"
    assert [(f.msgid, f.params) for f in section.facts[1:]] == [
        ("{rank}. {rule} — hazards: {hazards}, violations: {violations}",
         {"rank": 1, "rule": f"《{DOC}》 20.3.1「杆塔作业应使用工具袋，较大的工具应固定在牢固的构件上，不准…」",
          "hazards": 2, "violations": 1}),
        ("{rank}. {rule} — hazards: {hazards}, violations: {violations}",
         {"rank": 2, "rule": f"《{DOC}》 20.1.2「条款原文」", "hazards": 1, "violations": 1}),
        ("{rank}. {rule} — violations: {count}",  # 陈书记's (returned) and branch B's do not count
         {"rank": 3, "rule": f"《{DOC}》 6.2.4「{HELMET}」", "count": 2}),
        ("{rank}. {rule} — hazards: {count}", {"rank": 4, "rule": f"《{DOC}》 6.1「条款原文」", "count": 1}),
        ("{rank}. {rule} — hazards: {count}", {"rank": 5, "rule": f"《{DOC}》 6.2「条款原文」", "count": 1}),
    ]
    october = await rules_section(session, Scope(world.a.id, month_period("2026-10"), TZ, NOW))
    assert [(p["rule"], p["hazards"], p["violations"]) for p in lines(october)] == [(f"《{DOC}》 5.3.5「条款原文」", 1, 1)]


async def test_violations_alone_make_the_section(session):
    world = await make_world(session)
    scope = Scope(world.a.id, week_of(NOW.date().replace(day=16)), TZ, NOW)
    assert await rules_section(session, scope) is None
    li = await report_of(session, world.li)
    li.violations.append(violation("李海波看到的违章", "6.2.4", HELMET))
    await session.commit()
    section = await rules_section(session, scope)
    assert section.facts[0].msgid == "The rules the violations in {month}'s reports break most often:"
    assert [(f.msgid, f.params) for f in section.facts[1:]] == [
        ("{rank}. {rule} — violations: {count}", {"rank": 1, "rule": f"《{DOC}》 6.2.4「{HELMET}」", "count": 1})]


async def test_digest_and_excel_show_hazards_and_violations(harness, app, session):
    world = await with_violation_rules(session)
    app.clock.set(NOW)
    (text, *_rest) = await harness.send(world.chen.telegram_id, "/digest 上周")
    assert "2026-11报告中的隐患和违章违反最多的规定" in text
    assert f"1. 《{DOC}》 20.3.1「杆塔作业应使用工具袋" in text and "— 2条隐患、1条违章" in text
    assert f"3. 《{DOC}》 6.2.4「{HELMET}」 — 2条违章" in text

    await harness.send(world.chen.telegram_id, "/export 2026-11")
    (document,) = [c for c in harness.bot.session.calls if type(c).__name__ == "SendDocument"]
    book = load_workbook(io.BytesIO(document.document.data))
    rows = list(book["违反的规定"].iter_rows(values_only=True))
    assert rows[0] == ("文件", "条款号", "条款内容", "隐患数", "违章数")
    assert [(row[1], row[3], row[4]) for row in rows[1:]] == [
        ("20.3.1", 2, 1), ("20.1.2", 1, 1), ("6.2.4", 0, 2), ("6.1", 1, 0), ("6.2", 1, 0), ("6.3", 1, 0),
        ("6.4", 1, 0), ("6.5", 1, 0)]


async def test_english_digest(harness, app, session):
    world = await with_violation_rules(session)
    app.clock.set(NOW)
    await harness.send(world.chen.telegram_id, "/language")
    await harness.press(world.chen.telegram_id, "lang:en")
    (text, *_rest) = await harness.send(world.chen.telegram_id, "/digest 上周")
    assert "The rules the hazards and violations in 2026-11's reports break most often:" in text
    assert "— hazards: 2, violations: 1" in text and "— violations: 2" in text  # counts, not plural nouns ("1 violations")

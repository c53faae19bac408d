"""The rule a violation breaks, on the /report form through the real dispatcher, mirroring the hazard's
(tests/reports/test_rules.py): looked up when the violation is typed (off the event loop, again when it is typed
again), shown on the violation list and the summary with one remove button per rule, stored with the violation,
shown to the secretary on review. The button carries the list kind; one of a hazard never touches a violation."""
from __future__ import annotations

import logging
import threading

import pytest

from bot.services.item_rules import ItemRule
from handlers.ui.callbacks import RuleButton, rule_button_clause
from tests.reports.form_steps import (
    add_hazard,
    add_violation,
    fill_until_hazards,
    finish_after_violations,
    press,
)
from tests.reports.helpers import LI, SEC_A
from tests.reports.test_rules import TITLE, FakeLookup, button_texts, the_report

HELMET = ItemRule(TITLE, "6.2.4", "任何人进入生产现场（办公室、控制室、值班室和检修班组室除外），应正确佩戴安全帽。")


class ViolationLookup(FakeLookup):
    """The hazard tests' fake lookup (扳手 → 20.3.1, 喝酒 → 20.1.2), also knowing the helmet rule."""

    def __call__(self, description: str) -> ItemRule | None:
        found = super().__call__(description)
        return HELMET if found is None and "安全帽" in description else found


@pytest.fixture
def lookup(app) -> ViolationLookup:
    fake = ViolationLookup()
    app.rule_lookup = fake
    return fake


async def at_violations(harness):
    await fill_until_hazards(harness, LI)
    return await press(harness, LI, "没有隐患")


async def test_violation_rule_shown_removed_by_the_member_stored_and_shown_on_review(harness, app, world, lookup):
    await fill_until_hazards(harness, LI)
    await add_hazard(harness, LI, "杆上的人把扳手直接扔下来", photos=0)
    await press(harness, LI, "下一步")
    listing = await add_violation(harness, LI, "有人未戴安全帽进入现场")
    assert f"相关规定：《{TITLE}》 6.2.4「任何人进入生产现场" in listing[-1]
    assert "去掉第1条违章的相关规定" in " ".join(button_texts(harness))  # removable from the list too
    listing = await add_violation(harness, LI, "有人中午喝酒下午照样上杆", photo_unique="v2")
    assert "20.1.2" in listing[-1] and "去掉第2条违章的相关规定" in " ".join(button_texts(harness))
    await add_violation(harness, LI, "围栏没有封闭")  # no confident rule: none shown
    summary = await finish_after_violations(harness, LI)
    assert "第6/6步" in summary[-1]
    assert all(clause in summary[-1] for clause in ("20.3.1", "6.2.4", "20.1.2"))
    assert summary[-1].count("相关规定") == 3
    buttons = button_texts(harness)
    assert [b for b in buttons if "去掉" in b] == [
        "🗑 去掉第1条隐患的相关规定", "🗑 去掉第1条违章的相关规定", "🗑 去掉第2条违章的相关规定"]
    assert lookup.threads and threading.get_ident() not in lookup.threads  # off the event loop

    removed = await press(harness, LI, "去掉第1条违章")
    assert "已去掉第1条违章的相关规定" in removed[0]  # the alert
    assert "第6/6步" in removed[-1] and "6.2.4" not in removed[-1]
    assert "20.3.1" in removed[-1] and "20.1.2" in removed[-1]  # the hazard's and the other violation's stay
    assert [b for b in button_texts(harness) if "去掉" in b] == ["🗑 去掉第1条隐患的相关规定", "🗑 去掉第2条违章的相关规定"]

    assert any("提交成功" in text for text in await press(harness, LI, "确认提交"))
    report = await the_report(app)
    assert report.hazards[0].rule_clause == "20.3.1"  # the hazard's rule is untouched
    first, second, third = report.violations
    assert first.rule_clause is None and first.rule_title is None and first.rule_excerpt is None
    assert (second.rule_title, second.rule_clause) == (TITLE, "20.1.2") and second.rule_excerpt.startswith("凡发现")
    assert len(second.photos) == 1  # the photo step keeps the rule found at the description
    assert third.rule_clause is None

    await harness.send(SEC_A, "/review")
    text = "\n".join(await press(harness, SEC_A, "李海波"))
    violations = text[text.index("违章"):]
    assert f"相关规定：《{TITLE}》 20.1.2「凡发现工作人员有饮酒" in violations and "6.2.4" not in text


async def test_removed_from_the_violation_list(harness, app, world, lookup):
    await at_violations(harness)
    await add_violation(harness, LI, "有人未戴安全帽进入现场")
    removed = await press(harness, LI, "去掉第1条违章")
    assert "已去掉第1条违章的相关规定" in removed[0]
    assert "违章" in removed[-1] and "6.2.4" not in removed[-1] and "相关规定" not in removed[-1]
    summary = await finish_after_violations(harness, LI)
    assert "相关规定" not in summary[-1] and not any("去掉" in b for b in button_texts(harness))


async def test_typing_the_violation_again_looks_the_rule_up_again(harness, world, lookup):
    await at_violations(harness)
    await press(harness, LI, "添加违章")
    await harness.send(LI, "围栏没有封闭")
    back = await press(harness, LI, "上一步")
    assert "描述" in back[-1] and "违章" in back[-1]
    await harness.send(LI, "有人把扳手从杆上扔下来")  # the description, changed
    listing = await press(harness, LI, "没有照片")
    assert "扳手" in listing[-1] and "20.3.1" in listing[-1]
    assert lookup.calls == ["围栏没有封闭", "有人把扳手从杆上扔下来"]


async def test_without_a_knowledge_engine_a_violation_has_no_rule_and_no_error(harness, app, world):
    assert app.knowledge is None and app.item_rule_lookup() is None
    await at_violations(harness)
    listing = await add_violation(harness, LI, "有人中午喝酒下午照样上杆")
    assert "喝酒" in listing[-1] and "相关规定" not in listing[-1]
    await finish_after_violations(harness, LI)
    await press(harness, LI, "确认提交")
    assert (await the_report(app)).violations[0].rule_clause is None


async def test_a_failing_lookup_keeps_the_violation_without_a_rule_and_logs_why(harness, app, world, caplog):
    def broken(description: str) -> ItemRule | None:
        raise RuntimeError("index is being rebuilt")

    app.rule_lookup = broken
    await at_violations(harness)
    with caplog.at_level(logging.WARNING, logger="fieldmate.rules"):
        listing = await add_violation(harness, LI, "有人中午喝酒下午照样上杆")
    assert "喝酒" in listing[-1] and "相关规定" not in listing[-1]
    assert [r.getMessage() for r in caplog.records if r.name == "fieldmate.rules"] == [
        "rule lookup failed for a violation description (12 chars): RuntimeError: index is being rebuilt"]


async def test_stale_forged_or_foreign_violation_rule_buttons_change_nothing(harness, app, world, lookup, caplog):
    await fill_until_hazards(harness, LI)
    await add_hazard(harness, LI, "杆上的人把扳手直接扔下来", photos=0)
    await press(harness, LI, "下一步")
    await add_violation(harness, LI, "有人中午喝酒下午照样上杆")
    on_list = harness.button_data("去掉第1条违章")
    refused = "这个按钮属于之前的步骤，请使用最新一条消息。"
    with caplog.at_level(logging.INFO):
        # the hazard's rule, from the violation list, which shows no hazard buttons
        forged = RuleButton(kind="hazards", step="violations", index=0, clause="20.3.1")
        assert await harness.press(LI, forged.pack()) == [refused]
        await finish_after_violations(harness, LI)
        for forged in (RuleButton(kind="violations", step="confirm", index=0, clause="20.3.1"),  # another rule
                       RuleButton(kind="violations", step="confirm", index=3, clause="20.1.2"),  # no such violation
                       RuleButton(kind="hazards", step="confirm", index=0, clause="20.1.2")):  # the other list
            assert await harness.press(LI, forged.pack()) == [refused], forged
        assert await harness.press(LI, on_list) == [refused]  # the violation list's button, now on the summary
    assert "rule button refused" in caplog.text
    real = harness.button_data("去掉第1条违章")
    assert "已经提交或已取消" in (await harness.press(SEC_A, real))[0]  # someone else: their own form, none
    assert "私聊" in (await harness.press(LI, real, chat_id=-100, chat_type="group"))[0]
    kept = await harness.press(LI, real)  # both rules were still there: the member's own button removes one
    assert "已去掉第1条违章的相关规定" in kept[0] and "20.1.2" not in kept[-1] and "20.3.1" in kept[-1]


def test_the_longest_rule_button_fits_telegrams_64_bytes():
    for clause in ("20.3.1.4.5.6.7.8.9.10.11.12.13", "第二百三十四条第五款第六项之规定", "甲" * 60, "1:2:3"):
        carried = rule_button_clause(clause)
        assert carried and ":" not in carried
        packed = RuleButton(kind="violations", step="violations", index=99, clause=carried).pack()
        assert len(packed.encode()) <= 64, packed
        assert RuleButton.unpack(packed).clause == carried

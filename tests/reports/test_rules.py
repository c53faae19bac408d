"""The rule a hazard breaks, on the /report form through the real dispatcher: looked up when the hazard is typed
(off the event loop, again when the text is typed again), shown on the hazard list and the summary with one
remove button per rule, stored with the hazard, shown to the secretary on review. A fake lookup is injected
through App (the real engine's lookup is tested in tests/knowledge/test_rules.py)."""
from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy import select

from bot.services.item_rules import ItemRule
from handlers.ui.callbacks import RuleButton
from storage.models import Report
from tests.reports.form_steps import add_hazard, fill_until_hazards, finish_after_hazards, press
from tests.reports.helpers import LI, SEC_A

TITLE = "电力安全工作规程（第3部分）"
THROWN = ItemRule(TITLE, "20.3.1", "杆塔作业应使用工具袋，较大的工具应固定在牢固的构件上")
DRINK = ItemRule(TITLE, "20.1.2", "凡发现工作人员有饮酒、精神不振时，禁止登高作业。")


class FakeLookup:
    """Finds a rule by a key word; records what it was asked and on which thread."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.threads: set[int] = set()

    def __call__(self, description: str) -> ItemRule | None:
        self.calls.append(description)
        self.threads.add(threading.get_ident())
        if "扳手" in description:
            return THROWN
        if "喝酒" in description:
            return DRINK
        return None


@pytest.fixture
def lookup(app) -> FakeLookup:
    fake = FakeLookup()
    app.rule_lookup = fake
    return fake


async def the_report(app) -> Report:
    async with app.sessionmaker() as session:
        return await session.scalar(select(Report))


def button_texts(harness) -> list[str]:
    return [button.text for row in harness.last_keyboard().inline_keyboard for button in row]


async def test_rule_shown_removed_by_the_member_stored_and_shown_on_review(harness, app, world, lookup):
    await fill_until_hazards(harness, LI)
    listing = await add_hazard(harness, LI, "杆上的人把扳手直接扔下来", photos=0)
    assert f"相关规定：《{TITLE}》 20.3.1「杆塔作业应使用工具袋" in listing[-1]
    assert "去掉第1条隐患的相关规定" in " ".join(button_texts(harness))  # removable from the list too
    await add_hazard(harness, LI, "班组有人中午喝酒下午照样上杆", photos=0)
    await add_hazard(harness, LI, "台区配电箱门锁损坏", photos=0)  # no confident rule: none shown
    summary = await finish_after_hazards(harness, LI)
    assert "第6/6步" in summary[-1]
    assert "20.3.1" in summary[-1] and "20.1.2" in summary[-1] and summary[-1].count("相关规定") == 2
    buttons = button_texts(harness)
    assert any("去掉第1条" in b for b in buttons) and any("去掉第2条" in b for b in buttons)
    assert not any("去掉第3条" in b for b in buttons)
    assert lookup.calls == ["杆上的人把扳手直接扔下来", "班组有人中午喝酒下午照样上杆", "台区配电箱门锁损坏",
                            "有人未戴安全帽进入现场"]  # the violation is looked up too (no rule found for it)
    assert threading.get_ident() not in lookup.threads  # the engine's CPU work runs off the event loop

    removed = await press(harness, LI, "去掉第1条")
    assert "已去掉第1条隐患的相关规定" in removed[0]  # the alert
    assert "第6/6步" in removed[-1] and "20.3.1" not in removed[-1] and "20.1.2" in removed[-1]
    assert not any("去掉第1条" in b for b in button_texts(harness))

    assert any("提交成功" in text for text in await press(harness, LI, "确认提交"))
    report = await the_report(app)
    first, second, third = report.hazards
    assert first.rule_clause is None and first.rule_title is None and first.rule_excerpt is None
    assert (second.rule_title, second.rule_clause) == (TITLE, "20.1.2") and second.rule_excerpt.startswith("凡发现")
    assert third.rule_clause is None

    await harness.send(SEC_A, "/review")
    screen = await press(harness, SEC_A, "李海波")
    text = "\n".join(screen)
    assert f"相关规定：《{TITLE}》 20.1.2「凡发现工作人员有饮酒" in text and "20.3.1" not in text


async def test_typing_the_hazard_again_looks_the_rule_up_again(harness, world, lookup):
    await fill_until_hazards(harness, LI)
    await press(harness, LI, "添加隐患")
    await harness.send(LI, "台区配电箱门锁损坏")
    back = await press(harness, LI, "上一步")
    assert "描述隐患" in back[-1]
    await harness.send(LI, "杆上的人把扳手扔下来")  # the description, changed
    await harness.send(LI, "余山村3号杆")
    await press(harness, LI, "没有照片")
    listing = await press(harness, LI, "一般")
    assert "扳手" in listing[-1] and "20.3.1" in listing[-1]
    assert lookup.calls == ["台区配电箱门锁损坏", "杆上的人把扳手扔下来"]


async def test_without_a_knowledge_engine_there_is_no_rule_and_no_error(harness, app, world):
    assert app.knowledge is None and app.rule_lookup is None and app.item_rule_lookup() is None
    await fill_until_hazards(harness, LI)
    listing = await add_hazard(harness, LI, "杆上的人把扳手直接扔下来", photos=0)
    assert "扳手" in listing[-1] and "相关规定" not in listing[-1]
    summary = await finish_after_hazards(harness, LI)
    assert "相关规定" not in summary[-1] and not any("去掉" in b for b in button_texts(harness))
    await press(harness, LI, "确认提交")
    assert (await the_report(app)).hazards[0].rule_clause is None


async def test_a_failing_lookup_keeps_the_hazard_without_a_rule_and_logs_why(harness, app, world, caplog):
    def broken(description: str) -> ItemRule | None:
        raise RuntimeError("index is being rebuilt")

    app.rule_lookup = broken
    await fill_until_hazards(harness, LI)
    with caplog.at_level(logging.WARNING, logger="fieldmate.rules"):
        listing = await add_hazard(harness, LI, "杆上的人把扳手直接扔下来", photos=0)
    assert "扳手" in listing[-1] and "相关规定" not in listing[-1]
    assert [r.getMessage() for r in caplog.records if r.name == "fieldmate.rules"] == [
        "rule lookup failed for a hazard description (12 chars): RuntimeError: index is being rebuilt"]


async def test_stale_forged_or_foreign_rule_buttons_change_nothing(harness, app, world, lookup):
    await fill_until_hazards(harness, LI)
    await add_hazard(harness, LI, "杆上的人把扳手直接扔下来", photos=0)
    await finish_after_hazards(harness, LI)
    for forged in (RuleButton(kind="hazards", step="confirm", index=0, clause="20.1.2"),  # another rule
                   RuleButton(kind="hazards", step="confirm", index=5, clause="20.3.1"),  # no such hazard
                   RuleButton(kind="hazards", step="hazards", index=0, clause="20.3.1")):  # an earlier screen
        refused = await harness.press(LI, forged.pack())
        assert refused == ["这个按钮属于之前的步骤，请使用最新一条消息。"]
    real = harness.button_data("去掉第1条")
    assert "已经提交或已取消" in (await harness.press(SEC_A, real))[0]  # someone else: their own form, none
    group = await harness.press(LI, real, chat_id=-100, chat_type="group")
    assert "私聊" in group[0]
    kept = await harness.press(LI, real)  # the rule was still there: the member's own button removes it
    assert "已去掉第1条隐患的相关规定" in kept[0] and "20.3.1" not in kept[-1]

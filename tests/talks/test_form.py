"""The /talk form through the real dispatcher: refused input keeps the draft, forged buttons change nothing,
the form survives a new dispatcher (a restart), and `fieldmate talks list` prints the quarter."""
from __future__ import annotations

from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.app import build_dispatcher
from storage.models import Talk
from tests.support.harness import Harness
from tests.talks.helpers import SEC_A, WANG


async def press(harness, user, text):
    return await harness.press(user, harness.button_data(text))


async def test_refused_people_and_dates_keep_the_draft(harness, app, world):
    await harness.send(SEC_A, "/talk")
    await press(harness, SEC_A, "谈心谈话")
    for member, reason in [(world.sec_a, "不能和自己谈话"), (world.zhao, "不在您的支部"), (world.gone, "已停用")]:
        await harness.press(SEC_A, f"tf:pick:people:{member.id}")  # forged: these are not in the list
        assert reason in harness.bot.session.calls[-1].text
    assert "肖新" in " ".join(b.text for row in harness.last_keyboard().inline_keyboard for b in row)
    await press(harness, SEC_A, "肖新")
    await press(harness, SEC_A, "下一步")
    too_early = await harness.send(SEC_A, "2026-01-01")  # before the new hire joined
    assert any("加入，谈话日期不能更早" in text for text in too_early)
    assert any("不能记录未来的谈话" in text for text in await harness.send(SEC_A, "2099-01-01"))
    assert any("这不是日期" in text for text in await harness.send(SEC_A, "上周"))
    await press(harness, SEC_A, "今天")
    await press(harness, SEC_A, "不填地点")
    assert any("请用文字回答" in text for text in await harness.send(SEC_A, "   "))  # an empty topic
    topic = await harness.send(SEC_A, "入职安全交底")
    assert "第6/8步" in topic[-1]
    await press(harness, SEC_A, "没有关切")
    await press(harness, SEC_A, "无需记录")
    await press(harness, SEC_A, "添加跟进事项")
    await harness.send(SEC_A, "带新员工熟悉台区")
    await harness.press(SEC_A, f"tf:pick:f_owner:{world.zhao.id}")  # an owner from another branch
    assert "必须是本支部的在册成员" in harness.bot.session.calls[-1].text

    restarted = Harness(build_dispatcher(app, background=False), harness.bot)  # the draft lives in the database
    await press(restarted, SEC_A, "肖新")
    listing = await press(restarted, SEC_A, "7天后")
    assert "带新员工熟悉台区 — 责任人：肖新" in listing[-1]
    await press(restarted, SEC_A, "下一步")
    saved = await press(restarted, SEC_A, "确认保存")
    assert any("已保存" in text for text in saved)
    async with app.sessionmaker() as session:
        assert await session.scalar(select(func.count(Talk.id))) == 1


async def test_a_member_without_the_flag_gets_no_form_and_no_button(harness, world):
    refused = await harness.send(WANG, "/talk")
    assert "支部书记、支部委员和党员记录" in refused[-1]
    await harness.send(WANG, "/help")
    keyboard = harness.bot.session.calls[-1].reply_markup.keyboard
    assert not any("谈心谈话" in button.text for row in keyboard for button in row)
    await harness.send(SEC_A, "/help")
    keyboard = harness.bot.session.calls[-1].reply_markup.keyboard
    assert any("谈心谈话" in button.text for row in keyboard for button in row)


def test_cli_lists_a_quarter(tmp_path, monkeypatch):
    from bot.cli import app as cli

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    assert runner.invoke(cli, ["branch", "add", "余山供电所"]).exit_code == 0
    listed = runner.invoke(cli, ["talks", "list", "--branch", "余山供电所", "--quarter", "2026Q4"])
    assert listed.exit_code == 0, listed.output
    assert "余山供电所 2026Q4: 0 talks (0 confirmed), 0/0 members covered" in listed.output
    bad = runner.invoke(cli, ["talks", "list", "--branch", "余山供电所", "--quarter", "2026Q5"])
    assert bad.exit_code == 1 and "talk_bad_quarter" in bad.output


async def test_an_idle_talk_record_gets_one_reminder_then_is_discarded(harness, app, world):
    from datetime import timedelta

    from schedulers.forms import scan_idle_forms
    from storage.models import Delivery, FsmRecord

    await harness.send(SEC_A, "/talk")
    async with app.sessionmaker() as session:
        started = await session.scalar(select(FsmRecord.updated_at))
    assert await scan_idle_forms(app, now=started + timedelta(days=5, hours=1)) == (1, 0)
    assert await scan_idle_forms(app, now=started + timedelta(days=7, hours=1)) == (0, 1)
    async with app.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 0
        texts = (await session.scalars(select(Delivery.text).where(Delivery.key.like("talk-form-%")))).all()
    assert len(texts) == 2 and "/talk" in texts[0]

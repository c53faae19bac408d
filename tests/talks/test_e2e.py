"""End to end over real long polling against the fake Telegram server, with the real delivery sender and the
bot's clock moved: a secretary logs a talk with a follow-up, the member confirms it, the owner is reminded
on the due date and marks it done, the quarter's coverage is right; 「待谈」 names the new hire, the member
with two missed reports and the one with a violation, with reasons; what each role can read; nothing of a
talk reaches a group chat."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.services import talks
from bot.simulator.driver import SimDriver
from bot.simulator.fake_api import FakeTelegramServer, SimUser
from schedulers.talks import scan_follow_ups
from storage.models import AuditEntry, Delivery, Report, TalkFollowUp, Violation
from tests.reports.test_e2e import running_bot, step  # one bot process with the sender; act, then wait
from tests.support.waiting import wait_until
from tests.talks.helpers import ADMIN, LI, SEC_A, SEC_B, WANG, XIAO, ZHAO

secretary = SimUser(id=SEC_A, first_name="书记", last_name="陈")
li = SimUser(id=LI, first_name="海波", last_name="李")
PRIVATE_NOTE, OPEN_NOTE = "家里老人住院想调班", "安全带老化需要更换"
HELP_TITLE = "我能为您做什么"


async def answer(driver) -> str:
    """The text of the bot's answer to the latest button press, once it came (the toast or alert)."""
    await wait_until(lambda: driver.callback_answer() is not None, 15, message="the button press was never answered")
    return driver.callback_answer().get("text") or ""


async def reports_for_the_due_list(app, world):
    """Wei (committee) saw a violation in this month's report; Wang filed one of the last three months."""
    now = app.clock.utc_naive()
    today = app.local_now().date()
    first = today.replace(day=1)
    last_month = (first - timedelta(days=1)).strftime("%Y-%m")
    async with app.sessionmaker() as session:
        session.add(Report(member_id=world.wei.id, branch_id=world.branch_a.id, month=first.strftime("%Y-%m"),
                           summary="s", first_submitted_at=now, submitted_at=now,
                           violations=[Violation(position=0, description="未验电就挂接地线")]))
        session.add(Report(member_id=world.wang.id, branch_id=world.branch_a.id, month=last_month, summary="s",
                           first_submitted_at=now - timedelta(days=20), submitted_at=now - timedelta(days=20)))
        await session.commit()


async def log_the_talk(driver, due_text):
    await step(driver, SEC_A, driver.send(secretary, "/talk"), "第1/8步")
    await step(driver, SEC_A, driver.press(secretary, "谈心谈话"), "第2/8步")
    await step(driver, SEC_A, driver.send(secretary, "海"), "姓名含「海」")  # search by name
    await step(driver, SEC_A, driver.press(secretary, "李海波"), "已选：李海波")
    await step(driver, SEC_A, driver.press(secretary, "下一步"), "第3/8步")
    await step(driver, SEC_A, driver.send(secretary, "2099-01-01"), "不能记录未来的谈话")
    await step(driver, SEC_A, driver.press(secretary, "今天"), "第4/8步")
    await step(driver, SEC_A, driver.send(secretary, "所会议室"), "第5/8步")
    await step(driver, SEC_A, driver.send(secretary, "近期工作和家庭情况"), "第6/8步")
    await step(driver, SEC_A, driver.press(secretary, "添加关切"), "哪一类")
    await step(driver, SEC_A, driver.press(secretary, "生活"), "对方反映了什么")
    await step(driver, SEC_A, driver.send(secretary, PRIVATE_NOTE), "谁可以查看")
    await step(driver, SEC_A, driver.press(secretary, "仅书记可见"), "1项")
    await step(driver, SEC_A, driver.press(secretary, "添加关切"), "哪一类")
    await step(driver, SEC_A, driver.press(secretary, "安全"), "对方反映了什么")
    await step(driver, SEC_A, driver.send(secretary, OPEN_NOTE), "谁可以查看")
    await step(driver, SEC_A, driver.press(secretary, "记录人、书记和管理员"), "2项")
    await step(driver, SEC_A, driver.press(secretary, "下一步"), "第7/8步")
    await step(driver, SEC_A, driver.send(secretary, "很" * 600), "500字的上限")  # over-long: kept, not lost
    await step(driver, SEC_A, driver.send(secretary, "下周调整班次，尽快换安全带"), "第8/8步")
    await step(driver, SEC_A, driver.press(secretary, "添加跟进事项"), "需要做什么")
    await step(driver, SEC_A, driver.send(secretary, "申请更换安全带"), "由谁负责")
    await step(driver, SEC_A, driver.press(secretary, "李海波"), "完成期限")
    await step(driver, SEC_A, driver.send(secretary, due_text), "申请更换安全带 — 责任人：李海波")
    summary = await step(driver, SEC_A, driver.press(secretary, "下一步"), "请核对谈话记录")
    assert PRIVATE_NOTE in summary.text and "仅书记可见" in summary.text
    confirm_msg, confirm = driver.find_button(SEC_A, "确认保存")
    first = driver.server.push_callback(secretary, confirm_msg.message_id, confirm.data)  # a double tap
    second = driver.server.push_callback(secretary, confirm_msg.message_id, confirm.data)
    await driver.settle(second)
    await driver.settle(first)
    await driver.wait_for(SEC_A, "已保存")


async def test_talk_follow_up_reminder_done_coverage_due_list_and_privacy(app, world):
    await reports_for_the_due_list(app, world)
    today = app.local_now().date()
    due = today + timedelta(days=2)
    async with FakeTelegramServer() as server:
        driver = SimDriver(server, quiet=0.05, timeout=15)
        for user in (secretary, li, WANG, XIAO, SEC_B, ZHAO, ADMIN):
            driver.user(user)
        group = server.add_group("余山供电所班组", [secretary, li, WANG])
        async with running_bot(app, server):
            await log_the_talk(driver, due.strftime("%m-%d"))
            async with app.sessionmaker() as session:
                [item] = (await session.scalars(select(TalkFollowUp))).all()
                assert item.due_date == due
            talk_id = item.talk_id

            # the participant confirms with one tap (the notice came through the sender)
            await driver.wait_for(LI, "记录了与您的一次谈话")
            await driver.press(li, "确认参加")
            assert "已确认" in await answer(driver)
            await driver.press(li, "确认参加")  # a second tap changes nothing
            assert "已经确认过" in await answer(driver)

            # 「待谈」 with reasons (before the clock moves: later a new quarter may begin); one tap starts /talk prefilled
            await step(driver, SEC_A, driver.send(secretary, "/talks"), "覆盖")
            listing = await step(driver, SEC_A, driver.press(secretary, "待谈"), "目前有")
            lines = {line.split(":")[0].strip("• "): line for line in listing.text.splitlines()}
            assert "入职，尚未进行入职谈话" in lines["肖新"]
            assert "最近3个月中有2个月未提交月度报告" in lines["王强"]
            assert "报告中有违章" in lines["魏委员"]
            assert "李海波" not in lines  # talked with this quarter, the secretary's talk of the year done
            await step(driver, SEC_A, driver.press(secretary, "与肖新谈话"), "第3/8步")  # kind and person chosen
            await step(driver, SEC_A, driver.send(secretary, "/cancel"), "已取消")

            # the clock moves to the due date: the owner is reminded once
            assert await scan_follow_ups(app) == (0, 0)
            app.clock.set(datetime.combine(due, datetime.min.time(), tzinfo=app.settings.tz) + timedelta(hours=9))
            assert await scan_follow_ups(app) == (1, 0)
            assert await scan_follow_ups(app) == (0, 0)
            reminder = await driver.wait_for(LI, "今天到期")
            assert "申请更换安全带" in reminder.text and PRIVATE_NOTE not in reminder.text
            await step(driver, LI, driver.press(li, "标记已完成"), "做了什么")
            await step(driver, LI, driver.send(li, "已领用新安全带"), "跟进事项已完成")

            # coverage of the talk's quarter (named: the due date may already be in the next one)
            quarter = talks.quarter_of(today).label
            overview = await step(driver, SEC_A, driver.send(secretary, f"/talks {quarter}"), "覆盖")
            assert "覆盖：2/5人已谈话（2人已确认）" in overview.text and "党员2/3人" in overview.text
            assert "开展谈话：1次（1次已全部确认）" in overview.text and "未完成的跟进事项：0项" in overview.text

            await check_privacy(app, driver, talk_id)
            await check_nothing_in_groups(app, driver, group, talk_id)


async def check_privacy(app, driver, talk_id):
    open_data = f"tk:open:{talk_id}"
    # the secretary (the author): everything, 「仅书记可见」 included
    shown = await step(driver, SEC_A, driver.press_data(secretary, driver.last(SEC_A).message_id, open_data), "主题")
    assert PRIVATE_NOTE in shown.text and OPEN_NOTE in shown.text
    # the participant: date, kind, follow-ups; no notes
    mine = await step(driver, LI, driver.send(li, "/talks"), "您的谈话")
    assert "✓" in mine.text
    shown = await step(driver, LI, driver.press(li, "📄"), "谈话记录由支部书记保管")
    assert PRIVATE_NOTE not in shown.text and OPEN_NOTE not in shown.text and "申请更换安全带" in shown.text
    # the admin: the notes but not the secretary-only concern, and the view is audited
    await step(driver, ADMIN, driver.send(ADMIN, "/talks"), "全部支部")
    await step(driver, ADMIN, driver.press(ADMIN, "余山供电所"), "覆盖")
    shown = await step(driver, ADMIN, driver.press(ADMIN, "📄"), "主题")
    assert OPEN_NOTE in shown.text and PRIVATE_NOTE not in shown.text
    async with app.sessionmaker() as session:
        audits = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "talk.view_notes"))).all()
        assert [a.target_id for a in audits] == [talk_id]
    # a member who was not there, another branch's member and secretary: a forged button shows nothing
    for stranger in (WANG, ZHAO, SEC_B):
        answer_to = await step(driver, stranger, driver.send(stranger, "/help"), HELP_TITLE)
        got = await driver.press_data(stranger, answer_to.message_id, open_data)
        assert not any(PRIVATE_NOTE in m.text or OPEN_NOTE in m.text for m in got)
        assert "无权查看" in await answer(driver)
        got = await driver.press_data(stranger, answer_to.message_id, f"tk:confirm:{talk_id}")
        assert "无权查看" in await answer(driver)
    # someone else's follow-up cannot be closed by a forged button
    got = await driver.press_data(WANG, driver.last(WANG).message_id, "tk:done:1")
    assert "不由您负责" in await answer(driver)
    # the other branch's secretary sees nothing of branch A in /talks
    other = await step(driver, SEC_B, driver.send(SEC_B, "/talks"), "城关供电所")
    assert "李海波" not in other.text and "申请更换安全带" not in other.text


async def check_nothing_in_groups(app, driver, group, talk_id):
    """Commands and buttons in a group get a pointer to the private chat; no message to a group carries a talk."""
    for user in (secretary, li):
        for command in ("/talk", "/talks"):
            since = driver.mark()
            await step(driver, group.id, driver.send(user, command, chat=group), "私聊")
            assert all("私聊" in m.text for m in driver.messages(group.id, since))
    await driver.press_data(secretary, driver.last(group.id).message_id, f"tk:open:{talk_id}", chat=group)
    assert "私聊" in await answer(driver)
    said = " ".join(m.text for m in driver.history(group.id))
    for secret in (PRIVATE_NOTE, OPEN_NOTE, "申请更换安全带", "李海波", "近期工作"):
        assert secret not in said
    async with app.sessionmaker() as session:
        assert (await session.scalars(select(Delivery).where(Delivery.chat_id < 0))).all() == []

"""Review, return/resubmit, corrective actions and access control through the real dispatcher."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.services import outbox, points
from bot.services.reports import deadline
from storage.models import CorrectiveAction, Question, Report, ReportStatusChange
from tests.reports.form_steps import (
    add_hazard,
    fill_until_hazards,
    finish_after_hazards,
    photo,
    press,
)
from tests.reports.helpers import LI, SEC_A, SEC_B, WANG, ZHAO


async def file_report(harness, user=LI, hazards=1):
    await fill_until_hazards(harness, user)
    for index in range(hazards):
        await add_hazard(harness, user, f"隐患{index + 1}", photos=2)
    await finish_after_hazards(harness, user)
    await press(harness, user, "确认提交")


async def the_report(app) -> Report:
    async with app.sessionmaker() as session:
        return await session.scalar(select(Report))


async def delivery(app, key):
    async with app.sessionmaker() as session:
        return await outbox.status_of(session, key)


async def open_first_pending(harness, secretary=SEC_A):
    listing = await harness.send(secretary, "/review")
    return listing, await press(harness, secretary, "李海波")


async def test_secretary_reviews_with_photos_and_approves(harness, app, world):
    await file_report(harness, hazards=2)
    listing, screen = await open_first_pending(harness)
    assert "待审核报告</b>：1份" in listing[0]
    assert any("拉线" not in t and "隐患1" in t and "填报人：李海波" in t for t in screen)
    album = [c for c in harness.bot.session.calls if type(c).__name__ == "SendMediaGroup"]
    assert len(album) == 1 and len(album[0].media) == 4
    approved = await press(harness, SEC_A, "通过")
    assert any("已通过" in t for t in approved)
    report = await the_report(app)
    assert report.status == "approved"
    notice = await delivery(app, f"report-approved:{report.id}:1")
    assert notice.chat_id == LI and "审核通过" in notice.text
    on_time = app.local_now().date() <= deadline(report.month)  # filed late early in a month: no on-time points
    async with app.sessionmaker() as session:
        assert await points.total(session, world.li.id) == (5 if on_time else 0) + 2 * 2


async def test_return_with_comment_then_member_edits_and_resubmits_the_same_record(harness, app, world):
    await file_report(harness)
    await open_first_pending(harness)
    prompt = await press(harness, SEC_A, "退回")
    assert "必填" in prompt[0]
    sticker = {"file_id": "st", "file_unique_id": "st", "type": "regular", "width": 1, "height": 1,
               "is_animated": False, "is_video": False}
    assert "文字" in (await harness.send(SEC_A, None, sticker=sticker))[0]
    await harness.send(SEC_A, "请补充隐患的具体位置")
    report = await the_report(app)
    assert report.status == "returned" and report.review_comment == "请补充隐患的具体位置"
    notice = await delivery(app, f"report-returned:{report.id}:1")
    assert "请补充隐患的具体位置" in notice.text
    revise = notice.buttons[0][0]["callback_data"]
    screen = await harness.press(LI, revise)
    assert any("被退回" in t for t in screen) and "第6/6步" in screen[-1]
    await press(harness, LI, "✏️ 工作小结")
    await harness.send(LI, "补充后的小结：隐患位于余山村3号杆")
    await press(harness, LI, "确认提交")
    again = await the_report(app)
    assert again.id == report.id and again.version == 2 and again.status == "submitted"
    assert await delivery(app, f"report-submitted:{report.id}:2:{world.sec_a.id}") is not None
    await open_first_pending(harness)
    await press(harness, SEC_A, "通过")
    async with app.sessionmaker() as session:
        history = (await session.scalars(select(ReportStatusChange).order_by(ReportStatusChange.id))).all()
    assert [(h.actor_label, h.to_status, h.version) for h in history] == [
        ("李海波", "submitted", 1), ("陈书记", "returned", 1), ("李海波", "submitted", 2), ("陈书记", "approved", 2)]


async def test_approve_pressed_twice_is_harmless(harness, app, world):
    await file_report(harness)
    await open_first_pending(harness)
    data = harness.button_data("通过")
    await harness.press(SEC_A, data)
    assert "已经通过了" in (await harness.press(SEC_A, data))[0]
    async with app.sessionmaker() as session:
        assert len((await session.scalars(select(ReportStatusChange))).all()) == 2


async def test_another_branch_secretary_and_members_are_refused_and_nothing_changes(harness, app, world):
    await file_report(harness)
    await open_first_pending(harness)
    approve = harness.button_data("通过")
    open_data = f"rv:open:{(await the_report(app)).id}:0:0"
    for outsider in (SEC_B, WANG, ZHAO):
        assert "无权查看" in (await harness.press(outsider, approve))[0]
        replies = await harness.press(outsider, open_data)
        assert len(replies) == 1 and "无权查看" in replies[0] and "李海波" not in replies[0]
    assert (await the_report(app)).status == "submitted"
    assert "没有待审核" in (await harness.send(SEC_B, "/review"))[0]
    assert "没有权限" in (await harness.send(WANG, "/review"))[0]


async def test_forged_revise_callback_for_another_members_report_is_refused(harness, app, world):
    await file_report(harness)
    report = await the_report(app)
    forged = f"rf:revise::{report.id}"
    assert "不能修改" in (await harness.press(WANG, forged))[0]
    assert "不能修改" in (await harness.press(LI, forged))[0]  # not returned: nothing to edit
    assert "不能修改" in (await harness.press(LI, "rf:revise::abc"))[0]


async def test_corrective_action_assigned_done_and_overdue(harness, app, world):
    await file_report(harness)
    listing = await harness.send(SEC_A, "/actions")
    assert "未安排整改的隐患</b>：1项" in listing[0]
    await press(harness, SEC_A, "安排整改")
    await press(harness, SEC_A, "王强")
    created = await press(harness, SEC_A, "7天内")
    due = (app.local_now().date() + timedelta(days=7)).isoformat()
    assert "已创建整改" in created[0] and due in created[0]
    async with app.sessionmaker() as session:
        action = await session.scalar(select(CorrectiveAction))
    notice = await delivery(app, f"action-assigned:{action.id}")
    assert notice.chat_id == WANG and due in notice.text
    app.clock.advance(timedelta(days=8))
    assert "逾期整改</b>：1项" in (await harness.send(SEC_A, "/actions"))[0]
    done = notice.buttons[0][0]["callback_data"]
    assert "不归您负责" in (await harness.press(ZHAO, done))[0]
    await harness.press(WANG, done)
    await harness.send(WANG, "已紧固拉线")
    finished = await harness.send(WANG, None, photo=photo())
    assert "已记录完成" in finished[0]
    assert "逾期整改</b>：0项" in (await harness.send(SEC_A, "/actions"))[0]
    async with app.sessionmaker() as session:
        action = await session.scalar(select(CorrectiveAction))
    assert action.status == "done" and action.done_note == "已紧固拉线" and action.done_photo_file_id


async def test_returning_a_report_never_overwrites_the_secretarys_own_open_form(harness, app, world):
    await file_report(harness)
    await harness.send(SEC_A, "/report")
    await harness.send(SEC_A, "书记本人的小结")
    await open_first_pending(harness)
    refused = await press(harness, SEC_A, "退回")
    assert "请先完成当前操作" in refused[0]
    assert (await the_report(app)).status == "submitted"
    resumed = await harness.send(SEC_A, "/report")
    assert "尚未填完" in resumed[0]


async def test_a_hazard_with_a_corrective_action_stays_when_the_member_edits_a_returned_report(harness, app, world):
    await file_report(harness)
    await harness.send(SEC_A, "/actions")
    await press(harness, SEC_A, "安排整改")
    await press(harness, SEC_A, "王强")
    await press(harness, SEC_A, "7天内")
    await open_first_pending(harness)
    await press(harness, SEC_A, "退回")
    await harness.send(SEC_A, "请补充位置")
    report = await the_report(app)
    revise = (await delivery(app, f"report-returned:{report.id}:1")).buttons[0][0]["callback_data"]
    await harness.press(LI, revise)
    await press(harness, LI, "✏️ 隐患")
    refused = await press(harness, LI, "删除最后一项")
    assert "已由支部书记安排整改" in refused[0] and "隐患1" in refused[-1]  # still listed
    await press(harness, LI, "下一步")
    await press(harness, LI, "确认提交")
    async with app.sessionmaker() as session:
        action = await session.scalar(select(CorrectiveAction))
        report = await session.get(Report, report.id, populate_existing=True)
    assert report.status == "submitted" and action.hazard_id == report.hazards[0].id


async def test_a_report_whose_photos_telegram_no_longer_serves_still_gets_the_decision_buttons(harness, app, world):
    await file_report(harness, hazards=1)
    async with app.sessionmaker() as session:
        from storage.models import ReportPhoto

        harness.bot.session.stale_file_ids = {p.file_id for p in (await session.scalars(select(ReportPhoto))).all()}
    _listing, screen = await open_first_pending(harness)
    assert any("照片已无法显示" in text for text in screen)
    assert harness.button_data("通过") and harness.button_data("退回")


async def test_a_completed_action_goes_to_the_secretary_who_confirms_or_reopens_it(harness, app, world):
    await file_report(harness)
    listing = (await harness.send(SEC_A, "/actions"))[0]
    assert "⚠️ 隐患#" in listing and "#1 " not in listing.replace("隐患#1 ", "")  # labelled, not bare numbers
    await press(harness, SEC_A, "安排整改")
    await press(harness, SEC_A, "王强")
    await press(harness, SEC_A, "7天内")
    async with app.sessionmaker() as session:
        action = await session.scalar(select(CorrectiveAction))
    done = (await delivery(app, f"action-assigned:{action.id}")).buttons[0][0]["callback_data"]

    async def complete(note):
        await harness.press(WANG, done)
        await harness.send(WANG, note)
        return await harness.send(WANG, "0")

    assert "已记录完成" in (await complete("已紧固拉线"))[0]
    async with app.sessionmaker() as session:
        action = await session.get(CorrectiveAction, action.id, populate_existing=True)
    notice = await delivery(app, f"action-done:{action.id}:{action.done_at.isoformat()}:{world.sec_a.id}")
    assert notice.chat_id == SEC_A and "王强" in notice.text and "已紧固拉线" in notice.text
    assert "待您核实的整改</b>：1项" in (await harness.send(SEC_A, "/actions"))[0]
    reopen, verify = (button["callback_data"] for button in notice.buttons[0][::-1])
    assert "整改不存在" in (await harness.press(ZHAO, reopen))[0]  # another branch: nothing to see, nothing changes
    assert "已重新打开" in (await harness.press(SEC_A, reopen))[0]
    async with app.sessionmaker() as session:
        action = await session.get(CorrectiveAction, action.id, populate_existing=True)
        assert action.status == "open" and action.done_note is None
    assert "已记录完成" in (await complete("已更换拉线并紧固"))[0]
    assert "已确认整改到位" in (await harness.press(SEC_A, verify))[0]
    async with app.sessionmaker() as session:
        assert (await session.get(CorrectiveAction, action.id, populate_existing=True)).status == "verified"


async def test_typing_while_assigning_an_action_is_answered_and_a_typed_due_date_is_taken(harness, app, world):
    await file_report(harness)
    await harness.send(SEC_A, "/actions")
    await press(harness, SEC_A, "安排整改")
    assert "按钮" in (await harness.send(SEC_A, "王强吧"))[0]  # the owner is chosen with a button
    await press(harness, SEC_A, "王强")
    assert "不是日期" in (await harness.send(SEC_A, "下周吧"))[0]
    # with its year: in the first days of January a bare 12-29 is a due date at the end of this year (parse_day)
    past = (app.local_now().date() - timedelta(days=3)).isoformat()
    assert "不能早于今天" in (await harness.send(SEC_A, past))[0]  # refused, and the step waits for another date
    due = app.local_now().date() + timedelta(days=10)
    created = await harness.send(SEC_A, due.isoformat())
    assert "已创建整改" in created[0] and due.isoformat() in created[0]
    async with app.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Question)) == 0  # nothing became a question

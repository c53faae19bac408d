"""The /report form through the real dispatcher: happy path, bad input, back/cancel/edit, resume."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from storage.models import FsmRecord, Report
from tests.reports.form_steps import (
    add_hazard,
    fill_until_hazards,
    finish_after_hazards,
    photo,
    press,
)
from tests.reports.helpers import LI, SEC_A

STICKER = {"file_id": "st", "file_unique_id": "st", "type": "regular", "width": 1, "height": 1,
           "is_animated": False, "is_video": False}
VOICE = {"file_id": "vo", "file_unique_id": "vo", "duration": 2}


async def reports_in_db(app):
    async with app.sessionmaker() as session:
        return (await session.scalars(select(Report))).all()


async def test_happy_path_files_one_report_and_notifies_the_secretary(harness, app, world):
    first = await harness.send(LI, "/report")
    assert "第1/6步" in first[-1]
    menu = await fill_until_hazards(harness, LI)
    assert "隐患" in menu[-1]
    await add_hazard(harness, LI, "拉线松动", photos=2)
    listing = await add_hazard(harness, LI, "树障距导线过近", photos=1, urgency="重大")
    assert "拉线松动" in listing[-1] and "树障" in listing[-1]
    summary = await finish_after_hazards(harness, LI)
    assert "第6/6步" in summary[-1] and "余山供电所" in summary[-1] and "配发轻便验电器" in summary[-1]
    done = await press(harness, LI, "确认提交")
    assert any("提交成功" in text for text in done)
    [report] = await reports_in_db(app)
    assert report.status == "submitted" and len(report.hazards) == 2
    assert [len(h.photos) for h in report.hazards] == [2, 1] and report.hazards[1].urgency == "重大"
    assert report.self_did and report.others_did and report.by_others_did is None
    async with app.sessionmaker() as session:
        from bot.services import outbox

        notice = await outbox.status_of(session, f"report-submitted:{report.id}:1:{world.sec_a.id}")
        assert notice is not None and notice.chat_id == SEC_A and "李海波" in notice.text
        assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 0  # the form is gone


async def test_double_confirm_creates_one_report(harness, app, world):
    await fill_until_hazards(harness, LI)
    await press(harness, LI, "没有隐患")
    await press(harness, LI, "没有违章")
    await press(harness, LI, "没有建议")
    data = harness.button_data("确认提交")
    await harness.press(LI, data)
    again = await harness.press(LI, data)
    assert "已经提交或已取消" in again[0]
    assert len(await reports_in_db(app)) == 1


async def test_at_least_two_sections_are_required(harness, world):
    await harness.send(LI, "/report")
    await harness.send(LI, "本月工作小结")
    await harness.send(LI, "登杆前检查安全带")
    await press(harness, LI, "没有例子")
    for _ in range(3):
        replies = await press(harness, LI, "跳过")
    assert "至少填写2项" in replies[0]
    assert "不伤害他人" in replies[-1]  # back at the first empty section


async def test_long_answer_is_refused_with_the_limit_and_kept(harness, world):
    await harness.send(LI, "/report")
    long_text = "巡" * 5000
    replies = await harness.send(LI, long_text)
    assert "5000字" in replies[0] and "1000字" in replies[0] and "巡" * 1000 in replies[0]
    after = await press(harness, LI, "只保留前1000字")
    assert "第2/6步" in after[-1]


async def test_wrong_kinds_of_input_are_explained_and_the_step_stays(harness, world):
    await harness.send(LI, "/report")
    assert "文字" in (await harness.send(LI, None, sticker=STICKER))[0]
    assert "文字" in (await harness.send(LI, None, voice=VOICE))[0]
    assert "文字" in (await harness.send(LI, None, photo=photo()))[0]
    assert "第2/6步" in (await harness.send(LI, "本月工作小结"))[-1]


async def test_photos_text_location_and_the_fourth_photo(harness, world):
    await fill_until_hazards(harness, LI)
    await press(harness, LI, "添加隐患")
    await harness.send(LI, "配电箱门锁损坏")
    outside = await harness.send(LI, None, location={"latitude": 48.85, "longitude": 2.35})
    assert "不在中国境内" in outside[0]
    assert "照片" in (await harness.send(LI, None, location={"latitude": 30.25, "longitude": 120.17}))[-1]
    assert "照片" in (await harness.send(LI, "这是文字"))[0]  # text where a photo is expected
    for _ in range(3):
        await harness.send(LI, None, photo=photo())
    refused = await harness.send(LI, None, photo=photo())
    assert "最多3张" in refused[0]
    await press(harness, LI, "完成")
    listing = await press(harness, LI, "一般")
    assert "📍30.25000,120.17000" in listing[-1] and "照片3张" in listing[-1]


async def test_back_and_cancel(harness, app, world):
    await harness.send(LI, "/report")
    await harness.send(LI, "第一版小结")
    back = await press(harness, LI, "上一步")
    assert "第1/6步" in back[-1] and "第一版小结" in back[-1]  # the answer is shown, not lost
    labels = [button.text for row in harness.last_keyboard().inline_keyboard for button in row]
    assert not any("上一步" in label for label in labels)  # nothing before the first step
    cancelled = await press(harness, LI, "取消")
    assert "已放弃" in cancelled[0]
    assert await reports_in_db(app) == []


async def test_edit_a_part_from_the_summary_then_submit(harness, app, world):
    await fill_until_hazards(harness, LI)
    await press(harness, LI, "没有隐患")
    await press(harness, LI, "没有违章")
    await press(harness, LI, "没有建议")
    await press(harness, LI, "✏️ 工作小结")
    summary = await harness.send(LI, "改过的小结")
    assert "第6/6步" in summary[-1] and "改过的小结" in summary[-1]
    await press(harness, LI, "✏️ 隐患")
    await add_hazard(harness, LI, "接地线缺失", photos=0)
    summary = await press(harness, LI, "下一步")
    assert "第6/6步" in summary[-1] and "接地线缺失" in summary[-1]
    await press(harness, LI, "确认提交")
    [report] = await reports_in_db(app)
    assert report.summary == "改过的小结" and [h.description for h in report.hazards] == ["接地线缺失"]


async def test_report_while_a_form_is_open_offers_resume_or_discard(harness, world):
    await harness.send(LI, "/report")
    await harness.send(LI, "小结")
    offer = await harness.send(LI, "📝 四不伤害")
    assert "尚未填完" in offer[0]
    resumed = await press(harness, LI, "继续填写")
    assert "第2/6步" in resumed[-1]
    await harness.send(LI, "/report")
    await press(harness, LI, "放弃")
    assert "第1/6步" in (await harness.send(LI, "/report"))[-1]


async def test_previous_month_is_preselected_during_the_first_days_while_it_is_still_open(harness, app, world):
    app.clock.set(datetime(2026, 12, 3, 9, 0, tzinfo=app.settings.tz))
    first = await harness.send(LI, "/report")
    assert "报告月份：2026年11月" in first[-1] and "第1/6步" in first[-1]
    switched = await press(harness, LI, "2026年12月")
    assert "报告月份：2026年12月" in switched[-1] and "第1/6步" in switched[-1]
    await harness.send(LI, "十二月小结")
    await press(harness, LI, "上一步")
    labels = [button.text for row in harness.last_keyboard().inline_keyboard for button in row]
    assert "✓ 2026年12月" in labels and "📅 2026年11月" in labels  # the choice is kept when going back


async def test_stale_button_from_an_earlier_step_is_refused(harness, world):
    await harness.send(LI, "/report")
    await harness.send(LI, "小结")
    old_skip = harness.button_data("跳过此项")
    await harness.send(LI, "登杆前检查安全带")
    assert "之前的步骤" in (await harness.press(LI, old_skip))[0]


async def test_the_first_step_offers_no_back_and_step_two_tells_the_section_rule(harness, world):
    first = await harness.send(LI, "/report")
    labels = [button.text for row in harness.last_keyboard().inline_keyboard for button in row]
    assert "第1/6步" in first[-1] and not any("上一步" in label for label in labels) and "✖️ 取消" in labels
    second = await harness.send(LI, "小结")
    assert "第2/6步" in second[-1] and "至少填写 2 项" in second[-1]


async def test_member_moved_mid_month_is_told_the_branch_at_submission(harness, app, world):
    async with app.sessionmaker() as session:
        from storage.models import Member

        li = await session.scalar(select(Member).where(Member.telegram_id == LI))
        li.branch_id = world.branch_b.id
        await session.commit()
    await fill_until_hazards(harness, LI)
    await press(harness, LI, "没有隐患")
    await press(harness, LI, "没有违章")
    summary = await press(harness, LI, "没有建议")
    assert "城关供电所" in summary[-1]
    await press(harness, LI, "确认提交")
    [report] = await reports_in_db(app)
    assert report.branch_id == world.branch_b.id


async def test_album_photos_are_all_kept(harness, app, world):
    """A phone sends an album as separate updates that arrive together; polling handles them concurrently."""
    import asyncio

    await fill_until_hazards(harness, LI)
    await press(harness, LI, "添加隐患")
    await harness.send(LI, "拉线松动")
    await harness.send(LI, "余山村3号杆")
    await asyncio.gather(*(harness.send(LI, None, photo=photo()) for _ in range(3)))
    await press(harness, LI, "完成")
    assert "照片3张" in (await press(harness, LI, "一般"))[-1]

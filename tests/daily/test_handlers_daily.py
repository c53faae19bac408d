"""「已学习」 and quiz buttons, /today, /acks and /schedule through the real dispatcher (feed_update)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.services import daily, points
from schedulers.daily import daily_scan
from storage.models import DailyAck, Delivery, Member
from tests.daily.helpers import make_branch, make_members

ADMIN = 1
ITEMS = """\
- id: jl-001
  kind: 禁令
  text: 严禁约时停电、约时送电。
  source: 《配电线路作业安全要点》2.2.2
  quiz:
    question: 约时停送电是否允许？
    options: ["允许", "不允许"]
    answer: B
    explanation: 任何情况下都禁止。
- id: ag-001
  kind: 安规
  text: 验电前先在有电设备上试验验电器。
"""


async def setup_branch(app, members: int = 2, secretary: bool = True):
    folder = app.settings.knowledge_dir / "daily"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "items.yaml").write_text(ITEMS, encoding="utf-8")
    async with app.sessionmaker() as session:
        branch = await make_branch(session)
        people = await make_members(session, branch, members, first_tg=2001, joined_at=datetime(2026, 1, 1))
        if secretary:
            people += await make_members(session, branch, 1, first_tg=3001, role="secretary", joined_at=datetime(2026, 1, 1))
        await session.commit()
        return branch, people


def now_local(app, hhmm="08:00", days=0):
    today = app.local_now().date() + timedelta(days=days)
    return datetime.combine(today, datetime.strptime(hhmm, "%H:%M").time(), tzinfo=app.settings.tz)


async def push_today(app):
    """Push today's item regardless of weekday: every branch pushes every day in these tests."""
    async with app.sessionmaker() as session:
        from storage.models import Branch
        for branch_id in (await session.scalars(select(Branch.id))).all():
            await daily.set_schedule(session, branch_id, at="07:30", everyday=True)
        await session.commit()
    return await daily_scan(app, now=now_local(app, "08:00"))


async def buttons_of(app, telegram_id) -> dict[str, str]:
    async with app.sessionmaker() as session:
        row = await session.scalar(select(Delivery).where(Delivery.chat_id == telegram_id))
    return {button["text"]: button["callback_data"] for line in row.buttons for button in line}


async def test_ack_records_time_and_points_and_a_second_press_says_already(harness, app):
    branch, (first, second, secretary) = await setup_branch(app)
    (result,) = await push_today(app)
    assert (result.state, result.enqueued, result.item_id) == ("pushed", 3, "jl-001")
    data = (await buttons_of(app, first.telegram_id))["✅ 已学习"]

    replies = await harness.press(first.telegram_id, data)
    assert any("已记录" in text and "+1 积分" in text for text in replies), replies
    assert any("已于" in text for text in await harness.press(first.telegram_id, data))
    async with app.sessionmaker() as session:
        ack = await session.scalar(select(DailyAck).where(DailyAck.member_id == first.id))
        assert ack.acked_at is not None
        assert await points.total(session, first.id) == 1  # pressed twice, awarded once


async def test_someone_elses_or_a_forged_button_records_nothing(harness, app):
    branch, (first, second, secretary) = await setup_branch(app)
    await push_today(app)
    data = (await buttons_of(app, first.telegram_id))["✅ 已学习"]
    assert any("不是给您的" in text for text in await harness.press(second.telegram_id, data))
    assert any("不是给您的" in text for text in await harness.press(second.telegram_id, "dly:a:999999:-1"))
    async with app.sessionmaker() as session:
        assert (await session.scalar(select(DailyAck).where(DailyAck.member_id == first.id))).acked_at is None


async def test_quiz_choice_is_recorded_with_the_explanation_and_counts_as_studied(harness, app):
    branch, (first, second, secretary) = await setup_branch(app)
    await push_today(app)
    buttons = await buttons_of(app, first.telegram_id)
    assert set(buttons) == {"A", "B", "✅ 已学习"}
    replies = await harness.press(first.telegram_id, buttons["A"])
    assert any("回答有误" in text and "B" in text and "任何情况下都禁止" in text for text in replies), replies
    again = await harness.press(first.telegram_id, buttons["B"])
    assert any("以第一次作答为准" in text for text in again)
    async with app.sessionmaker() as session:
        ack = await session.scalar(select(DailyAck).where(DailyAck.member_id == first.id))
    assert (ack.quiz_choice, ack.quiz_correct) == ("A", False) and ack.acked_at is not None


async def test_a_press_a_day_later_is_recorded_as_late_with_its_time(harness, app):
    branch, (first, second, secretary) = await setup_branch(app)
    async with app.sessionmaker() as session:
        from schedulers.daily import sync_daily_files
        await sync_daily_files(app)
        yesterday = now_local(app, days=-1).date()
        from handlers.ui.daily_view import render_for
        await daily.push_branch(session, branch.id, yesterday, tz=app.settings.tz,
                                render=render_for(app.i18n, "zh"))
        await session.commit()
    data = (await buttons_of(app, first.telegram_id))["✅ 已学习"]
    replies = await harness.press(first.telegram_id, data)
    assert any("已补记" in text and yesterday.strftime("%m-%d") in text for text in replies), replies


async def test_today_shows_the_item_again_with_its_buttons(harness, app):
    branch, (first, second, secretary) = await setup_branch(app)
    assert "还没有推送" in (await harness.send(first.telegram_id, "/today"))[0]
    await push_today(app)
    (text,) = await harness.send(first.telegram_id, "📘 今日学习")
    assert "严禁约时停电" in text and "小测验" in text
    assert harness.button_data("已学习").startswith("dly:a:")


async def test_acks_lists_who_studied_who_not_and_who_is_unreachable(harness, app):
    await setup_branch(app, members=3)
    await push_today(app)
    async with app.sessionmaker() as session:
        members = (await session.scalars(select(Member).order_by(Member.telegram_id))).all()
        first, second, third, secretary = members
        (await session.get(Member, third.id)).reachable = False
        await session.commit()
    await harness.press(first.telegram_id, (await buttons_of(app, first.telegram_id))["✅ 已学习"])
    (board,) = await harness.send(secretary.telegram_id, "/acks")
    assert "已学习：1 / 4" in board
    studied, rest = board.split("尚未学习：")
    assert first.real_name in studied and second.real_name in rest and secretary.real_name in rest
    assert "无法送达" in rest and third.real_name in rest.split("无法送达")[1]
    # members cannot use /acks; admins name the branch
    assert not any("已学习：" in text for text in await harness.send(first.telegram_id, "/acks"))
    (admin_view,) = await harness.send(ADMIN, "/acks 余山供电所")
    assert "已学习：1 / 4" in admin_view


async def test_admin_sets_time_days_and_holidays_in_chat(harness, app):
    await setup_branch(app)
    (reply,) = await harness.send(ADMIN, "/schedule 余山供电所 07:20 everyday")
    assert "07:20" in reply and "每天" in reply
    (reply,) = await harness.send(ADMIN, "/schedule 余山供电所 holiday 2030-10-01..2030-10-07")
    assert "2030-10-01..2030-10-07" in reply
    (reply,) = await harness.send(ADMIN, "/schedule 余山供电所 25:00")
    assert "不是有效时间" in reply
    (reply,) = await harness.send(ADMIN, "/schedule 没有这个所 07:00")
    assert "没有这个所" in reply
    assert not any("07:20" in text for text in await harness.send(3001, "/schedule 余山供电所 06:00"))

"""Joining through an invite link, /help and /language, through Dispatcher.feed_update."""
from __future__ import annotations

from sqlalchemy import select

from bot.services import membership
from storage.models import Member

ADMIN = 1  # in ADMIN_IDS (see the settings fixture)


async def make_invite(app, branch_name="余山供电所", role="member", uses=50):
    async with app.sessionmaker() as session:
        branch = await membership.find_branch(session, branch_name) or await membership.add_branch(session, branch_name)
        invite = await membership.create_invite(session, branch, role, uses=uses, now=app.clock.utc_naive())
        await session.commit()
        return invite.code


async def join(harness, app, user_id, name, code):
    await harness.send(user_id, f"/start {code}")
    await harness.send(user_id, name)
    return await harness.press(user_id, harness.button_data("确认"))


async def test_unknown_user_only_gets_the_join_explanation(harness):
    for text in ["你好", "/help", "/members", "/branch add 某所", "/invite 余山供电所 member"]:
        replies = await harness.send(5000, text)
        assert len(replies) == 1 and "邀请链接" in replies[0], (text, replies)


async def test_join_by_invite_asks_name_confirms_branch_and_greets(harness, app):
    code = await make_invite(app)
    assert "姓名" in (await harness.send(1001, f"/start {code}"))[0]
    confirm = await harness.send(1001, "李海波")
    assert "李海波" in confirm[0] and "余山供电所" in confirm[0]
    welcome = await harness.press(1001, harness.button_data("确认"))
    assert any("欢迎" in text and "余山供电所" in text for text in welcome)
    async with app.sessionmaker() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == 1001))
    assert member.real_name == "李海波" and member.branch.name == "余山供电所"


async def test_bad_names_get_a_reason_and_the_form_waits(harness, app):
    code = await make_invite(app)
    await harness.send(1001, f"/start {code}")
    assert "过长" in (await harness.send(1001, "李" * 30))[0]
    assert "文字" in (await harness.send(1001, None, sticker={"file_id": "s", "file_unique_id": "s", "type": "regular",
                                                               "width": 1, "height": 1, "is_animated": False, "is_video": False}))[0]
    assert "汉字" in (await harness.send(1001, "<b>x</b>"))[0]
    assert "李海波" in (await harness.send(1001, "李海波"))[0]


async def test_bad_invite_payloads_are_explained(harness, app):
    assert "无效" in (await harness.send(1001, "/start bogus123"))[0]
    code = await make_invite(app, uses=1)
    await join(harness, app, 1001, "李海波", code)
    assert "用完" in (await harness.send(1002, f"/start {code}"))[0]


async def test_existing_member_opening_another_invite_is_told_and_nothing_changes(harness, app):
    code = await make_invite(app)
    await join(harness, app, 1001, "李海波", code)
    other = await make_invite(app, "城关供电所")
    assert "已加入" in (await harness.send(1001, f"/start {other}"))[0]


async def test_double_confirm_creates_one_member(harness, app):
    code = await make_invite(app)
    await harness.send(1001, f"/start {code}")
    await harness.send(1001, "李海波")
    data = harness.button_data("确认")
    await harness.press(1001, data)
    assert "已经完成" in (await harness.press(1001, data))[0]
    async with app.sessionmaker() as session:
        assert len((await session.scalars(select(Member).where(Member.telegram_id == 1001))).all()) == 1


async def test_help_is_chinese_and_language_switches_to_english(harness, app):
    code = await make_invite(app)
    await join(harness, app, 1001, "李海波", code)
    assert "我能为您做什么" in (await harness.send(1001, "/help"))[0]
    await harness.send(1001, "/language")
    replies = await harness.press(1001, harness.button_data("English"))
    assert any("What I can do" in text for text in replies)
    assert "What I can do" in (await harness.send(1001, "/help"))[0]


async def test_deactivated_member_loses_access_at_once(harness, app):
    code = await make_invite(app)
    await join(harness, app, 1001, "李海波", code)
    async with app.sessionmaker() as session:
        member = await membership.member_by_telegram_id(session, 1001)
        member.active = False
        await session.commit()
    for text in ["/help", "你好", "/members"]:
        assert "停用" in (await harness.send(1001, text))[0]


async def test_a_half_finished_join_survives_a_restart(harness, app):
    """FSM state is in the database: a new dispatcher (a restarted bot) continues the same form."""
    from bot.app import build_dispatcher
    from tests.support.harness import Harness
    from tests.support.mocked_bot import MockedBot

    code = await make_invite(app)
    await harness.send(1001, f"/start {code}")
    restarted = Harness(build_dispatcher(app), MockedBot())
    assert "李海波" in (await restarted.send(1001, "李海波"))[0]


async def test_help_language_and_cancel_answer_halfway_through_joining_and_the_form_waits(harness, app):
    code = await make_invite(app)
    await harness.send(1001, f"/start {code}")
    helped = await harness.send(1001, "/help")
    assert len(helped) == 1 and "真实姓名" in helped[0] and "/cancel" in helped[0]
    confirm = await harness.send(1001, "李海波")  # /help was not taken as a name: the form still waits for it
    assert "李海波" in confirm[0] and "余山供电所" in confirm[0]
    for command in ("/help", "/language"):
        replies = await harness.send(1001, command)
        assert len(replies) == 1 and "确认" in replies[0], (command, replies)
    welcome = await harness.press(1001, harness.button_data("确认"))
    assert any("欢迎" in text for text in welcome)


async def test_cancel_while_joining_stops_it_and_nothing_is_created(harness, app):
    code = await make_invite(app)
    await harness.send(1001, f"/start {code}")
    assert "已取消加入" in (await harness.send(1001, "/cancel"))[0]
    assert "邀请链接" in (await harness.send(1001, "李海波"))[0]  # no longer joining: the gate answers
    async with app.sessionmaker() as session:
        assert await session.scalar(select(Member).where(Member.telegram_id == 1001)) is None

"""Who may do what: an unknown user, a member of branch A and a secretary of branch B try every
staff/admin command and forged callbacks; each is refused and nothing of another branch leaks."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.features import build_menu
from handlers.ui.callbacks import AskFeedback, MemberAction
from storage.models import AuditEntry, Invite, Member, Question
from tests.test_handlers_join import join, make_invite

UNKNOWN, MEMBER_A, SECRETARY_B, MEMBER_B = 5000, 1001, 2002, 1002


@pytest.fixture
async def people(harness, app):
    await join(harness, app, MEMBER_A, "甲成员", await make_invite(app, "甲所"))
    await join(harness, app, MEMBER_B, "乙成员", await make_invite(app, "乙所"))
    await join(harness, app, SECRETARY_B, "乙书记", await make_invite(app, "乙所", role="secretary"))
    async with app.sessionmaker() as session:
        return {m.telegram_id: m.id for m in (await session.scalars(select(Member))).all()}


COMMANDS = [c for c in build_menu().commands if c.in_menu]
STAFF_COMMANDS = [f"/{c.name}" for c in COMMANDS if c.who != "member"]
ADMIN_COMMANDS = [f"/{c.name}" for c in COMMANDS if c.who == "admin"]


async def test_unknown_user_gets_only_the_join_explanation_for_every_command(harness, people):
    for command in STAFF_COMMANDS + ["/help", "/language", "/member 1", "/ask 接地线"]:
        replies = await harness.send(UNKNOWN, command)
        assert len(replies) == 1 and "邀请链接" in replies[0], command


async def test_member_is_refused_every_staff_command_without_data(harness, people):
    for command in STAFF_COMMANDS + ["/members 乙所", f"/member {people[MEMBER_B]}"]:
        replies = await harness.send(MEMBER_A, command)
        assert replies == ["抱歉，您没有权限进行此操作。"], (command, replies)


async def test_secretary_of_b_cannot_use_admin_commands_or_see_branch_a(harness, people):
    for command in ADMIN_COMMANDS:
        assert "没有权限" in (await harness.send(SECRETARY_B, command))[0], command
    listing = (await harness.send(SECRETARY_B, "/members 甲所"))[0]
    assert "乙成员" in listing and "甲成员" not in listing
    card = (await harness.send(SECRETARY_B, f"/member {people[MEMBER_A]}"))[0]
    assert "甲成员" not in card and "没有这名成员" in card
    invite = (await harness.send(SECRETARY_B, "/invite 甲所"))[0]
    assert "乙所" in invite and "甲所" not in invite  # a secretary's invites are for their own branch


async def test_forged_member_action_callbacks_change_nothing(harness, app, people):
    forged = [
        (MEMBER_A, MemberAction(action="role", member_id=people[MEMBER_A], role="admin")),
        (SECRETARY_B, MemberAction(action="active", member_id=people[MEMBER_A], active=False)),
        (SECRETARY_B, MemberAction(action="role", member_id=people[MEMBER_B], role="secretary")),
        (UNKNOWN, MemberAction(action="move", member_id=people[MEMBER_B], branch_id=1)),
    ]
    for user, data in forged:
        replies = await harness.press(user, data.pack())
        assert len(replies) == 1 and ("没有权限" in replies[0] or "邀请链接" in replies[0]), (user, data, replies)
    async with app.sessionmaker() as session:
        members = {m.telegram_id: m for m in (await session.scalars(select(Member))).all()}
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert members[MEMBER_A].role == "member" and members[MEMBER_A].active
    assert members[MEMBER_B].role == "member"
    assert not [a for a in actions if a in ("member.role", "member.move", "member.deactivate")]


async def test_malformed_callback_data_is_answered_not_crashed(harness, people):
    replies = await harness.press(MEMBER_A, "mem:role:notanumber:x")
    assert replies and "失效" in replies[0]
    replies = await harness.press(MEMBER_A, AskFeedback(question_id=999999, value=1).pack())
    assert replies and "失效" in replies[0]


async def test_admin_can_promote_and_the_promoted_secretary_sees_their_branch(harness, app, people):
    await harness.send(1, f"/member {people[MEMBER_A]}")
    await harness.press(1, harness.button_data("设为支部书记"))
    listing = (await harness.send(MEMBER_A, "/members"))[0]
    assert "甲成员" in listing and "乙成员" not in listing


# --- group chats: personal data only ever goes to a private chat -----------------------------------

GROUP = -100500
ADMIN = 1
PRIVATE_COMMANDS = [c.name for c in build_menu().commands if c.private_only]  # in the menu or not
MESSAGE_ME = "请私聊我"


def test_every_command_that_shows_personal_data_is_private_only():
    assert {"acks", "gaps", "review", "actions", "report", "members", "member", "invite", "invites", "today",
            "schedule", "branch"} <= set(PRIVATE_COMMANDS)
    assert "ask" not in PRIVATE_COMMANDS and "help" not in PRIVATE_COMMANDS


@pytest.mark.parametrize("suffix", ["", "@fieldmate_bot"])
async def test_in_a_group_every_private_command_answers_message_me_privately(harness, app, people, suffix):
    for user in (ADMIN, SECRETARY_B, MEMBER_B):
        for name in PRIVATE_COMMANDS:
            harness.bot.clear()
            replies = await harness.send(user, f"/{name}{suffix} 乙所", chat_id=GROUP, chat_type="group")
            assert len(replies) == 1 and MESSAGE_ME in replies[0], (user, name, replies)
            sent_elsewhere = [c for c in harness.bot.session.calls if getattr(c, "chat_id", GROUP) != GROUP]
            assert not sent_elsewhere
    async with app.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Question)) == 0  # no command became a question


async def test_in_a_group_buttons_that_show_personal_data_answer_message_me_privately(harness, app, people):
    from bot.services import reports
    from handlers.ui.callbacks import (
        ActionButton,
        DailyButton,
        InviteButton,
        MemberAction,
        ReportFormButton,
        ReviewButton,
    )
    from tests.reports.helpers import sample_input

    async with app.sessionmaker() as session:
        author = await session.get(Member, people[MEMBER_B])
        report = (await reports.submit(session, author, sample_input(), form_token="g")).report
        hazard_id = report.hazards[0].id
        await session.commit()
    buttons = [
        (SECRETARY_B, ReviewButton(action="open", report_id=report.id)),
        (SECRETARY_B, ReviewButton(action="page")),
        (SECRETARY_B, ActionButton(action="hazard", hazard_id=hazard_id)),
        (ADMIN, MemberAction(action="pick_branch", member_id=people[MEMBER_B])),
        (ADMIN, InviteButton(invite_id=1)),
        (MEMBER_B, ReportFormButton(action="revise", value=str(report.id))),
        (MEMBER_B, DailyButton(action="a", ack=1)),
    ]
    for user, data in buttons:
        harness.bot.clear()
        replies = await harness.press(user, data.pack(), chat_id=GROUP, chat_type="supergroup")
        assert replies == [MESSAGE_ME + "：这类信息只在私聊中显示。"], (user, data, replies)
        kinds = {type(call).__name__ for call in harness.bot.session.calls}
        assert kinds <= {"AnswerCallbackQuery", "GetMe"}, (data, kinds)
    async with app.sessionmaker() as session:
        assert not (await session.get(Invite, 1)).revoked

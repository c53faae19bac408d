"""Roles and invites hardened: a secretary always has a branch; secretary invites are single-use and short;
invites can be listed and revoked (chat and CLI); a secretary who joins by invite is announced to the admins;
a branch is never confused with a number."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services import membership
from bot.services.errors import DomainError
from bot.services.membership import Actor
from storage.models import Delivery, Invite, Member, Role
from tests.test_handlers_join import join, make_invite

ADMIN, MEMBER, SECRETARY, STRANGER = 1, 1001, 2001, 3001
ADMIN_ACTOR = Actor(0, None, is_admin=True)


# --- a secretary always has a branch (item 6) ----------------------------------------------------

async def test_a_branchless_member_cannot_be_made_secretary(session):
    loner = Member(telegram_id=7, real_name="无所属")
    session.add(loner)
    await session.flush()
    with pytest.raises(DomainError) as refused:
        await membership.set_role(session, ADMIN_ACTOR, loner.id, Role.SECRETARY)
    assert refused.value.code == "secretary_needs_branch"
    assert loner.role == Role.MEMBER


async def test_a_branchless_secretary_left_from_before_manages_nothing(session):
    branch = await membership.add_branch(session, "甲所")
    session.add_all([Member(telegram_id=8, real_name="甲成员", branch_id=branch.id),
                     stray := Member(telegram_id=7, real_name="无所属", role=Role.SECRETARY)])
    await session.flush()
    stray_actor = Actor(7, stray, is_admin=False)
    assert not stray_actor.is_secretary and not stray_actor.can_manage_branch(None)
    with pytest.raises(DomainError):
        await membership.list_members(session, stray_actor)


async def test_admin_pressing_make_secretary_on_a_branchless_member_is_told_why(harness, app):
    async with app.sessionmaker() as session:
        loner = Member(telegram_id=7, real_name="无所属")
        session.add(loner)
        await session.commit()
    await harness.send(ADMIN, f"/member {loner.id}")
    replies = await harness.press(ADMIN, harness.button_data("设为支部书记"))
    assert replies and "先把" in replies[-1] and "支部" in replies[-1]
    async with app.sessionmaker() as session:
        assert (await session.get(Member, loner.id)).role == Role.MEMBER


async def test_a_branchless_secretary_gets_an_answer_not_a_crash(harness, app):
    async with app.sessionmaker() as session:
        session.add(Member(telegram_id=7, real_name="无所属", role=Role.SECRETARY))
        await session.commit()
    for command in ("/invite", "/members", "/acks", "/review"):
        replies = await harness.send(7, command)
        assert replies and "出了点问题" not in replies[0] and "甲" not in replies[0], (command, replies)


# --- invites (item 8) ------------------------------------------------------------------------------

async def test_secretary_invites_default_to_one_use_and_three_days(harness, app):
    await make_invite(app, "甲所")
    reply = (await harness.send(ADMIN, "/invite 甲所 secretary"))[0]
    assert "1 次" in reply and "3 天" in reply
    member_reply = (await harness.send(ADMIN, "/invite 甲所 member"))[0]
    assert "50 次" in member_reply and "14 天" in member_reply
    async with app.sessionmaker() as session:
        secretary_invite = await session.scalar(select(Invite).where(Invite.role == Role.SECRETARY))
    assert secretary_invite.max_uses == 1


async def test_invites_are_listed_and_revoked_and_a_revoked_link_no_longer_works(harness, app):
    code = await make_invite(app, "甲所")
    listing = (await harness.send(ADMIN, "/invites"))[0]
    assert "甲所" in listing and "0/50" in listing
    revoked = await harness.press(ADMIN, harness.button_data("撤销"))
    assert any("已撤销" in text for text in revoked)
    assert "无效" in (await harness.send(MEMBER, f"/start {code}"))[0]
    assert "没有有效" in (await harness.send(ADMIN, "/invites"))[0]


async def test_a_secretary_lists_and_revokes_only_their_own_branchs_invites(harness, app):
    await join(harness, app, SECRETARY, "甲书记", await make_invite(app, "甲所", role="secretary"))
    other = await make_invite(app, "乙所")
    listing = (await harness.send(SECRETARY, "/invites"))[0]
    assert "乙所" not in listing
    async with app.sessionmaker() as session:
        other_id = (await session.scalar(select(Invite).where(Invite.code == other))).id
    from handlers.ui.callbacks import InviteButton

    replies = await harness.press(SECRETARY, InviteButton(invite_id=other_id).pack())
    assert replies and "已撤销" not in replies[-1]
    async with app.sessionmaker() as session:
        assert not (await session.get(Invite, other_id)).revoked


async def test_a_secretary_joining_by_invite_is_announced_to_the_admins(harness, app):
    async with app.sessionmaker() as session:  # an admin known by a member row, besides ADMIN_IDS
        session.add(Member(telegram_id=9, real_name="二号管理", role=Role.ADMIN))
        await session.commit()
    await join(harness, app, SECRETARY, "甲书记", await make_invite(app, "甲所", role="secretary"))
    await join(harness, app, MEMBER, "甲成员", await make_invite(app, "甲所"))
    async with app.sessionmaker() as session:
        notices = (await session.scalars(select(Delivery).where(Delivery.kind == "membership"))).all()
    assert sorted(n.chat_id for n in notices) == [ADMIN, 9]
    assert all("甲书记" in n.text and "甲所" in n.text and "甲成员" not in n.text for n in notices)


def test_cli_lists_and_revokes_invites(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bot.cli import app as cli

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    assert runner.invoke(cli, ["branch", "add", "甲所"]).exit_code == 0
    created = runner.invoke(cli, ["invite", "create", "--branch", "甲所", "--role", "secretary"])
    assert created.exit_code == 0, created.output
    listing = runner.invoke(cli, ["invite", "list"])
    assert listing.exit_code == 0 and "甲所" in listing.output and "secretary" in listing.output
    assert "0/1" in listing.output  # a secretary invite: one use by default
    invite_id = listing.output.split()[0]
    assert runner.invoke(cli, ["invite", "revoke", invite_id]).exit_code == 0
    assert "甲所" not in runner.invoke(cli, ["invite", "list"]).output
    assert runner.invoke(cli, ["invite", "revoke", "²"]).exit_code != 0


# --- a branch is never confused with a number (item 12) ---------------------------------------------

async def test_adding_a_branch_named_like_an_existing_id_creates_it(harness, app):
    await make_invite(app, "甲所")  # branch id 1
    reply = (await harness.send(ADMIN, "/branch add 1"))[0]
    assert "已创建" in reply
    async with app.sessionmaker() as session:
        assert await membership.find_branch(session, "甲所") is not None
        assert len(await membership.list_branches(session)) == 2

"""Membership service: branches, invites, joining, roles — on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services import membership
from bot.services.errors import DomainError
from bot.services.membership import Actor
from storage.models import AuditEntry, Role, utcnow


async def test_invite_then_join_creates_member_in_branch_and_spends_a_use(session):
    branch = await membership.add_branch(session, "余山供电所")
    invite = await membership.create_invite(session, branch, uses=2, days=14)
    member = await membership.join(session, 1001, invite.code, " 李海波 ")
    await session.commit()
    assert member.real_name == "李海波"
    assert member.branch.name == "余山供电所"
    assert member.role == Role.MEMBER
    assert invite.uses == 1 or (await membership.check_invite(session, invite.code)).uses == 1


@pytest.mark.parametrize(
    "name, code",
    [("", "name_empty"), ("   ", "name_empty"), ("李", "name_too_short"), ("李" * 21, "name_too_long"),
     ("😀😀😀", "name_bad_chars"), ("<b>李</b>", "name_bad_chars"), ("李海波2", "name_bad_chars")],
)
def test_bad_names_are_refused_with_a_reason(name, code):
    with pytest.raises(DomainError) as caught:
        membership.clean_name(name)
    assert caught.value.code == code


@pytest.mark.parametrize("name", ["李海波", "阿依古丽·买买提", "Zhang Wei", "欧阳 修"])
def test_real_names_are_accepted(name):
    assert membership.clean_name(name) == name


async def test_expired_used_up_and_unknown_invites_are_refused(session):
    branch = await membership.add_branch(session, "城关供电所")
    expired = await membership.create_invite(session, branch, days=1, now=utcnow() - timedelta(days=2))
    single = await membership.create_invite(session, branch, uses=1)
    await membership.join(session, 2001, single.code, "王强")
    for code, reason in [(expired.code, "invite_expired"), (single.code, "invite_used_up"), ("nonsense", "invite_unknown"), ("", "invite_unknown")]:
        with pytest.raises(DomainError) as caught:
            await membership.check_invite(session, code)
        assert caught.value.code == reason


async def test_second_join_by_an_existing_member_changes_nothing(session):
    branch = await membership.add_branch(session, "余山供电所")
    invite = await membership.create_invite(session, branch, uses=5)
    await membership.join(session, 1001, invite.code, "李海波")
    with pytest.raises(DomainError) as caught:
        await membership.join(session, 1001, invite.code, "李海波")
    assert caught.value.code == "already_member"
    assert (await membership.check_invite(session, invite.code)).uses == 1


async def test_secretary_sees_only_own_branch_and_cannot_change_roles(session):
    a = await membership.add_branch(session, "甲所")
    b = await membership.add_branch(session, "乙所")
    sec = await membership.join(session, 1, (await membership.create_invite(session, a, Role.SECRETARY)).code, "书记甲")
    other = await membership.join(session, 2, (await membership.create_invite(session, b)).code, "成员乙")
    mine = await membership.join(session, 3, (await membership.create_invite(session, a)).code, "成员甲")
    secretary = Actor(telegram_id=1, member=sec, is_admin=False)
    visible = await membership.list_members(session, secretary, branch_id=b.id)
    assert {m.real_name for m in visible} == {"书记甲", "成员甲"}
    with pytest.raises(DomainError):
        await membership.get_member_for(session, secretary, other.id)
    with pytest.raises(DomainError) as caught:
        await membership.set_role(session, secretary, mine.id, Role.SECRETARY)
    assert caught.value.code == "forbidden"


async def test_admin_changes_are_audited(session):
    a = await membership.add_branch(session, "甲所")
    b = await membership.add_branch(session, "乙所")
    admin_member = await membership.ensure_admin_member(session, 9, "管理员")
    admin = Actor(telegram_id=9, member=admin_member, is_admin=True)
    member = await membership.join(session, 3, (await membership.create_invite(session, a)).code, "成员甲")
    await membership.set_role(session, admin, member.id, Role.SECRETARY)
    await membership.move_member(session, admin, member.id, b)
    await membership.set_active(session, admin, member.id, False)
    await session.commit()
    actions = (await session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == member.id, AuditEntry.target_type == "member"))).all()
    assert ["member.join", "member.role", "member.move", "member.deactivate"] == list(actions)
    assert member.active is False and member.branch_id == b.id

"""Shared set-up for the talk tests: branch A with a secretary, a committee member, a party member, a plain
member, a new hire and a deactivated member; branch B with a secretary and a member. Everyone but the new
hire joined on 2026-01-01; the new hire joined five days before the bot's today."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.services.membership import Actor
from bot.services.talks import ConcernInput, FollowUpInput, PersonInput, TalkInput
from storage.models import Branch, Member, Role

ADMIN = 1
SEC_A, WEI, LI, WANG, XIAO, GONE, SEC_B, ZHAO = 2001, 2002, 2003, 2004, 2005, 2006, 3001, 3002
LONG_AGO = datetime(2026, 1, 1)


@dataclass
class World:
    branch_a: Branch
    branch_b: Branch
    sec_a: Member  # 陈书记: secretary, party member
    wei: Member  # 魏委员: committee member
    li: Member  # 李海波: party member
    wang: Member  # 王强: member
    xiao: Member  # 肖新: new hire
    gone: Member  # 钱离: deactivated
    sec_b: Member
    zhao: Member
    admin: Member


async def make_world(session, today: date) -> World:
    a, b = Branch(name="余山供电所"), Branch(name="城关供电所")
    session.add_all([a, b])
    await session.flush()
    hired = datetime.combine(today - timedelta(days=5), datetime.min.time())
    people = [
        Member(telegram_id=SEC_A, real_name="陈书记", branch_id=a.id, role=Role.SECRETARY, is_party_member=True,
               joined_at=LONG_AGO),
        Member(telegram_id=WEI, real_name="魏委员", branch_id=a.id, is_committee=True, is_party_member=True,
               joined_at=LONG_AGO),
        Member(telegram_id=LI, real_name="李海波", branch_id=a.id, is_party_member=True, joined_at=LONG_AGO),
        Member(telegram_id=WANG, real_name="王强", branch_id=a.id, joined_at=LONG_AGO),
        Member(telegram_id=XIAO, real_name="肖新", branch_id=a.id, joined_at=hired),
        Member(telegram_id=GONE, real_name="钱离", branch_id=a.id, active=False, joined_at=LONG_AGO),
        Member(telegram_id=SEC_B, real_name="周书记", branch_id=b.id, role=Role.SECRETARY, joined_at=LONG_AGO),
        Member(telegram_id=ZHAO, real_name="赵敏", branch_id=b.id, joined_at=LONG_AGO),
        Member(telegram_id=ADMIN, real_name="王管理", branch_id=None, role=Role.ADMIN, joined_at=LONG_AGO),
    ]
    session.add_all(people)
    await session.flush()
    for member in people:
        await session.refresh(member, ["branch"])
    return World(a, b, *people)


def actor(member: Member, admin: bool = False) -> Actor:
    return Actor(telegram_id=member.telegram_id, member=member, is_admin=admin or member.role == Role.ADMIN)


def talk_input(day: date, *people: Member, topic: str = "近期工作和思想状况", owner: Member | None = None,
               due: date | None = None, private: bool = False, kind: str = "heart") -> TalkInput:
    return TalkInput(
        kind=kind, held_on=day, topic=topic, place="所会议室",
        people=[PersonInput(member_id=p.id) for p in people],
        concerns=[ConcernInput("life", "家中老人住院，想调整几天班次", secretary_only=private),
                  ConcernInput("safety", "登杆作业的安全带老化")],
        agreement="下周调整班次；更换安全带",
        follow_ups=[FollowUpInput("申请更换安全带", owner.id, due)] if owner and due else [],
    )

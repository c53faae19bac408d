"""Shared set-up for the report tests: two branches with a secretary and members each."""
from __future__ import annotations

from dataclasses import dataclass

from bot.services.membership import Actor
from bot.services.reports import HazardInput, PhotoInput, ReportInput, ViolationInput
from storage.models import Branch, Member, Role

ADMIN = 1
SEC_A, LI, WANG, SEC_B, ZHAO = 2001, 2002, 2003, 3001, 3002


@dataclass
class World:
    branch_a: Branch
    branch_b: Branch
    sec_a: Member
    li: Member
    wang: Member
    sec_b: Member
    zhao: Member


async def make_world(session) -> World:
    a, b = Branch(name="余山供电所"), Branch(name="城关供电所")
    session.add_all([a, b])
    await session.flush()
    people = [
        Member(telegram_id=SEC_A, real_name="陈书记", branch_id=a.id, role=Role.SECRETARY),
        Member(telegram_id=LI, real_name="李海波", branch_id=a.id),
        Member(telegram_id=WANG, real_name="王强", branch_id=a.id),
        Member(telegram_id=SEC_B, real_name="周书记", branch_id=b.id, role=Role.SECRETARY),
        Member(telegram_id=ZHAO, real_name="赵敏", branch_id=b.id),
    ]
    session.add_all(people)
    await session.flush()
    for member in people:
        await session.refresh(member, ["branch"])
    return World(a, b, *people)


def actor(member: Member | None, admin: bool = False, telegram_id: int | None = None) -> Actor:
    return Actor(telegram_id=telegram_id or (member.telegram_id if member else ADMIN), member=member, is_admin=admin)


def sample_input(month: str = "2026-11", hazards: int = 2, photos: int = 1) -> ReportInput:
    return ReportInput(
        month=month,
        summary="本月完成10kV线路巡视8次",
        sections={
            "self": ("登杆前检查安全带", "11月3日发现安全带磨损，及时更换"),
            "others": ("吊装时清场", None),
            "by_others": (None, None),
            "protect": (None, None),
        },
        hazards=[
            HazardInput(description=f"隐患{i + 1}：拉线松动", place="余山村3号杆", urgency="较大",
                        photos=[PhotoInput(f"file{i}{j}", f"u{i}{j}") for j in range(photos)])
            for i in range(hazards)
        ],
        violations=[ViolationInput(description="未戴安全帽进入现场")],
        suggestions="建议配发轻便验电器",
    )

"""Demo data for the simulator: one branch with an admin, a secretary and two members."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from storage.models import Branch, Member, Role

DEMO_BRANCH = "余山供电所"


@dataclass(frozen=True)
class DemoPerson:
    key: str
    telegram_id: int
    name: str
    role: str


DEMO_PEOPLE = [
    DemoPerson("admin", 1, "王管理", Role.ADMIN),
    DemoPerson("secretary", 2001, "张书记", Role.SECRETARY),
    DemoPerson("li", 1001, "李海波", Role.MEMBER),
    DemoPerson("wang", 1002, "王强", Role.MEMBER),
]


async def is_empty(session: AsyncSession) -> bool:
    return not await session.scalar(select(func.count(Branch.id)))


async def seed_demo(session: AsyncSession, now: datetime) -> Branch:
    """The demo branch; its people joined a month before `now` (naive UTC), so today's item is theirs."""
    branch = Branch(name=DEMO_BRANCH)
    session.add(branch)
    await session.flush()
    for person in DEMO_PEOPLE:
        session.add(Member(
            telegram_id=person.telegram_id, real_name=person.name, role=person.role,
            branch_id=None if person.role == Role.ADMIN else branch.id, is_party_member=person.role != Role.MEMBER,
            joined_at=now - timedelta(days=30),
        ))
    audit.record(session, None, "demo.seed", "branch", branch.id, actor_label="simulator")
    await session.flush()
    return branch

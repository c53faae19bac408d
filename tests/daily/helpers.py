"""Small builders for daily-item and delivery tests."""
from __future__ import annotations

from datetime import datetime

from storage.models import Branch, Member


async def make_branch(session, name: str = "余山供电所") -> Branch:
    branch = Branch(name=name)
    session.add(branch)
    await session.flush()
    return branch


async def make_members(session, branch: Branch, count: int, *, first_tg: int = 1000, role: str = "member",
                       joined_at: datetime | None = None) -> list[Member]:
    members = []
    for i in range(count):
        member = Member(telegram_id=first_tg + i, real_name=f"员工{first_tg + i}", branch_id=branch.id, role=role)
        if joined_at is not None:
            member.joined_at = joined_at
        session.add(member)
        members.append(member)
    await session.flush()
    return members

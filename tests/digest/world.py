"""A hand-made branch week for the digest tests; the expected numbers are worked out by hand in the tests.

Branch 余山供电所 (A): 陈书记 (secretary), 李海波, 王强, 赵敏 (unreachable), 王管理 (admin, not counted).
Branch 城关供电所 (B): 周书记 (secretary), 孙丽 — their activity must never show up in A's numbers.
The week is Monday 2026-11-16 … Sunday 2026-11-22; the digest is made on Monday 2026-11-23 08:30."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from storage.models import (
    Branch,
    CorrectiveAction,
    DailyAck,
    DailyItem,
    Hazard,
    Member,
    PointsEntry,
    Question,
    Report,
    Role,
)

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 8, 30, tzinfo=TZ)


def utc(*args: int) -> datetime:
    """A local time (Asia/Shanghai) as stored: naive UTC."""
    return datetime(*args, tzinfo=TZ).astimezone(timezone.utc).replace(tzinfo=None)


@dataclass
class World:
    a: Branch
    b: Branch
    chen: Member
    li: Member
    wang: Member
    zhao: Member
    sun: Member
    zhou: Member


async def make_world(session) -> World:
    a, b = Branch(name="余山供电所"), Branch(name="城关供电所")
    session.add_all([a, b, DailyItem(id="t-1", kind="禁令", text="严禁约时停送电")])
    await session.flush()
    old = utc(2026, 10, 1, 9, 0)
    chen = Member(telegram_id=2001, real_name="陈书记", branch_id=a.id, role=Role.SECRETARY, joined_at=old)
    li = Member(telegram_id=2002, real_name="李海波", branch_id=a.id, joined_at=old)
    wang = Member(telegram_id=2003, real_name="王强", branch_id=a.id, joined_at=old)
    zhao = Member(telegram_id=2004, real_name="赵敏", branch_id=a.id, joined_at=old, reachable=False)
    boss = Member(telegram_id=1, real_name="王管理", branch_id=a.id, role=Role.ADMIN, joined_at=old)
    zhou = Member(telegram_id=3001, real_name="周书记", branch_id=b.id, role=Role.SECRETARY, joined_at=old)
    sun = Member(telegram_id=3002, real_name="孙丽", branch_id=b.id, joined_at=old)
    session.add_all([chen, li, wang, zhao, boss, zhou, sun])
    await session.flush()

    def ack(member: Member, day: int, acked: datetime | None) -> DailyAck:
        return DailyAck(member_id=member.id, branch_id=member.branch_id, day=date(2026, 11, day), item_id="t-1",
                        delivery_key=f"daily:{member.id}:{day}", acked_at=acked)

    week = range(16, 21)  # Monday … Friday
    session.add_all([ack(li, d, utc(2026, 11, d + (d == 19), 7, 50)) for d in week])  # the 19th acked late, on the 20th
    session.add_all([ack(chen, d, utc(2026, 11, d, 8, 0) if d <= 18 else None) for d in week])
    session.add_all([ack(wang, d, utc(2026, 11, d, 8, 5) if d == 16 else None) for d in week])
    session.add_all([ack(zhao, d, None) for d in week])
    session.add_all([ack(li, d, utc(2026, 11, d, 7, 45)) for d in range(9, 14)])  # the week before: 5 of 5
    session.add(ack(sun, 16, utc(2026, 11, 16, 8, 0)))  # branch B

    def report(member: Member, status: str, first: datetime, hazards: int) -> Report:
        return Report(member_id=member.id, branch_id=member.branch_id, month="2026-11", status=status,
                      first_submitted_at=first, submitted_at=first, summary="本月工作",
                      hazards=[Hazard(position=n, description=f"{member.real_name}发现的隐患{n + 1}") for n in range(hazards)])

    li_report = report(li, "approved", utc(2026, 11, 17, 10, 0), 2)
    wang_report = report(wang, "submitted", utc(2026, 11, 20, 9, 0), 1)
    chen_report = report(chen, "returned", utc(2026, 11, 10, 9, 0), 1)
    session.add_all([li_report, wang_report, chen_report, report(sun, "submitted", utc(2026, 11, 18, 9, 0), 1)])
    await session.flush()

    def action(hazard: Hazard, owner: Member, due: date, done: datetime | None = None) -> CorrectiveAction:
        return CorrectiveAction(hazard_id=hazard.id, branch_id=owner.branch_id, owner_id=owner.id, due_date=due,
                                status="done" if done else "open", done_at=done)

    session.add_all([
        action(li_report.hazards[0], wang, date(2026, 11, 20)),  # overdue
        action(li_report.hazards[1], li, date(2026, 11, 30)),
        action(chen_report.hazards[0], chen, date(2026, 11, 15), done=utc(2026, 11, 18, 15, 0)),
    ])

    def question(member: Member, text: str, refused: bool, at: datetime) -> Question:
        return Question(member_id=member.id, chat_id=member.telegram_id, text=text, refused=refused, top_score=0.2,
                        latency_ms=5.0, asked_at=at)

    session.add_all([
        question(li, "接地线怎么挂", True, utc(2026, 11, 17, 9, 0)),
        question(li, "接地线怎么挂？", True, utc(2026, 11, 18, 9, 0)),
        question(li, "登杆前检查什么", False, utc(2026, 11, 19, 9, 0)),
        question(wang, "验电器怎么用", False, utc(2026, 11, 19, 10, 0)),
        question(li, "工作票谁签发", True, utc(2026, 11, 10, 9, 0)),  # the week before
        question(sun, "接地线怎么挂", True, utc(2026, 11, 17, 9, 0)),  # branch B
    ])

    def points(member: Member, reason: str, value: int, ref: str, at: datetime) -> PointsEntry:
        return PointsEntry(member_id=member.id, reason=reason, points=value, ref=ref, at=at)

    session.add_all([points(li, "daily_ack", 1, f"2026-11-{d}", utc(2026, 11, d, 7, 50)) for d in week])
    session.add_all([points(li, "report_on_time", 5, "report:1", utc(2026, 11, 18, 10, 0)),
                     points(li, "hazard", 2, "hazard:1", utc(2026, 11, 18, 10, 0)),
                     points(li, "hazard", 2, "hazard:2", utc(2026, 11, 18, 10, 0)),
                     points(li, "daily_ack", 1, "2026-11-10", utc(2026, 11, 10, 7, 50))])  # the week before
    session.add_all([points(chen, "daily_ack", 1, f"2026-11-{d}", utc(2026, 11, d, 8, 0)) for d in (16, 17, 18)])
    session.add_all([points(wang, "daily_ack", 1, "2026-11-16", utc(2026, 11, 16, 8, 5)),
                     points(wang, "hazard", 2, "hazard:3", utc(2026, 11, 21, 10, 0)),
                     points(sun, "daily_ack", 1, "2026-11-16", utc(2026, 11, 16, 8, 0))])
    await session.commit()
    return World(a, b, chen, li, wang, zhao, sun, zhou)

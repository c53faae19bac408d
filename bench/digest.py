"""Benchmark: one branch of 500 members with a year of activity; the weekly digest, its chart, the monthly Excel.

    .venv/bin/python bench/digest.py                       # temp SQLite file
    .venv/bin/python bench/digest.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/digest.py --members 500 --other-branches 19

The database gets the measured branch (500 members) and `--other-branches` more of 50 members each with
the same kind of activity, for a year up to Monday 2026-11-23: a daily item every workday (about 80 %
acknowledged, late now and then), a monthly 四不伤害 report from most members (some hazards, corrective
actions for half of those), questions (15 % refused), and the points those earn. Talks do not exist yet.
Prints seconds to compute the weekly digest (every registered section), to render its chart, to compute the
monthly digest and write its Excel file, and the process's peak RSS. Target: all three under 3 s together.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 8, 30, tzinfo=TZ)
FIRST_DAY = date(2025, 11, 24)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).astimezone(timezone.utc).replace(tzinfo=None)


def months() -> list[str]:
    out, day = [], FIRST_DAY.replace(day=1)
    while day <= NOW.date():
        out.append(day.strftime("%Y-%m"))
        day = (day + timedelta(days=32)).replace(day=1)
    return out


async def fill(session, branch_members: list[tuple[str, int]], rng: random.Random) -> int:
    """Branches with members and a year of activity; returns the measured (first) branch's id."""
    from sqlalchemy import insert

    from storage.models import (
        Branch, CorrectiveAction, DailyAck, DailyItem, Hazard, Member, PointsEntry, Question, Report,
    )

    session.add(DailyItem(id="bench-1", kind="禁令", text="严禁约时停送电"))
    workdays = [FIRST_DAY + timedelta(days=n) for n in range((NOW.date() - FIRST_DAY).days + 1)]
    workdays = [d for d in workdays if d.weekday() < 5]
    first_branch = None
    telegram_id = 10_000
    for name, count in branch_members:
        branch = Branch(name=name)
        session.add(branch)
        await session.flush()
        first_branch = first_branch or branch.id
        members = [Member(telegram_id=telegram_id + n, real_name=f"{name[:2]}员工{n:03d}", branch_id=branch.id,
                          role="secretary" if n == 0 else "member", joined_at=utc(FIRST_DAY, 8),
                          reachable=rng.random() > 0.02) for n in range(count)]
        telegram_id += count
        session.add_all(members)
        await session.flush()
        acks, ledger, questions = [], [], []
        for member in members:
            diligence = rng.uniform(0.5, 1.0)
            for day in workdays:
                acked = utc(day + timedelta(days=rng.random() < 0.05), 7, rng.randint(31, 59)) \
                    if rng.random() < diligence and day < NOW.date() else None
                acks.append({"member_id": member.id, "branch_id": branch.id, "day": day, "item_id": "bench-1",
                             "delivery_key": f"daily:{member.id}:{day}", "acked_at": acked})
                if acked:
                    ledger.append({"member_id": member.id, "reason": "daily_ack", "points": 1, "ref": day.isoformat(),
                                   "at": acked})
            for n in range(rng.randint(5, 30)):
                asked = utc(rng.choice(workdays), rng.randint(8, 18), rng.randint(0, 59))
                questions.append({"member_id": member.id, "chat_id": member.telegram_id, "text": f"问题{n % 40}",
                                  "refused": rng.random() < 0.15, "top_score": rng.random(), "latency_ms": 30.0,
                                  "source_ids": [], "shown": 0, "asked_at": asked})
        for start in range(0, len(acks), 5000):
            await session.execute(insert(DailyAck), acks[start:start + 5000])
        for start in range(0, len(questions), 5000):
            await session.execute(insert(Question), questions[start:start + 5000])
        for month in months():
            year, number = map(int, month.split("-"))
            for member in members:
                if rng.random() > 0.85:
                    continue
                submitted = utc(date(year, number, rng.randint(20, 28)), 10)
                if submitted > NOW.astimezone(timezone.utc).replace(tzinfo=None):
                    continue
                status = rng.choice(["approved", "approved", "approved", "submitted", "returned"])
                report = Report(member_id=member.id, branch_id=branch.id, month=month, status=status,
                                first_submitted_at=submitted, submitted_at=submitted, summary="本月巡视线路，完成检修",
                                hazards=[Hazard(position=h, description=f"{h + 1}号杆拉线松动") for h in
                                         range(rng.choice([0, 0, 0, 1, 2]))])
                session.add(report)
                if status == "approved":
                    ledger.append({"member_id": member.id, "reason": "report_on_time", "points": 5,
                                   "ref": f"report:{month}:{member.id}", "at": submitted})
            await session.flush()
        reports = (await session.scalars(
            Report.__table__.select().with_only_columns(Report.id).where(Report.branch_id == branch.id))).all()
        hazards = (await session.execute(
            Hazard.__table__.select().with_only_columns(Hazard.id, Hazard.report_id)
            .where(Hazard.report_id.in_(reports)))).all()
        owners = [m.id for m in members]
        actions = [{"hazard_id": hazard_id, "branch_id": branch.id, "owner_id": rng.choice(owners),
                    "due_date": NOW.date() + timedelta(days=rng.randint(-60, 30)),
                    "status": rng.choice(["open", "done"]), "created_at": utc(NOW.date(), 8)}
                   for hazard_id, _report in hazards if rng.random() < 0.5]
        if actions:
            await session.execute(insert(CorrectiveAction), actions)
        for start in range(0, len(ledger), 5000):
            await session.execute(insert(PointsEntry), ledger[start:start + 5000])
        await session.commit()
    return first_branch


async def run(database_url: str, members: int, others: int, seed: int) -> None:
    from bot.app import create_app
    from bot.config import load_settings
    from bot.services.digest import build_digest, month_period, week_of
    from handlers.ui.digest_view import chart_png, make_scope, workbook_bytes
    from handlers.ui.report_text import in_locale
    from storage.db import create_engine

    schema = None
    connect_args = {}
    if database_url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(database_url)
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        connect_args = {"server_settings": {"search_path": schema}}
    engine = create_engine(database_url, connect_args=connect_args) if connect_args else create_engine(database_url)
    with tempfile.TemporaryDirectory() as media:
        settings = load_settings(_env_file=None, database_url=database_url, media_dir=Path(media),
                                 knowledge_dir=Path(media) / "k", index_dir=Path(media) / "i")
        app = await create_app(settings, engine=engine)
        try:
            started = time.perf_counter()
            async with app.sessionmaker() as session:
                branch_id = await fill(session, [("余山供电所", members)] + [(f"第{n:02d}供电所", 50) for n in range(others)],
                                       random.Random(seed))
            if engine.dialect.name == "postgresql":
                async with engine.begin() as conn:
                    await conn.exec_driver_sql("ANALYZE")
            print(f"database: {engine.dialect.name}; filled in {time.perf_counter() - started:.1f}s "
                  f"({members} members + {others} branches of 50, a year to {NOW:%Y-%m-%d})")
            await report_counts(app)

            week = week_of(NOW.date() - timedelta(days=7))
            timings: dict[str, tuple[float, float]] = {}
            with in_locale(app, "zh"):
                async with app.sessionmaker() as session, timed(timings, "weekly digest"):
                    weekly = await build_digest(session, make_scope(app, branch_id, week, NOW), app.digest_sections)
                async with timed(timings, "chart"):
                    png = await chart_png(weekly)
                async with app.sessionmaker() as session, timed(timings, "monthly digest + Excel"):
                    monthly = await build_digest(session, make_scope(app, branch_id, month_period("2026-10"), NOW),
                                                 app.digest_sections)
                    data = await workbook_bytes(session, app, monthly)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"weekly digest: {len(weekly.sections)} sections; chart: {len(png) // 1024} KiB PNG; "
                  f"Excel: {len(data) // 1024} KiB")
            for name, (wall, cpu) in timings.items():
                print(f"{name}: {wall:.3f}s (this process's CPU: {cpu:.3f}s)")
            total = sum(wall for wall, _cpu in timings.values())
            print(f"total: {total:.3f}s (target < 3 s) {'OK' if total < 3 else 'OVER'}; "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; peak RSS {peak:.0f} MiB")
        finally:
            await app.close()
            if schema:
                async with admin.begin() as conn:
                    await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                await admin.dispose()


@contextlib.asynccontextmanager
async def timed(timings: dict, name: str):
    """Wall seconds and this process's CPU seconds (threads included): on a shared, busy machine the CPU
    time shows what the work costs, the wall time what a user waits."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    timings[name] = (time.perf_counter() - wall, time.process_time() - cpu)


async def report_counts(app) -> None:
    from sqlalchemy import func, select

    from storage.models import CorrectiveAction, DailyAck, Hazard, PointsEntry, Question, Report

    async with app.sessionmaker() as session:
        counts = {model.__tablename__: await session.scalar(select(func.count()).select_from(model))
                  for model in (DailyAck, Report, Hazard, CorrectiveAction, Question, PointsEntry)}
    print("rows: " + ", ".join(f"{name} {count}" for name, count in counts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: a temp SQLite file")
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--other-branches", type=int, default=9)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        asyncio.run(run(url, args.members, args.other_branches, args.seed))


if __name__ == "__main__":
    main()

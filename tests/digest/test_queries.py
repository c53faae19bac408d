"""The digest's queries read one branch through indexes: their plans (EXPLAIN on SQLite and PostgreSQL) look
rows up by index instead of scanning the activity tables, and their number does not depend on how many
branches there are — so a branch's digest costs the same in a county of 5 branches or of 500."""
from __future__ import annotations

import contextlib
import json

from sqlalchemy import event

from bot.features import digest_sections
from bot.services.digest import Scope, build_digest, build_sheets, month_period
from storage.models import Branch
from tests.digest.world import NOW, TZ, make_world

ACTIVITY = {"daily_acks", "reports", "hazards", "corrective_actions", "questions", "points_ledger", "members",
            "deliveries", "report_status_history", "violations", "report_photos"}


@contextlib.contextmanager
def recorded(engine):
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def _digest_statements(engine, session, branch_id: int) -> list[tuple[str, object]]:
    scope = Scope(branch_id, month_period("2026-11"), TZ, NOW, rules={"daily_ack": 1})
    with recorded(engine) as statements:
        await build_digest(session, scope, digest_sections())
        await build_sheets(session, scope, digest_sections())
    return list(statements)


def _sqlite_scans(plan_rows) -> list[str]:
    """Plan lines that read a whole activity table (SCAN t) instead of searching it (SEARCH t USING …)."""
    return [detail for *_ids, detail in plan_rows
            if detail.startswith("SCAN ") and detail.split()[1] in ACTIVITY]


def _pg_scans(node: dict) -> list[str]:
    found = []
    table = node.get("Relation Name")
    if table in ACTIVITY and (node["Node Type"] == "Seq Scan" or (
            "Index" in node["Node Type"] and not node.get("Index Cond") and node["Node Type"] != "Bitmap Heap Scan")):
        found.append(f"{node['Node Type']} on {table}")
    for child in node.get("Plans", []):
        found += _pg_scans(child)
    return found


async def test_digest_queries_search_by_index_and_never_scan_the_activity_tables(engine, session):
    world = await make_world(session)
    statements = await _digest_statements(engine, session, world.a.id)
    assert len(statements) > 10
    problems = []
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            await conn.exec_driver_sql("SET enable_seqscan = off")  # tiny tables: ask whether an index *can* serve
        for statement, parameters in statements:
            if engine.dialect.name == "sqlite":
                rows = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)).all()
                bad = _sqlite_scans(rows)
            else:
                plan = (await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)).scalar()
                bad = _pg_scans((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
            if bad:
                problems.append(f"{bad}: {statement[:160]}")
    assert problems == []


async def test_a_branch_digest_runs_the_same_queries_however_many_branches_exist(engine, session):
    world = await make_world(session)
    few = await _digest_statements(engine, session, world.a.id)
    session.add_all([Branch(name=f"第{n}供电所") for n in range(20)])
    await session.commit()
    many = await _digest_statements(engine, session, world.a.id)
    assert [s for s, _p in many] == [s for s, _p in few]

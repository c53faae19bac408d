"""Shared fixtures. Database-backed tests run once on SQLite and once on PostgreSQL.

PostgreSQL tests skip with a reason when the server is absent locally; with CI=true they fail instead."""
from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from datetime import datetime

import pytest

from bot.clock import ManualClock
from bot.config import load_settings
from storage.db import create_engine
from storage.migrate import upgrade

# The bot's clock in tests: a fixed local time, so no test depends on the day it runs. CI runs the
# date-sensitive tests again with this set to awkward days (see .ci/run): a month's first and last day,
# New Year's Eve 23:59, a Sunday. Format: "YYYY-MM-DD HH:MM" in the bot's time zone.
TEST_NOW = os.environ.get("FIELDMATE_TEST_NOW", "2026-11-20 10:00")
PG_URL = os.environ.get("FIELDMATE_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def test_now(tz) -> datetime:
    """TEST_NOW as an aware local time."""
    return datetime.strptime(TEST_NOW, "%Y-%m-%d %H:%M").replace(tzinfo=tz)


async def _postgres_available() -> str | None:
    async def probe() -> None:
        engine = create_engine(PG_URL)
        try:
            async with engine.connect():
                pass
        finally:
            await engine.dispose()

    try:
        await asyncio.wait_for(probe(), 5)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"PostgreSQL at {PG_URL} not reachable ({type(exc).__name__}: {exc})"


_PG_PROBLEM: str | None | bool = False


async def require_postgres() -> None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = await _postgres_available()
    if _PG_PROBLEM:
        if IN_CI:
            pytest.fail(f"CI requires PostgreSQL: {_PG_PROBLEM}")
        pytest.skip(_PG_PROBLEM)


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory):
    """One SQLite file migrated to head per test session; each test gets a copy (migrating every test's
    database took a tenth of the suite). tests/test_migrations.py runs the migrations themselves."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"

    async def migrate() -> None:
        db = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade(db)
        finally:
            await db.dispose()  # the last connection's close checkpoints the WAL: the file alone is complete

    asyncio.run(migrate())
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request, tmp_path, migrated_sqlite_file):
    """A migrated, empty database: a temp SQLite file, or a fresh schema in the PostgreSQL test database."""
    if request.param == "sqlite":
        shutil.copyfile(migrated_sqlite_file, tmp_path / "test.db")
        db = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        yield db
        await db.dispose()
        return
    await require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    db = create_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
    await upgrade(db)
    yield db
    await db.dispose()
    async with admin.begin() as conn:
        await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    await admin.dispose()


@pytest.fixture
async def session(engine):
    from storage.db import create_sessionmaker

    async with create_sessionmaker(engine)() as s:
        yield s


@pytest.fixture
def settings(tmp_path):
    return load_settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        admin_ids=[1],
        knowledge_dir=tmp_path / "knowledge",
        index_dir=tmp_path / "index",
        media_dir=tmp_path / "media",
    )


@pytest.fixture
async def app(settings, engine):
    from bot.app import create_app

    application = await create_app(settings, migrate=False, engine=engine)
    application.clock = ManualClock(test_now(settings.tz))
    yield application


@pytest.fixture
async def harness(app):
    """The real dispatcher (all routers, middlewares, SQL FSM storage) fed synthetic updates."""
    from bot.app import build_dispatcher
    from tests.support.harness import Harness
    from tests.support.mocked_bot import MockedBot

    yield Harness(build_dispatcher(app), MockedBot())
REDIS_URL = os.environ.get("FIELDMATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_storage():
    """The FSM storage used when REDIS_URL is set, on a key prefix of its own (removed afterwards)."""
    from aiogram.fsm.storage.base import DefaultKeyBuilder
    from redis.asyncio import Redis

    from bot.fsm_storage import TrackedRedisStorage

    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except Exception as exc:  # noqa: BLE001
        await redis.aclose()
        if IN_CI:
            pytest.fail(f"CI requires Redis at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} not reachable: {exc}")
    prefix = f"fm-test-{uuid.uuid4().hex[:8]}"
    storage = TrackedRedisStorage(redis, key_builder=DefaultKeyBuilder(prefix=prefix, with_destiny=True))
    yield storage
    async for key in redis.scan_iter(f"{prefix}:*"):
        await redis.delete(key)
    await storage.close()



"""Servers a fleet test starts for itself: a private redis-server (so stopping it touches nobody else's), a
Chroma server (`chroma run` from the chromadb package), a fresh PostgreSQL database, bot processes.

Missing pieces skip the test locally with the reason; with CI=true they fail it (tests/conftest.py's rule)."""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

import aiohttp
import pytest

from tests.conftest import IN_CI, PG_URL
from tests.support import waiting

PYTHON = sys.executable
CHROMA = shutil.which("chroma", path=str(Path(PYTHON).parent)) or shutil.which("chroma")


def missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI requires it: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until(check, timeout: float, what: str, interval: float = 0.2):
    """Wait for a process or server: errors while it starts count as "not yet" (tests/support/waiting.py)."""
    return await waiting.wait_until(check, timeout, f"waiting for {what}", interval=interval, errors=(Exception,))


async def http_status(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async with session.get(url) as resp:
            return resp.status, await resp.json(content_type=None)


async def healthy(url: str) -> bool:
    status, _ = await http_status(url)
    return status == 200


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        self.popen = subprocess.Popen(self.args, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                      start_new_session=True)
        return self

    def signal(self, sig: int) -> None:
        if self.popen and self.popen.poll() is None:
            os.kill(self.popen.pid, sig)

    def stop(self, timeout: float = 30) -> int | None:
        if self.popen is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.popen.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class PrivateRedis:
    port: int
    folder: Path
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            missing("redis-server is not installed")
        self.process = Process("redis", [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no", "--dir", str(self.folder)],
                               dict(os.environ), self.folder / "redis.log").start()
        from redis.asyncio import Redis

        async def ping() -> bool:
            async with Redis.from_url(self.url) as client:
                return bool(await client.ping())

        await wait_until(ping, 20, "the private redis-server")

    def stop(self) -> None:
        if self.process:
            self.process.stop()


@dataclass
class ChromaServer:
    port: int
    folder: Path
    process: Process | None = None

    async def start(self) -> None:
        if not CHROMA:
            missing("the `chroma` command (chromadb package) is not installed")
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self.process = Process("chroma", [CHROMA, "run", "--path", str(self.folder / "chroma"), "--host", "127.0.0.1",
                                          "--port", str(self.port)], env, self.folder / "chroma.log").start()
        await wait_until(lambda: healthy(f"http://127.0.0.1:{self.port}/api/v2/heartbeat"), 60, "the Chroma server")

    def stop(self) -> None:
        if self.process:
            self.process.stop()


@dataclass
class FreshDatabase:
    """A PostgreSQL database of its own (bot processes take a URL, not a schema), dropped afterwards."""

    name: str = field(default_factory=lambda: f"fleet_{uuid.uuid4().hex[:10]}")

    @property
    def admin_dsn(self) -> str:
        return PG_URL.replace("postgresql+asyncpg://", "postgresql://")

    @property
    def url(self) -> str:
        return PG_URL.rsplit("/", 1)[0] + "/" + self.name

    async def create(self) -> None:
        import asyncpg

        try:
            conn = await asyncio.wait_for(asyncpg.connect(self.admin_dsn), 5)
        except Exception as exc:  # noqa: BLE001
            missing(f"PostgreSQL at {PG_URL} not reachable ({type(exc).__name__}: {exc})")
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await conn.close()

    async def drop(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await conn.close()


def bot_process(name: str, env: dict[str, str], folder: Path, port: int) -> Process:
    env = {"WEBHOOK_URL": f"http://127.0.0.1:{port}", **env, "WEBHOOK_HOST": "127.0.0.1", "WEBHOOK_PORT": str(port)}
    return Process(name, [PYTHON, "-m", "bot.cli", "run"], env, folder / f"{name}.log")


def cli(args: list[str], env: dict[str, str], folder: Path, name: str) -> Process:
    return Process(name, [PYTHON, "-m", "bot.cli", *args], env, folder / f"{name}.log")


@contextlib.asynccontextmanager
async def fleet_servers(folder: Path) -> AsyncIterator[tuple[FreshDatabase, PrivateRedis, ChromaServer]]:
    """A fresh PostgreSQL database, a private Redis and a Chroma server; all gone afterwards."""
    database, redis, chroma = FreshDatabase(), PrivateRedis(free_port(), folder), ChromaServer(free_port(), folder)
    await database.create()
    try:
        await redis.start()
        await chroma.start()
        yield database, redis, chroma
    finally:
        redis.stop()
        chroma.stop()
        await database.drop()


# The 四不伤害 form with the fewest steps: (send text | press button, what, the reply that shows it worked).
REPORT_FORM = [
    ("text", "/report", "第1/6步"), ("text", "本月巡视线路8次", "第2/6步"), ("text", "登杆前检查安全带", "具体例子"),
    ("press", "没有例子", "不伤害他人"), ("text", "吊装时设置围栏", "具体例子"), ("press", "没有例子", "不被他人伤害"),
    ("press", "跳过此项", "保护他人"), ("press", "跳过此项", "本月发现的隐患"), ("press", "没有隐患", "本月看到的违章"),
    ("press", "没有违章", "金点子"), ("text", "建议配发验电器", "第6/6步"), ("press", "确认提交", "提交成功"),
]

"""The webhook endpoint's promises, in one process with two "bot processes" as two aiohttp apps:
an update is acknowledged only once handled; a process that dies mid-update loses nothing (the update is
delivered again, to the other one); a draining process refuses updates so another takes them; /healthz."""
from __future__ import annotations

import asyncio
import contextlib

from aiogram import Dispatcher
from aiogram.types import Message
from aiohttp import web

from bot.simulator import FakeTelegramServer, SimUser
from bot.simulator.harness import make_bot
from bot.webhook import WEBHOOK_PATH, Health, UpdateGate, build_web_app
from tests.fleet.infra import free_port, http_status

li = SimUser(id=1001, first_name="海波")


class Process:
    """One webhook 'process': a dispatcher whose handler can be held, served on its own port."""

    def __init__(self, server: FakeTelegramServer, health: Health | None = None) -> None:
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        self.handled: list[str] = []
        self.gate = UpdateGate()
        dp = Dispatcher()

        @dp.message()
        async def handle(message: Message) -> None:
            self.entered.set()
            await self.release.wait()
            self.handled.append(message.text)
            await message.answer(f"收到：{message.text}")

        self.bot = make_bot(server)
        self.app = build_web_app(dp, self.bot, health or Health(app=None), self.gate, secret=None)
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app, handler_cancellation=True, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def die(self) -> None:
        """Like SIGKILL for its HTTP side: the listener and open requests vanish without an answer."""
        await self.runner.cleanup()
        await self.bot.session.close()


@contextlib.asynccontextmanager
async def two_processes():
    async with FakeTelegramServer() as server:
        first, second = Process(server), Process(server)
        await first.start()
        await second.start()
        server.webhook_targets = [first.url, second.url]
        await server.call_method("setWebhook", {"url": "https://fleet.example/telegram/webhook"})
        try:
            yield server, first, second
        finally:
            for process in (first, second):
                with contextlib.suppress(Exception):
                    await process.die()


async def test_an_update_is_acknowledged_only_after_it_was_handled():
    async with two_processes() as (server, first, _):
        update_id = server.push_text(li, "登杆前检查什么")
        await asyncio.wait_for(first.entered.wait(), 10)
        assert not server.is_acked(update_id)  # in flight: Telegram still holds it
        first.release.set()
        await server.wait_acked(update_id)
        assert first.handled == ["登杆前检查什么"]


async def test_a_process_dying_mid_update_loses_nothing_the_other_handles_it():
    async with two_processes() as (server, first, second):
        second.release.set()
        update_id = server.push_text(li, "验电的要求")
        await asyncio.wait_for(first.entered.wait(), 10)
        await first.die()
        await server.wait_acked(update_id)
        assert first.handled == [] and second.handled == ["验电的要求"]
        assert [m.text for m in server.bot_messages(li.id)] == ["收到：验电的要求"]


async def test_a_draining_process_refuses_new_updates_and_they_go_elsewhere():
    async with two_processes() as (server, first, second):
        second.release.set()
        assert await first.gate.drain(timeout=1)  # nothing in flight: drained at once
        update_id = server.push_text(li, "安全带怎么检查")
        await server.wait_acked(update_id)
        assert first.handled == [] and second.handled == ["安全带怎么检查"]
        assert (update_id, first.url) in server.webhook_deliveries  # it was offered to the draining one first


async def test_healthz_is_503_while_the_index_opens_and_200_once_every_part_answers(app):
    async with FakeTelegramServer() as server:
        process = Process(server, Health(app))
        await process.start()
        try:
            url = f"http://127.0.0.1:{process.port}/healthz"
            status, body = await http_status(url)
            assert (status, body["status"], body["checks"]["index"]) == (503, "starting", "starting")
            assert body["checks"]["database"] == "ok"
            app.knowledge = _IndexThatAnswers()
            status, body = await http_status(url)
            assert (status, body["status"]) == (200, "ok")
            app.knowledge = _IndexThatFails()
            status, body = await http_status(url)
            assert status == 503 and body["checks"]["index"].startswith("error: ConnectionError")
        finally:
            await process.die()


class _IndexThatAnswers:
    @staticmethod
    def ping() -> None:
        return None


class _IndexThatFails:
    @staticmethod
    def ping() -> None:
        raise ConnectionError("Chroma server unreachable")

"""The fake Bot API server: one aiohttp app put together from its parts."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any, Awaitable, Callable

from aiohttp import web

from .faults import Faults
from .methods import BotMethods
from .models import CallRecord, SimChat, SimUser, StoredFile, StoredMessage
from .state import ChatState
from .transport import Transport


class FakeTelegramServer(ChatState, Transport, BotMethods):
    """In-process fake of the Telegram Bot API (one bot).

    ``token``: when given, requests with another token get 401 Unauthorized; by default any
    token is accepted.
    """

    def __init__(
        self,
        *,
        bot_id: int = 7000000001,
        username: str = "fieldmate_bot",
        first_name: str = "安全先锋助手",
        token: str | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.bot_user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.token = token
        self.faults = faults or Faults()
        self.users: dict[int, SimUser] = {}
        self.chats: dict[int, SimChat] = {}
        self.messages: dict[int, list[StoredMessage]] = {}
        self._by_id: dict[tuple[int, int], StoredMessage] = {}
        self._next_mid: dict[int, int] = {}
        self.files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self.commands: dict[tuple[str, str], list[dict]] = {}
        self.blocked: set[int] = set()  # users who blocked the bot (403 on sends to them)
        self.reply_keyboards: dict[int, dict | None] = {}  # chat -> current reply keyboard
        self.callback_queries: dict[str, dict[str, Any]] = {}  # id -> {update, answer}
        self.chat_actions: list[tuple[float, int, str]] = []
        self.calls: list[CallRecord] = []
        self.updates: list[dict[str, Any]] = []  # pending (unconfirmed) updates
        self.all_updates: list[dict[str, Any]] = []
        self.acked_update_id = 0  # every update with id <= this is confirmed
        self.allowed_updates: list[str] | None = None
        self.webhook: dict[str, Any] | None = None
        self.webhook_last_error: tuple[int, str] | None = None
        self.webhook_connections = 1  # parallel webhook requests, like setWebhook's max_connections
        self.webhook_targets: list[str] | None = None  # a load balancer's backends (see Transport)
        self.webhook_deliveries: list[tuple[int, str]] = []  # (update_id, url) of every delivery attempt
        self._webhook_in_flight: set[int] = set()
        self._target_turn = -1
        self.seq = 0  # bumps on every change to bot output (message sent/edited/deleted)
        self.last_activity = time.monotonic()  # end of the last non-polling call
        self.inflight = 0  # non-polling calls being served
        self._update_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._cbq_ids = itertools.count(1)
        self._group_ids = itertools.count(1)
        self._poll_generation = 0
        self.cond = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._serving: set[asyncio.Task] = set()
        self._webhook_task: asyncio.Task | None = None
        self.base_url: str | None = None
        self._listeners: list[Callable[[str, StoredMessage], None]] = []
        self.app = web.Application(client_max_size=60 * 1024 * 1024)
        self.app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        self.app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._methods: dict[str, Callable[[dict[str, Any], web.Request], Awaitable[Any]]] = {
            name[len("_m_"):].lower(): getattr(self, name)
            for name in dir(self)
            if name.startswith("_m_")
        }

    # ---------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start listening; return the base URL (for ``TelegramAPIServer.from_base``)."""
        self._closing = False
        self._runner = web.AppRunner(self.app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        real_port = sockets[0].getsockname()[1]
        self.base_url = f"http://{host}:{real_port}"
        return self.base_url

    async def stop(self) -> None:
        """Wake every pending long poll, stop webhook delivery and close the listener."""
        self._closing = True
        await self._notify()
        if self._webhook_task:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._webhook_task
            self._webhook_task = None
        for task in list(self._serving):  # calls still waiting on an injected delay
            task.cancel()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeTelegramServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def bot_username(self) -> str:
        return self.bot_user["username"]

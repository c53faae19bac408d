"""A fake Telegram Bot API server for tests, benchmarks and the terminal simulator.

It speaks plain HTTP the way api.telegram.org does (``POST {base}/bot{token}/{method}`` with
form data, JSON strings for nested objects, multipart for files; file download at
``{base}/file/bot{token}/{path}``), so any aiogram bot can be pointed at it with::

    AiohttpSession(api=TelegramAPIServer.from_base(base_url))

Nothing here imports aiogram or the rest of the project.

Main pieces
-----------
* :class:`FakeTelegramServer` – the aiohttp app, its state (users, chats, messages, files,
  commands) and the ``push_*`` methods that inject user activity as updates.
* :class:`Faults` – deterministic (seeded) fault injection: 429 with ``retry_after``, 403 for
  blocked chats, 500, added latency; optionally filtered by method.
* :class:`CallRecord` – every API call the bot made (monotonic time, method, chat, outcome),
  for benchmarks (throughput, per-chat gaps, duplicates).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import mimetypes
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from aiohttp import ClientSession, ClientTimeout, web

from .html import HTMLParseError, parse_html, utf16_len

log = logging.getLogger("fieldmate.simulator.fake_api")

MAX_TEXT = 4096
MAX_CAPTION = 1024
DEFAULT_ALLOWED = [
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages",
    "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
    "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member",
    "chat_join_request", "chat_boost", "removed_chat_boost",
]  # everything but chat_member / message_reaction(_count), like Telegram


# --------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------


@dataclass
class SimUser:
    """A Telegram user of the simulation."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "zh-hans"
    is_bot: bool = False

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value:
                data[key] = value
        return data

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass
class SimChat:
    """A chat: ``private`` (id == user id) or ``group``/``supergroup`` (negative id)."""

    id: int
    type: str = "private"
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    members: set[int] = field(default_factory=set)

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value:
                data[key] = value
        return data


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class StoredMessage:
    """One message in a chat, in either direction, with its edit history."""

    chat_id: int
    message_id: int
    from_bot: bool
    sender: dict[str, Any]
    date: int
    text: str | None = None  # plain text (entities parsed out)
    source: str | None = None  # text/caption exactly as the bot sent it (HTML etc.)
    parse_mode: str | None = None
    entities: list[dict] = field(default_factory=list)
    caption: str | None = None
    reply_markup: dict[str, Any] | None = None
    photo: list[dict] | None = None
    document: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # location, sticker, voice, contact, ...
    reply_to: tuple[int, int] | None = None
    media_group_id: str | None = None
    edit_date: int | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)  # previous versions
    deleted: bool = False
    seq: int = 0  # global change sequence of the last creation/edit/deletion

    @property
    def body(self) -> str:
        """Text or caption (plain)."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def kind(self) -> str:
        if self.photo:
            return "photo"
        if self.document:
            return "document"
        for key in ("location", "sticker", "voice", "contact"):
            if key in self.extra:
                return key
        return "text"


@dataclass
class CallRecord:
    """One API call the bot made, for benchmarks and assertions."""

    t: float  # time.monotonic() when the request arrived
    method: str
    chat_id: int | None
    status: int  # HTTP status answered
    outcome: str  # "ok", "429", "403", "500", "400", "404", ...
    description: str | None = None
    message_id: int | None = None
    duration: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Faults:
    """Deterministic fault injection. Change ``server.faults`` at any time.

    * ``methods``: only calls to these methods are affected (``None``: every method except
      ``getUpdates``, ``getMe``, ``deleteWebhook``, ``setWebhook`` and ``getWebhookInfo``).
    * ``rate_limit_probability`` / ``rate_limit_calls``: answer 429 with ``retry_after`` drawn
      from ``retry_after`` (inclusive range). ``*_calls`` are 1-based ordinals of the
      affected calls counted since this ``Faults`` was installed.
    * ``forbidden_chats`` / ``forbidden_probability``: 403 "bot was blocked by the user".
    * ``server_error_probability`` / ``server_error_calls``: 500.
    * ``latency``: seconds added to each affected call (a number or a ``(min, max)`` range).
    * ``seed``: the random source, so a run can be repeated exactly.
    * ``global_per_second`` / ``per_chat_per_second``: Telegram-like flood limits (e.g. 30 and
      1): a call beyond that many successful calls in the last second (overall / to that chat)
      gets 429 with ``retry_after=1``. Time-based, so not bit-for-bit repeatable.
    """

    methods: set[str] | None = None
    rate_limit_probability: float = 0.0
    rate_limit_calls: set[int] = field(default_factory=set)
    retry_after: tuple[int, int] = (1, 3)
    forbidden_chats: set[int] = field(default_factory=set)
    forbidden_probability: float = 0.0
    server_error_probability: float = 0.0
    server_error_calls: set[int] = field(default_factory=set)
    latency: float | tuple[float, float] = 0.0
    seed: int | None = 0
    global_per_second: float | None = None
    per_chat_per_second: float | None = None

    _PROTECTED = frozenset({"getupdates", "getme", "deletewebhook", "setwebhook", "getwebhookinfo"})

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._count = 0
        self._recent: list[float] = []
        self._recent_chat: dict[int, list[float]] = {}
        self._methods = {m.lower() for m in self.methods} if self.methods is not None else None

    def applies(self, method: str) -> bool:
        m = method.lower()
        if self._methods is None:
            return m not in self._PROTECTED
        return m in self._methods

    def decide(self, method: str, chat_id: int | None) -> tuple[float, tuple[int, str, dict] | None]:
        """Return (latency, error or None) for one call. Consumes randomness deterministically."""
        if not self.applies(method):
            return 0.0, None
        self._count += 1
        n = self._count
        rng = self._rng
        if isinstance(self.latency, tuple):
            delay = rng.uniform(*self.latency)
        else:
            delay = float(self.latency)
        roll_429, roll_403, roll_500 = rng.random(), rng.random(), rng.random()
        retry = rng.randint(self.retry_after[0], self.retry_after[1])
        if chat_id is not None and chat_id in self.forbidden_chats:
            return delay, (403, "Forbidden: bot was blocked by the user", {})
        if n in self.rate_limit_calls or roll_429 < self.rate_limit_probability:
            return delay, (
                429,
                f"Too Many Requests: retry after {retry}",
                {"retry_after": retry},
            )
        if roll_403 < self.forbidden_probability:
            return delay, (403, "Forbidden: bot was blocked by the user", {})
        if n in self.server_error_calls or roll_500 < self.server_error_probability:
            return delay, (500, "Internal Server Error", {})
        if self.global_per_second or self.per_chat_per_second:
            now = time.monotonic()
            self._recent = [t for t in self._recent if now - t < 1.0]
            if self.global_per_second and len(self._recent) >= self.global_per_second:
                return delay, (429, "Too Many Requests: retry after 1", {"retry_after": 1})
            if chat_id is not None and self.per_chat_per_second:
                recent = [t for t in self._recent_chat.get(chat_id, []) if now - t < 1.0]
                self._recent_chat[chat_id] = recent
                if len(recent) >= self.per_chat_per_second:
                    return delay, (429, "Too Many Requests: retry after 1", {"retry_after": 1})
                recent.append(now)
            self._recent.append(now)
        return delay, None


class APIError(Exception):
    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters or {}


def _bad(description: str) -> APIError:
    return APIError(400, f"Bad Request: {description}")


UserLike = SimUser | dict | int
ChatLike = SimChat | dict | int | str | None


# --------------------------------------------------------------------------------------
# server
# --------------------------------------------------------------------------------------


class FakeTelegramServer:
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

    def add_listener(self, callback: Callable[[str, StoredMessage], None]) -> Callable[[], None]:
        """Call ``callback(event, message)`` on every bot message change
        (event: "new", "edited", "deleted"). Returns an unsubscribe function."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    async def _notify(self) -> None:
        async with self.cond:
            self.cond.notify_all()

    def _notify_soon(self) -> None:
        asyncio.get_running_loop().create_task(self._notify())

    # ---------------------------------------------------------------- users & chats

    def add_user(self, user: UserLike | None = None, **kwargs: Any) -> SimUser:
        """Register a user (and its private chat). Accepts a SimUser, a dict or keywords."""
        if isinstance(user, SimUser):
            u = user
        elif isinstance(user, dict):
            u = SimUser(**{**user, **kwargs})
        elif isinstance(user, int):
            if user in self.users and not kwargs:
                return self.users[user]
            u = SimUser(id=user, first_name=kwargs.pop("first_name", f"user{user}"), **kwargs)
        else:
            u = SimUser(**kwargs)
        self.users[u.id] = u
        if u.id not in self.chats:
            self.chats[u.id] = SimChat(
                id=u.id, type="private", first_name=u.first_name, last_name=u.last_name,
                username=u.username, members={u.id},
            )
        return u

    def add_group(
        self, title: str, members: Iterable[UserLike] = (), *, chat_id: int | None = None,
        type: str = "group",
    ) -> SimChat:
        """Create a group chat (negative id) with the given members."""
        cid = chat_id if chat_id is not None else -(1000 + next(self._group_ids))
        chat = SimChat(id=cid, type=type, title=title)
        for m in members:
            chat.members.add(self._user(m).id)
        self.chats[cid] = chat
        return chat

    def group(self, title: str) -> SimChat | None:
        for chat in self.chats.values():
            if chat.type != "private" and chat.title == title:
                return chat
        return None

    def _user(self, user: UserLike) -> SimUser:
        if isinstance(user, SimUser):
            if user.id not in self.users:
                self.add_user(user)
            return self.users[user.id]
        if isinstance(user, dict):
            if user["id"] in self.users:
                return self.users[user["id"]]
            return self.add_user(user)
        if isinstance(user, int):
            return self.users.get(user) or self.add_user(user)
        raise TypeError(f"not a user: {user!r}")

    def _chat_for(self, user: SimUser, chat: ChatLike) -> SimChat:
        if chat is None:
            return self.chats[user.id]
        if isinstance(chat, SimChat):
            if chat.id not in self.chats:
                self.chats[chat.id] = chat
            c = self.chats[chat.id]
        elif isinstance(chat, dict):
            c = self.chats.get(chat["id"]) or SimChat(**chat)
            self.chats[c.id] = c
        elif isinstance(chat, str):
            c = self.group(chat) or self.add_group(chat)
        else:
            c = self.chats.get(chat) or self.add_group(f"group {chat}", chat_id=chat)
        c.members.add(user.id)
        return c

    def _resolve_chat_id(self, raw: Any) -> int:
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            for chat in self.chats.values():
                if chat.username and chat.username.lower() == raw[1:].lower():
                    return chat.id
            raise _bad("chat not found")
        try:
            cid = int(raw)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None
        if cid not in self.chats:
            raise _bad("chat not found")
        return cid

    # ---------------------------------------------------------------- messages

    def _new_message_id(self, chat_id: int) -> int:
        mid = self._next_mid.get(chat_id, 1)
        self._next_mid[chat_id] = mid + 1
        return mid

    def _store(self, msg: StoredMessage) -> StoredMessage:
        self.messages.setdefault(msg.chat_id, []).append(msg)
        self._by_id[(msg.chat_id, msg.message_id)] = msg
        if msg.from_bot:
            self._bump(msg, "new")
        return msg

    def _bump(self, msg: StoredMessage, event: str) -> None:
        self.seq += 1
        msg.seq = self.seq
        for callback in list(self._listeners):
            try:
                callback(event, msg)
            except Exception:  # noqa: BLE001
                log.exception("simulator listener failed")

    def get_message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        return self._by_id.get((chat_id, message_id))

    def bot_messages(self, chat_id: int, since_seq: int = 0, include_deleted: bool = False) -> list[StoredMessage]:
        """Bot messages in a chat created or changed after ``since_seq``, in message order."""
        return [
            m for m in self.messages.get(chat_id, [])
            if m.from_bot and m.seq > since_seq and (include_deleted or not m.deleted)
        ]

    def message_json(self, msg: StoredMessage, *, with_reply: bool = True) -> dict[str, Any]:
        chat = self.chats[msg.chat_id]
        data: dict[str, Any] = {
            "message_id": msg.message_id,
            "from": msg.sender,
            "chat": chat.to_api(),
            "date": msg.date,
        }
        if msg.text is not None:
            data["text"] = msg.text
            if msg.entities:
                data["entities"] = msg.entities
        if msg.caption is not None:
            data["caption"] = msg.caption
            if msg.entities:
                data["caption_entities"] = msg.entities
        if msg.photo:
            data["photo"] = msg.photo
        if msg.document:
            data["document"] = msg.document
        data.update(msg.extra)
        if msg.media_group_id:
            data["media_group_id"] = msg.media_group_id
        if msg.edit_date:
            data["edit_date"] = msg.edit_date
        if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
            data["reply_markup"] = msg.reply_markup
        if with_reply and msg.reply_to:
            target = self._by_id.get(msg.reply_to)
            if target:
                data["reply_to_message"] = self.message_json(target, with_reply=False)
        return data

    # ---------------------------------------------------------------- files

    def add_file(
        self, data: bytes, *, kind: str = "documents", file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        n = next(self._file_ids)
        file_id = f"F{n:06d}{secrets.token_hex(6)}"
        unique = f"U{n:06d}"
        ext = Path(file_name).suffix if file_name else (".jpg" if kind == "photos" else "")
        path = f"{kind}/file_{n}{ext}"
        f = StoredFile(file_id, unique, data, path, file_name, mime_type)
        self.files[file_id] = f
        self._files_by_path[path] = f
        return f

    def _photo_sizes(self, data: bytes) -> list[dict]:
        w, h = _image_size(data)
        small = self.add_file(data, kind="photos")
        big = self.add_file(data, kind="photos")
        sw, sh = (max(1, w * 90 // max(w, h)), max(1, h * 90 // max(w, h))) if max(w, h) > 90 else (w, h)
        return [
            {"file_id": small.file_id, "file_unique_id": small.file_unique_id, "width": sw, "height": sh,
             "file_size": small.size},
            {"file_id": big.file_id, "file_unique_id": big.file_unique_id, "width": w, "height": h,
             "file_size": big.size},
        ]

    # ---------------------------------------------------------------- updates (user side)

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update (``update_id`` is assigned). Returns the update id."""
        uid = next(self._update_ids)
        update = {"update_id": uid, **{k: v for k, v in update.items() if k != "update_id"}}
        self.updates.append(update)
        self.all_updates.append(update)
        self._notify_soon()
        self._kick_webhook()
        return uid

    def _user_message(
        self, user: UserLike, chat: ChatLike = None, *, reply_to: int | None = None, **fields: Any,
    ) -> tuple[int, StoredMessage]:
        u = self._user(user)
        c = self._chat_for(u, chat)
        msg = StoredMessage(
            chat_id=c.id, message_id=self._new_message_id(c.id), from_bot=False,
            sender=u.to_api(), date=int(time.time()),
        )
        for key in ("text", "caption", "photo", "document"):
            if key in fields:
                setattr(msg, key, fields.pop(key))
        msg.entities = fields.pop("entities", [])
        msg.extra = fields
        if reply_to is not None:
            if (c.id, reply_to) not in self._by_id:
                raise KeyError(f"message {reply_to} not found in chat {c.id}")
            msg.reply_to = (c.id, reply_to)
        self._store(msg)
        uid = self.push_update({"message": self.message_json(msg)})
        return uid, msg

    def text_entities(self, text: str) -> list[dict]:
        """bot_command, mention, url entities as Telegram would detect them."""
        ents: list[dict] = []
        for m in re.finditer(r"(?<![\w/])/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]{3,32})?", text):
            ents.append({"type": "bot_command", "offset": utf16_len(text[: m.start()]),
                         "length": utf16_len(m.group(0))})
        for m in re.finditer(r"(?<![\w@/])@[a-zA-Z0-9_]{4,32}", text):
            ents.append({"type": "mention", "offset": utf16_len(text[: m.start()]),
                         "length": utf16_len(m.group(0))})
        for m in re.finditer(r"https?://[^\s]+", text):
            ents.append({"type": "url", "offset": utf16_len(text[: m.start()]),
                         "length": utf16_len(m.group(0))})
        ents.sort(key=lambda e: e["offset"])
        return ents

    def push_text(self, user: UserLike, text: str, chat: ChatLike = None) -> int:
        """A user sends ``text`` (private chat by default; ``chat`` may be a group)."""
        fields: dict[str, Any] = {"text": text}
        ents = self.text_entities(text)
        if ents:
            fields["entities"] = ents
        return self._user_message(user, chat, **fields)[0]

    def push_reply(self, user: UserLike, to_message_id: int, text: str, chat: ChatLike = None) -> int:
        fields: dict[str, Any] = {"text": text}
        ents = self.text_entities(text)
        if ents:
            fields["entities"] = ents
        return self._user_message(user, chat, reply_to=to_message_id, **fields)[0]

    def push_photo(self, user: UserLike, path_or_bytes: str | Path | bytes, caption: str | None = None,
                   chat: ChatLike = None) -> int:
        data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
        fields: dict[str, Any] = {"photo": self._photo_sizes(data)}
        if caption is not None:
            fields["caption"] = caption
        return self._user_message(user, chat, **fields)[0]

    def push_document(self, user: UserLike, path: str | Path | bytes, caption: str | None = None,
                      chat: ChatLike = None, *, file_name: str | None = None,
                      mime_type: str | None = None) -> int:
        if isinstance(path, bytes):
            data, name = path, file_name or "file.bin"
        else:
            data, name = Path(path).read_bytes(), file_name or Path(path).name
        mime = mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        f = self.add_file(data, kind="documents", file_name=name, mime_type=mime)
        fields: dict[str, Any] = {"document": {
            "file_id": f.file_id, "file_unique_id": f.file_unique_id, "file_name": name,
            "mime_type": mime, "file_size": f.size,
        }}
        if caption is not None:
            fields["caption"] = caption
        return self._user_message(user, chat, **fields)[0]

    def push_location(self, user: UserLike, lat: float, lon: float, chat: ChatLike = None) -> int:
        return self._user_message(user, chat, location={"latitude": float(lat), "longitude": float(lon)})[0]

    def push_sticker(self, user: UserLike, emoji: str = "👍", chat: ChatLike = None) -> int:
        f = self.add_file(b"RIFF\x00\x00\x00\x00WEBP", kind="stickers", file_name="sticker.webp",
                          mime_type="image/webp")
        sticker = {"file_id": f.file_id, "file_unique_id": f.file_unique_id, "type": "regular",
                   "width": 512, "height": 512, "is_animated": False, "is_video": False,
                   "emoji": emoji, "file_size": f.size}
        return self._user_message(user, chat, sticker=sticker)[0]

    def push_voice(self, user: UserLike, duration: int = 2, chat: ChatLike = None) -> int:
        f = self.add_file(b"OggS\x00fake-voice", kind="voice", file_name="voice.oga", mime_type="audio/ogg")
        voice = {"file_id": f.file_id, "file_unique_id": f.file_unique_id, "duration": duration,
                 "mime_type": "audio/ogg", "file_size": f.size}
        return self._user_message(user, chat, voice=voice)[0]

    def push_contact(self, user: UserLike, phone_number: str, first_name: str | None = None,
                     user_id: int | None = None, chat: ChatLike = None) -> int:
        u = self._user(user)
        contact = {"phone_number": phone_number, "first_name": first_name or u.first_name,
                   "user_id": user_id if user_id is not None else u.id}
        return self._user_message(u, chat, contact=contact)[0]

    def push_callback(self, user: UserLike, message_id: int, callback_data: str,
                      chat: ChatLike = None) -> int:
        """A user presses an inline button of bot message ``message_id`` (data is not checked
        against the keyboard, so forged callbacks can be tested)."""
        u = self._user(user)
        c = self._chat_for(u, chat)
        msg = self._by_id.get((c.id, message_id))
        if msg is None:
            raise KeyError(f"message {message_id} not found in chat {c.id}")
        qid = f"{next(self._cbq_ids)}{secrets.randbelow(10**6):06d}"
        query = {
            "id": qid, "from": u.to_api(), "message": self.message_json(msg),
            "chat_instance": str(abs(hash((c.id, self.bot_user["id"])))), "data": callback_data,
        }
        uid = self.push_update({"callback_query": query})
        self.callback_queries[qid] = {"update_id": uid, "chat_id": c.id, "answer": None}
        return uid

    def block_user(self, user: UserLike, blocked: bool = True) -> int:
        """The user blocks (or unblocks) the bot: sends to them get 403 and a my_chat_member
        update is queued, like Telegram. Returns the update id."""
        u = self._user(user)
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        if blocked:
            self.blocked.add(u.id)
        else:
            self.blocked.discard(u.id)
        bot = {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        status = {"member": {"status": "member", "user": bot},
                  "kicked": {"status": "kicked", "user": bot, "until_date": 0}}
        return self.push_update({"my_chat_member": {
            "chat": self.chats[u.id].to_api(), "from": u.to_api(), "date": int(time.time()),
            "old_chat_member": status[old], "new_chat_member": status[new],
        }})

    def is_acked(self, update_id: int) -> bool:
        return update_id <= self.acked_update_id

    async def wait_acked(self, update_id: int, timeout: float = 10.0) -> None:
        """Wait until the bot confirmed ``update_id`` (polling offset passed it, or webhook 2xx)."""
        async with self.cond:
            await asyncio.wait_for(self.cond.wait_for(lambda: self.is_acked(update_id)), timeout)

    async def wait_quiet(self, quiet: float = 0.3, timeout: float = 10.0, *, start: float | None = None) -> bool:
        """Wait until no non-polling API call is in flight and none ended in the last ``quiet``
        seconds (counting from ``start`` at the earliest, default now). Returns False if
        ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        start = time.monotonic() if start is None else start
        while True:
            now = time.monotonic()
            remaining = max(self.last_activity, start) + quiet - now
            if self.inflight == 0 and remaining <= 0:
                return True
            if now >= deadline:
                return False
            wait = min(max(remaining, 0.02), deadline - now)
            async with self.cond:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.cond.wait(), wait)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` is true; it is re-checked on every server state change."""
        async with self.cond:
            await asyncio.wait_for(self.cond.wait_for(predicate), timeout)

    def calls_for(self, method: str | None = None, chat_id: int | None = None) -> list[CallRecord]:
        return [
            c for c in self.calls
            if (method is None or c.method.lower() == method.lower())
            and (chat_id is None or c.chat_id == chat_id)
        ]

    # ---------------------------------------------------------------- HTTP

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if self.token is not None and request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        f = self._files_by_path.get(request.match_info["path"])
        if f is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=f.data, content_type=f.mime_type or "application/octet-stream")

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes | tuple]]:
        params: dict[str, Any] = dict(request.query)
        uploads: dict[str, Any] = {}
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        uploads[key] = (value.file.read(), value.filename, value.content_type)
                    else:
                        params[key] = value
        return params, uploads

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["method"].lower() == "getupdates":
            return await self._serve_api(request)  # a long poll ends when its client goes away
        # Telegram completes a request it has received even when the client disconnects mid-call (a bot
        # process killed while waiting for the answer): the message is delivered. Handler cancellation
        # (on for the long polls) must not undo that here, so the work runs shielded.
        task = asyncio.ensure_future(self._serve_api(request))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)
        return await asyncio.shield(task)

    async def _serve_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        started = time.monotonic()
        mkey = method.lower()
        polling = mkey == "getupdates"
        if not polling:
            self.inflight += 1
        chat_id: int | None = None
        status, outcome, description, message_id = 200, "ok", None, None
        params: dict[str, Any] = {}
        try:
            if self.token is not None and request.match_info["token"] != self.token:
                raise APIError(401, "Unauthorized")
            params, uploads = await self._read_params(request)
            params["_uploads"] = uploads
            with contextlib.suppress(Exception):
                raw = params.get("chat_id")
                chat_id = int(raw) if raw is not None else None
            handler = self._methods.get(mkey)
            if handler is None:
                raise APIError(404, f"Not Found: method {method!r} is not implemented by the fake Bot API server")
            delay, error = self.faults.decide(method, chat_id)
            if delay:
                await asyncio.sleep(delay)
            if error:
                raise APIError(*error)
            if chat_id in self.blocked and mkey.startswith(("send", "edit", "copy", "forward")):
                raise APIError(403, "Forbidden: bot was blocked by the user")
            result = await handler(params, request)
            if isinstance(result, dict) and "message_id" in result:
                message_id = result["message_id"]
            body = {"ok": True, "result": result}
        except APIError as e:
            status, outcome, description = e.status, str(e.status), e.description
            body = {"ok": False, "error_code": e.status, "description": e.description}
            if e.parameters:
                body["parameters"] = e.parameters
        except asyncio.CancelledError:  # a long poll whose client left, or the server stopping
            status, outcome = 499, "cancelled"
            raise
        finally:
            if not polling:
                self.inflight -= 1
                self.last_activity = time.monotonic()
            params.pop("_uploads", None)
            self.calls.append(CallRecord(
                t=started, method=method, chat_id=chat_id, status=status, outcome=outcome,
                description=description, message_id=message_id,
                duration=time.monotonic() - started,
                params={k: v for k, v in params.items() if k in ("text", "caption", "callback_query_id", "action", "message_id")},
            ))
            self._notify_soon()
        return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    # ---------------------------------------------------------------- helpers for methods

    @staticmethod
    def _json_param(params: dict[str, Any], key: str, default: Any = None) -> Any:
        value = params.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise _bad(f"can't parse {key} JSON object") from None
        return value

    @staticmethod
    def _int_param(params: dict[str, Any], key: str, default: int | None = None) -> int | None:
        value = params.get(key)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {key} specified") from None

    @staticmethod
    def _bool_param(params: dict[str, Any], key: str) -> bool:
        value = params.get(key)
        return value in (True, "true", "True", "1", 1)

    def _format(self, text: str | None, parse_mode: str | None, *, limit: int, what: str) -> tuple[str, list[dict]]:
        if text is None:
            text = ""
        if parse_mode and parse_mode.upper() == "HTML":
            try:
                parsed = parse_html(text)
            except HTMLParseError as e:
                raise _bad(str(e)) from None
            plain, entities = parsed.text, parsed.entities
        else:
            plain, entities = text, []
        if what == "text" and not plain.strip():
            raise _bad("message text is empty")
        if len(plain) > limit:
            raise _bad("message is too long" if what == "text" else "message caption is too long")
        return plain, entities

    def _markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = self._json_param(params, "reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list):
                raise _bad("can't parse inline keyboard button: InlineKeyboardButtons must be an array")
            for row in rows:
                if not isinstance(row, list):
                    raise _bad("can't parse inline keyboard button: InlineKeyboardButtons must be an array")
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
                    data = button.get("callback_data")
                    if data is not None and not (1 <= len(str(data).encode("utf-8")) <= 64):
                        raise _bad("BUTTON_DATA_INVALID")
                    if not any(k in button for k in ("callback_data", "url", "web_app", "login_url",
                                                          "switch_inline_query", "switch_inline_query_current_chat",
                                                          "switch_inline_query_chosen_chat", "copy_text",
                                                          "callback_game", "pay")):
                        raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
        elif "keyboard" in markup:
            for row in markup["keyboard"]:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not text:
                        raise _bad("can't parse keyboard button: Keyboard button text must be non-empty")
        return markup

    def _apply_reply_keyboard(self, chat_id: int, markup: dict | None) -> None:
        if markup is None:
            return
        if "keyboard" in markup:
            self.reply_keyboards[chat_id] = markup
        elif markup.get("remove_keyboard"):
            self.reply_keyboards[chat_id] = None

    def _reply_target(self, params: dict[str, Any], chat_id: int) -> tuple[int, int] | None:
        reply = self._json_param(params, "reply_parameters")
        mid = None
        allow_missing = False
        if isinstance(reply, dict):
            mid = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply"))
            if reply.get("chat_id") not in (None, "") and int(reply["chat_id"]) != chat_id:
                chat_id = self._resolve_chat_id(reply["chat_id"])
        elif params.get("reply_to_message_id"):
            mid = self._int_param(params, "reply_to_message_id")
            allow_missing = self._bool_param(params, "allow_sending_without_reply")
        if mid is None:
            return None
        if (chat_id, int(mid)) not in self._by_id:
            if allow_missing:
                return None
            raise _bad("message to be replied not found")
        return (chat_id, int(mid))

    def _bot_message(self, chat_id: int, **kwargs: Any) -> StoredMessage:
        return StoredMessage(
            chat_id=chat_id, message_id=self._new_message_id(chat_id), from_bot=True,
            sender={k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")},
            date=int(time.time()), **kwargs,
        )

    def _input_file(self, params: dict[str, Any], key: str, value: Any, kind: str) -> tuple[StoredFile | None, bytes | None]:
        """Resolve an InputFile reference: attach://name (multipart), a file_id or a URL."""
        uploads = params.get("_uploads", {})
        if isinstance(value, str) and value.startswith("attach://"):
            name = value[len("attach://"):]
            if name not in uploads:
                raise _bad(f"file {name!r} for {key} not found in the request")
            data, filename, ctype = uploads[name]
            return None, (data, filename, ctype)  # type: ignore[return-value]
        if key in uploads:
            return None, uploads[key]
        if not value:
            raise _bad(f"there is no {key} in the request")
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return None, (b"", Path(value).name or "remote", None)  # type: ignore[return-value]
        f = self.files.get(str(value))
        if f is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        return f, None

    def _media_fields(self, params: dict[str, Any], media_type: str, value: Any) -> dict[str, Any]:
        f, upload = self._input_file(params, media_type, value, media_type)
        if media_type == "photo":
            if upload is not None:
                return {"photo": self._photo_sizes(upload[0])}
            assert f is not None
            # reuse of a known file id: find the photo sizes it belonged to, else build them
            return {"photo": [{"file_id": f.file_id, "file_unique_id": f.file_unique_id,
                               "width": _image_size(f.data)[0], "height": _image_size(f.data)[1],
                               "file_size": f.size}]}
        if upload is not None:
            data, filename, ctype = upload
            name = params.get("file_name") or filename or "document"
            mime = (ctype if ctype and ctype != "application/octet-stream" else None) or \
                mimetypes.guess_type(name)[0] or "application/octet-stream"
            f = self.add_file(data, kind="documents", file_name=name, mime_type=mime)
        assert f is not None
        return {"document": {"file_id": f.file_id, "file_unique_id": f.file_unique_id,
                             "file_name": f.file_name or "document",
                             "mime_type": f.mime_type or "application/octet-stream",
                             "file_size": f.size}}

    def _editable(self, params: dict[str, Any]) -> StoredMessage:
        if params.get("inline_message_id"):
            raise _bad("inline messages are not supported by the fake server")
        chat_id = self._resolve_chat_id(params.get("chat_id"))
        mid = self._int_param(params, "message_id")
        msg = self._by_id.get((chat_id, mid or 0))
        if msg is None or msg.deleted:
            raise _bad("message to edit not found")
        if not msg.from_bot:
            raise _bad("message can't be edited")
        return msg

    def _snapshot(self, msg: StoredMessage) -> dict[str, Any]:
        return {"text": msg.text, "caption": msg.caption, "source": msg.source,
                "entities": list(msg.entities), "reply_markup": msg.reply_markup,
                "edit_date": msg.edit_date}

    def _commit_edit(self, msg: StoredMessage, before: dict[str, Any]) -> dict[str, Any]:
        msg.edits.append(before)
        msg.edit_date = int(time.time())
        self._bump(msg, "edited")
        return self.message_json(msg)

    # ---------------------------------------------------------------- API methods
    # Each `_m_<name>` implements Bot API method <name> (case-insensitive).

    async def _m_getMe(self, params: dict, request: web.Request) -> Any:
        return dict(self.bot_user)

    async def _m_logOut(self, params: dict, request: web.Request) -> Any:
        return True

    async def _m_close(self, params: dict, request: web.Request) -> Any:
        return True

    async def _m_getUpdates(self, params: dict, request: web.Request) -> Any:
        if self.webhook:
            raise APIError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = self._int_param(params, "offset", 0) or 0
        limit = max(1, min(100, self._int_param(params, "limit", 100) or 100))
        timeout = max(0, self._int_param(params, "timeout", 0) or 0)
        allowed = self._json_param(params, "allowed_updates")
        if allowed is not None:
            self.allowed_updates = list(allowed) or None
        self._poll_generation += 1
        generation = self._poll_generation
        self._confirm(offset)
        await self._notify()  # wakes an older long poll (409) and anyone waiting for acks

        def ready() -> bool:
            return bool(self.updates) or self._closing or generation != self._poll_generation

        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining > 0 and not ready():
                async with self.cond:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.cond.wait_for(ready), remaining)
            if generation != self._poll_generation:
                raise APIError(409, "Conflict: terminated by other getUpdates request; "
                                    "make sure that only one bot instance is running")
            if self._closing:
                return []
            result = self._take_updates(limit, offset)
            if result or time.monotonic() >= deadline:
                return result
            # only updates of types the bot did not ask for were pending: keep waiting

    def _take_updates(self, limit: int, offset: int) -> list[dict]:
        allowed_types = set(self.allowed_updates or DEFAULT_ALLOWED)
        result: list[dict] = []
        for update in list(self.updates):
            kind = next(k for k in update if k != "update_id")
            if kind not in allowed_types:
                # Telegram would not have queued it; treat as confirmed so nobody waits for it
                self.updates.remove(update)
                self.acked_update_id = max(self.acked_update_id, update["update_id"])
                self._notify_soon()
                continue
            result.append(update)
            if len(result) >= limit:
                break
        if offset < 0:
            result = result[offset:]
        return result

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            before = len(self.updates)
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            if offset - 1 > self.acked_update_id:
                self.acked_update_id = offset - 1
            if len(self.updates) != before:
                self._notify_soon()
        elif offset < 0:
            keep = self.updates[offset:]
            for u in self.updates[: len(self.updates) + offset]:
                self.acked_update_id = max(self.acked_update_id, u["update_id"])
            self.updates = keep

    async def _m_setWebhook(self, params: dict, request: web.Request) -> Any:
        url = params.get("url") or ""
        if not url:
            return await self._m_deleteWebhook(params, request)
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if self._bool_param(params, "drop_pending_updates"):
            self._drop_pending()
        allowed = self._json_param(params, "allowed_updates")
        self.webhook = {"url": url, "secret_token": params.get("secret_token"),
                        "allowed_updates": allowed}
        if allowed is not None:
            self.allowed_updates = list(allowed) or None
        self._generation_bump()
        self._kick_webhook()
        return True

    def _generation_bump(self) -> None:
        self._poll_generation += 1
        self._notify_soon()

    def _drop_pending(self) -> None:
        for u in self.updates:
            self.acked_update_id = max(self.acked_update_id, u["update_id"])
        self.updates.clear()
        self._notify_soon()

    async def _m_deleteWebhook(self, params: dict, request: web.Request) -> Any:
        if self._bool_param(params, "drop_pending_updates"):
            self._drop_pending()
        self.webhook = None
        if self._webhook_task:
            self._webhook_task.cancel()
            self._webhook_task = None
        return True

    async def _m_getWebhookInfo(self, params: dict, request: web.Request) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if self.webhook and self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        if self.webhook_last_error:
            info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info

    def _kick_webhook(self) -> None:
        if self.webhook and (self._webhook_task is None or self._webhook_task.done()):
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhook())

    async def _deliver_webhook(self) -> None:
        """POST pending updates to the webhook one at a time, in order (like Telegram with
        max_connections=1). A 2xx answer confirms the update; a JSON body with "method" is
        executed as an API call (reply-in-webhook)."""
        async with ClientSession(timeout=ClientTimeout(total=60)) as session:
            while self.webhook and not self._closing:
                if not self.updates:
                    async with self.cond:
                        await self.cond.wait_for(lambda: bool(self.updates) or not self.webhook or self._closing)
                    continue
                update = self.updates[0]
                kind = next(k for k in update if k != "update_id")
                allowed = set(self.allowed_updates or DEFAULT_ALLOWED)
                if kind not in allowed:
                    self.updates.pop(0)
                    self.acked_update_id = max(self.acked_update_id, update["update_id"])
                    await self._notify()
                    continue
                headers = {}
                if self.webhook.get("secret_token"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
                try:
                    async with session.post(self.webhook["url"], json=update, headers=headers) as resp:
                        body = await resp.read()
                        ok = 200 <= resp.status < 300
                        if not ok:
                            self.webhook_last_error = (int(time.time()), f"Wrong response from the webhook: {resp.status} {resp.reason}")
                except Exception as e:  # noqa: BLE001
                    ok, body = False, b""
                    self.webhook_last_error = (int(time.time()), f"Connection failed: {e}")
                if not ok:
                    await self._notify()
                    await asyncio.sleep(0.2)
                    continue
                if self.updates and self.updates[0] is update:
                    self.updates.pop(0)
                self.acked_update_id = max(self.acked_update_id, update["update_id"])
                await self._notify()
                if body:
                    with contextlib.suppress(Exception):
                        payload = json.loads(body)
                        if isinstance(payload, dict) and payload.get("method"):
                            await self.call_method(payload.pop("method"), payload)

    async def call_method(self, method: str, params: dict[str, Any]) -> Any:
        """Execute an API method in-process (used for webhook replies). Nested objects may be
        dicts. Raises :class:`APIError`."""
        handler = self._methods.get(method.lower())
        if handler is None:
            raise APIError(404, f"Not Found: method {method!r} is not implemented")
        prepared = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in params.items()}
        prepared["_uploads"] = {}
        self.inflight += 1
        try:
            return await handler(prepared, None)  # type: ignore[arg-type]
        finally:
            self.inflight -= 1
            self.last_activity = time.monotonic()
            self._notify_soon()

    async def _m_sendMessage(self, params: dict, request: web.Request) -> Any:
        chat_id = self._resolve_chat_id(params.get("chat_id"))
        source = params.get("text")
        parse_mode = params.get("parse_mode") or None
        plain, entities = self._format(source, parse_mode, limit=MAX_TEXT, what="text")
        if not entities and self._json_param(params, "entities"):
            entities = self._json_param(params, "entities")
        markup = self._markup(params)
        reply_to = self._reply_target(params, chat_id)
        msg = self._bot_message(chat_id, text=plain, source=source, parse_mode=parse_mode,
                                entities=entities, reply_markup=markup, reply_to=reply_to)
        self._apply_reply_keyboard(chat_id, markup)
        self._store(msg)
        return self.message_json(msg)

    async def _send_media(self, params: dict, media_type: str) -> Any:
        chat_id = self._resolve_chat_id(params.get("chat_id"))
        caption_src = params.get("caption")
        parse_mode = params.get("parse_mode") or None
        caption, entities = (None, [])
        if caption_src:
            caption, entities = self._format(caption_src, parse_mode, limit=MAX_CAPTION, what="caption")
        markup = self._markup(params)
        reply_to = self._reply_target(params, chat_id)
        fields = self._media_fields(params, media_type, params.get(media_type))
        msg = self._bot_message(chat_id, caption=caption, source=caption_src, parse_mode=parse_mode,
                                entities=entities, reply_markup=markup, reply_to=reply_to, **fields)
        self._apply_reply_keyboard(chat_id, markup)
        self._store(msg)
        return self.message_json(msg)

    async def _m_sendPhoto(self, params: dict, request: web.Request) -> Any:
        return await self._send_media(params, "photo")

    async def _m_sendDocument(self, params: dict, request: web.Request) -> Any:
        return await self._send_media(params, "document")

    async def _m_sendMediaGroup(self, params: dict, request: web.Request) -> Any:
        chat_id = self._resolve_chat_id(params.get("chat_id"))
        media = self._json_param(params, "media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise _bad("media must include 2-10 items")
        reply_to = self._reply_target(params, chat_id)
        group_id = str(10**17 + next(self._file_ids))
        prepared = []
        for item in media:
            mtype = item.get("type")
            if mtype not in ("photo", "document"):
                raise _bad(f"unsupported media type {mtype!r} in the fake server")
            caption_src = item.get("caption")
            caption, entities = (None, [])
            if caption_src:
                caption, entities = self._format(caption_src, item.get("parse_mode"), limit=MAX_CAPTION,
                                                 what="caption")
            fields = self._media_fields(params, mtype, item.get("media"))
            prepared.append((caption, caption_src, item.get("parse_mode"), entities, fields))
        result = []
        for caption, caption_src, pm, entities, fields in prepared:
            msg = self._bot_message(chat_id, caption=caption, source=caption_src, parse_mode=pm,
                                    entities=entities, reply_to=reply_to, media_group_id=group_id, **fields)
            self._store(msg)
            result.append(self.message_json(msg))
        return result

    async def _m_sendChatAction(self, params: dict, request: web.Request) -> Any:
        chat_id = self._resolve_chat_id(params.get("chat_id"))
        action = params.get("action") or ""
        if not action:
            raise _bad("wrong parameter action in request")
        self.chat_actions.append((time.monotonic(), chat_id, action))
        return True

    async def _m_editMessageText(self, params: dict, request: web.Request) -> Any:
        msg = self._editable(params)
        if msg.text is None:
            raise _bad("there is no text in the message to edit")
        source = params.get("text")
        parse_mode = params.get("parse_mode") or None
        plain, entities = self._format(source, parse_mode, limit=MAX_TEXT, what="text")
        markup = self._markup(params)  # absent: the inline keyboard is removed
        if plain == msg.text and entities == msg.entities and markup == msg.reply_markup:
            raise _bad("message is not modified: specified new message content and reply markup "
                       "are exactly the same as a current content and reply markup of the message")
        before = self._snapshot(msg)
        msg.text, msg.source, msg.parse_mode, msg.entities, msg.reply_markup = (
            plain, source, parse_mode, entities, markup)
        return self._commit_edit(msg, before)

    async def _m_editMessageCaption(self, params: dict, request: web.Request) -> Any:
        msg = self._editable(params)
        if not (msg.photo or msg.document):
            raise _bad("there is no caption in the message to edit")
        source = params.get("caption")
        parse_mode = params.get("parse_mode") or None
        caption, entities = (None, [])
        if source:
            caption, entities = self._format(source, parse_mode, limit=MAX_CAPTION, what="caption")
        markup = self._markup(params)
        if caption == msg.caption and entities == msg.entities and markup == msg.reply_markup:
            raise _bad("message is not modified: specified new message content and reply markup "
                       "are exactly the same as a current content and reply markup of the message")
        before = self._snapshot(msg)
        msg.caption, msg.source, msg.parse_mode, msg.entities, msg.reply_markup = (
            caption, source, parse_mode, entities, markup)
        return self._commit_edit(msg, before)

    async def _m_editMessageReplyMarkup(self, params: dict, request: web.Request) -> Any:
        msg = self._editable(params)
        markup = self._markup(params)
        if markup == msg.reply_markup:
            raise _bad("message is not modified: specified new message content and reply markup "
                       "are exactly the same as a current content and reply markup of the message")
        before = self._snapshot(msg)
        msg.reply_markup = markup
        return self._commit_edit(msg, before)

    async def _m_deleteMessage(self, params: dict, request: web.Request) -> Any:
        chat_id = self._resolve_chat_id(params.get("chat_id"))
        mid = self._int_param(params, "message_id")
        msg = self._by_id.get((chat_id, mid or 0))
        if msg is None or msg.deleted:
            raise _bad("message to delete not found")
        msg.deleted = True
        if msg.from_bot:
            self._bump(msg, "deleted")
        return True

    async def _m_answerCallbackQuery(self, params: dict, request: web.Request) -> Any:
        qid = params.get("callback_query_id") or ""
        query = self.callback_queries.get(qid)
        if query is None:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        if query["answer"] is not None:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        query["answer"] = {"text": params.get("text"), "show_alert": self._bool_param(params, "show_alert"),
                           "url": params.get("url")}
        return True

    def _commands_key(self, params: dict) -> tuple[str, str]:
        scope = self._json_param(params, "scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.get("language_code") or ""

    async def _m_setMyCommands(self, params: dict, request: web.Request) -> Any:
        commands = self._json_param(params, "commands", [])
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("commands must be an array of at most 100 BotCommand")
        for c in commands:
            cmd = c.get("command", "") if isinstance(c, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", cmd):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(c.get("description", "")) <= 256:
                raise _bad("command description is empty" if not c.get("description") else "BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _m_getMyCommands(self, params: dict, request: web.Request) -> Any:
        return self.commands.get(self._commands_key(params), [])

    async def _m_deleteMyCommands(self, params: dict, request: web.Request) -> Any:
        self.commands.pop(self._commands_key(params), None)
        return True

    def get_commands(self, scope: dict | None = None, language_code: str = "") -> list[dict]:
        """Commands stored for a scope (default scope when None) and language."""
        key = json.dumps(scope or {"type": "default"}, sort_keys=True), language_code
        return self.commands.get(key, [])

    async def _m_getFile(self, params: dict, request: web.Request) -> Any:
        f = self.files.get(params.get("file_id") or "")
        if f is None:
            raise _bad("invalid file_id")
        return {"file_id": f.file_id, "file_unique_id": f.file_unique_id, "file_size": f.size,
                "file_path": f.file_path}

    async def _m_getChat(self, params: dict, request: web.Request) -> Any:
        chat = self.chats[self._resolve_chat_id(params.get("chat_id"))]
        data = chat.to_api()
        data.update({
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                                    "premium_subscription": False, "gifts_from_channels": False},
        })
        return data

    async def _m_setMyDescription(self, params: dict, request: web.Request) -> Any:
        return True

    async def _m_setMyShortDescription(self, params: dict, request: web.Request) -> Any:
        return True

    async def _m_setMyName(self, params: dict, request: web.Request) -> Any:
        return True

    async def _m_setChatMenuButton(self, params: dict, request: web.Request) -> Any:
        return True


@dataclass
class CallStats:
    """Summary of the bot's calls of some methods (see :func:`call_stats`)."""

    total: int
    ok: int
    by_outcome: dict[str, int]
    duration: float  # seconds from the first to the last call
    ok_per_second: float
    min_gap_per_chat: dict[int, float]  # smallest time between two successful calls to a chat
    duplicates: list[tuple[int, str]]  # (chat, text) delivered more than once


def call_stats(calls: Iterable[CallRecord], methods: Iterable[str] = ("sendMessage", "sendPhoto",
               "sendDocument", "sendMediaGroup", "copyMessage")) -> CallStats:
    """Throughput, per-chat gaps and duplicate deliveries from ``server.calls``."""
    wanted = {m.lower() for m in methods}
    sel = [c for c in calls if c.method.lower() in wanted]
    by_outcome: dict[str, int] = {}
    for c in sel:
        by_outcome[c.outcome] = by_outcome.get(c.outcome, 0) + 1
    ok = [c for c in sel if c.outcome == "ok"]
    span = (sel[-1].t - sel[0].t) if len(sel) > 1 else 0.0
    gaps: dict[int, float] = {}
    last: dict[int, float] = {}
    seen: dict[tuple[int, str], int] = {}
    for c in ok:
        if c.chat_id is None:
            continue
        if c.chat_id in last:
            gap = c.t - last[c.chat_id]
            gaps[c.chat_id] = min(gap, gaps.get(c.chat_id, gap))
        last[c.chat_id] = c.t
        key = (c.chat_id, str(c.params.get("text") or c.params.get("caption") or ""))
        seen[key] = seen.get(key, 0) + 1
    return CallStats(
        total=len(sel), ok=len(ok), by_outcome=by_outcome, duration=span,
        ok_per_second=(len(ok) / span) if span > 0 else float(len(ok)),
        min_gap_per_chat=gaps, duplicates=[k for k, n in seen.items() if n > 1 and k[1]],
    )


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG (best effort; 100x100 when unknown)."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if data[:2] == b"\xff\xd8":
            i = 2
            while i + 9 < len(data):
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker = data[i + 1]
                seglen = int.from_bytes(data[i + 2:i + 4], "big")
                if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                    h = int.from_bytes(data[i + 5:i + 7], "big")
                    w = int.from_bytes(data[i + 7:i + 9], "big")
                    return w, h
                i += 2 + seglen
    except Exception:  # noqa: BLE001
        pass
    return 100, 100

"""The fake server's data model: users, chats, messages, files, call records, API errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 4096
MAX_CAPTION = 1024
DEFAULT_ALLOWED = [
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages",
    "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
    "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member",
    "chat_join_request", "chat_boost", "removed_chat_boost",
]  # everything but chat_member / message_reaction(_count), like Telegram



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


def image_size(data: bytes) -> tuple[int, int]:
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

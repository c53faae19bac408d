"""High-level, per-user conversation helper on top of :class:`FakeTelegramServer`.

Each action (``send``, ``press``, ``photo`` …) pushes one update and then waits until the
step has *settled*:

1. the bot acknowledged the update (a later ``getUpdates`` offset passed it, or the webhook
   POST returned 2xx), and
2. no API call from the bot is in flight and none happened for ``quiet`` seconds
   (default 0.3 s).

The quiet window is a heuristic meant for interactive use and transcripts: it decides when
to stop collecting output for a step. Test expectations should not rely on it — use
:meth:`SimDriver.wait_for` (or the script runner's ``expect``), which waits on a condition
with a timeout, never on a fixed sleep.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

from .fake_api import ChatLike, FakeTelegramServer, SimUser, StoredMessage, UserLike
from .html import html_to_text


class Button(NamedTuple):
    """An inline button: ``data`` is its callback_data, or its URL for link buttons."""

    text: str
    data: str | None
    url: bool = False


@dataclass
class BotMessage:
    """A bot message as seen by the user (a snapshot)."""

    chat_id: int
    message_id: int
    text: str  # plain text or caption
    html: str | None  # as the bot sent it (with markup), if any
    buttons: list[list[Button]] = field(default_factory=list)
    reply_keyboard: list[list[str]] | None = None
    photo: list[dict] | None = None
    document: dict[str, Any] | None = None
    edited: bool = False
    deleted: bool = False
    kind: str = "text"
    seq: int = 0
    raw: StoredMessage | None = field(default=None, repr=False, compare=False)

    @property
    def button_texts(self) -> list[str]:
        return [b.text for row in self.buttons for b in row]

    def find_button(self, text: str) -> Button | None:
        for row in self.buttons:
            for b in row:
                if text == b.text:
                    return b
        for row in self.buttons:
            for b in row:
                if text in b.text:
                    return b
        return None

    def render(self) -> str:
        """One readable line block: text, then [buttons]."""
        prefix = "" if self.kind == "text" else f"[{self.kind}] "
        if self.edited:
            prefix = "(edited) " + prefix
        out = prefix + self.text
        if self.buttons:
            out += "  " + " ".join(f"[{b.text}]" for b in self.flat_buttons())
        return out

    def flat_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]

    @classmethod
    def from_stored(cls, msg: StoredMessage, server: FakeTelegramServer | None = None) -> "BotMessage":
        rows: list[list[Button]] = []
        markup = msg.reply_markup or {}
        for row in markup.get("inline_keyboard", []) or []:
            rows.append([
                Button(b.get("text", ""), b.get("callback_data") if "callback_data" in b else b.get("url"),
                       "url" in b)
                for b in row
            ])
        reply_kb = None
        if "keyboard" in markup:
            reply_kb = [[b.get("text", "") if isinstance(b, dict) else str(b) for b in row]
                        for row in markup["keyboard"]]
        return cls(
            chat_id=msg.chat_id, message_id=msg.message_id, text=msg.body, html=msg.source,
            buttons=rows, reply_keyboard=reply_kb, photo=msg.photo, document=msg.document,
            edited=bool(msg.edits), deleted=msg.deleted, kind=msg.kind, seq=msg.seq, raw=msg,
        )


class ExpectationTimeout(AssertionError):
    """``wait_for`` gave up; ``seen`` holds the bot messages that were there."""

    def __init__(self, message: str, seen: list[BotMessage]) -> None:
        super().__init__(message)
        self.seen = seen


class SimDriver:
    """Drive conversations against a :class:`FakeTelegramServer` as one or more users.

    ``quiet``: the settle window (seconds without bot API calls), see the module docstring.
    ``timeout``: the default upper bound for waiting on acknowledgement and conditions.
    """

    def __init__(self, server: FakeTelegramServer, *, quiet: float = 0.3, timeout: float = 10.0) -> None:
        self.server = server
        self.quiet = quiet
        self.timeout = timeout
        self.last_update_id: int | None = None  # the update pushed by the latest action

    # ------------------------------------------------------------------ users and chats

    def user(self, user: UserLike | None = None, **kwargs: Any) -> SimUser:
        """Register (or fetch) a user: ``driver.user(id=1001, first_name="海波")``."""
        if user is None:
            return self.server.add_user(**kwargs)
        if isinstance(user, int) and user in self.server.users and not kwargs:
            return self.server.users[user]
        return self.server.add_user(user, **kwargs)

    def chat_id(self, user: UserLike, chat: ChatLike = None) -> int:
        u = self.server._user(user)
        return self.server._chat_for(u, chat).id

    def mark(self) -> int:
        """A point in time to collect output after (pass as ``since``)."""
        return self.server.seq

    # ------------------------------------------------------------------ reading output

    def messages(self, chat_id: int, since: int = 0) -> list[BotMessage]:
        """Bot messages in a chat, new or changed after ``since`` (a :meth:`mark`)."""
        return [BotMessage.from_stored(m, self.server) for m in self.server.bot_messages(chat_id, since)]

    def history(self, chat_id: int) -> list[BotMessage]:
        return self.messages(chat_id, 0)

    def last(self, chat_id: int) -> BotMessage | None:
        msgs = self.history(chat_id)
        return msgs[-1] if msgs else None

    def reply_keyboard(self, chat_id: int) -> list[list[str]] | None:
        markup = self.server.reply_keyboards.get(chat_id)
        if not markup:
            return None
        return [[b.get("text", "") if isinstance(b, dict) else str(b) for b in row] for row in markup["keyboard"]]

    def callback_answer(self, update_id: int | None = None) -> dict | None:
        """What the bot answered (answerCallbackQuery: text, show_alert, url) to the callback
        pushed as ``update_id`` (default: the latest action); None if not (yet) answered."""
        update_id = self.last_update_id if update_id is None else update_id
        for q in self.server.callback_queries.values():
            if q["update_id"] == update_id:
                return q["answer"]
        return None

    async def wait_for(
        self, chat_id: int, predicate: Callable[[BotMessage], bool] | str, timeout: float | None = None,
        *, since: int = 0,
    ) -> BotMessage:
        """Wait until a bot message in ``chat_id`` (new or changed after ``since``) satisfies
        ``predicate`` (a callable, or a substring of the text). Returns that message; raises
        :class:`ExpectationTimeout` after ``timeout`` seconds."""
        if isinstance(predicate, str):
            needle = predicate
            predicate = lambda m: needle in m.text  # noqa: E731
        found: list[BotMessage] = []

        def check() -> bool:
            for m in reversed(self.messages(chat_id, since)):
                if predicate(m):  # type: ignore[operator]
                    found.append(m)
                    return True
            return False

        try:
            await self.server.wait_for(check, timeout if timeout is not None else self.timeout)
        except TimeoutError:
            seen = self.messages(chat_id, since)
            raise ExpectationTimeout(
                f"no matching bot message in chat {chat_id} within {timeout or self.timeout}s; got: "
                + (" | ".join(m.render() for m in seen) or "(nothing)"),
                seen,
            ) from None
        return found[-1]

    async def settle(self, update_id: int | None = None, timeout: float | None = None) -> None:
        """Wait for acknowledgement of ``update_id`` and the quiet window (see module doc)."""
        timeout = timeout if timeout is not None else self.timeout
        deadline = time.monotonic() + timeout
        if update_id is not None:
            try:
                await self.server.wait_acked(update_id, timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"the bot did not fetch update {update_id} within {timeout}s — is it polling "
                    f"this server?") from None
        await self.server.wait_quiet(self.quiet, max(0.0, deadline - time.monotonic()))

    async def _step(self, push: Callable[[], int], chat_id: int, timeout: float | None = None) -> list[BotMessage]:
        since = self.mark()
        uid = push()
        self.last_update_id = uid
        await self.settle(uid, timeout)
        return self.messages(chat_id, since)

    # ------------------------------------------------------------------ actions

    async def send(self, user: UserLike, text: str, chat: ChatLike = None, *,
                   reply_to: int | None = None, timeout: float | None = None) -> list[BotMessage]:
        """Send text as ``user``; return the bot messages (new and edited) in that chat."""
        cid = self.chat_id(user, chat)
        if reply_to is not None:
            return await self._step(lambda: self.server.push_reply(user, reply_to, text, chat), cid, timeout)
        return await self._step(lambda: self.server.push_text(user, text, chat), cid, timeout)

    def find_button(self, chat_id: int, button_text: str) -> tuple[BotMessage, Button] | None:
        """The newest bot message in the chat with an inline button matching ``button_text``
        (exact text first, then substring)."""
        for m in reversed(self.history(chat_id)):
            b = m.find_button(button_text)
            if b is not None:
                return m, b
        return None

    async def press(self, user: UserLike, button_text: str, chat: ChatLike = None, *,
                    timeout: float | None = None) -> list[BotMessage]:
        """Press a button by (part of) its text: an inline button of the newest bot message
        that has one, else a reply-keyboard button (sent as text). Raises LookupError."""
        cid = self.chat_id(user, chat)
        hit = self.find_button(cid, button_text)
        if hit is not None:
            msg, button = hit
            if button.url:
                raise LookupError(f"button {button.text!r} is a URL button ({button.data})")
            if button.data is None:
                raise LookupError(f"button {button.text!r} has no callback_data")
            return await self._step(
                lambda: self.server.push_callback(user, msg.message_id, button.data or "", chat), cid, timeout)
        keyboard = self.reply_keyboard(cid) or []
        for row in keyboard:
            for text in row:
                if button_text == text or button_text in text:
                    return await self.send(user, text, chat, timeout=timeout)
        available = [b.text for m in self.history(cid) for b in m.flat_buttons()]
        available += [t for row in keyboard for t in row]
        raise LookupError(f"no button matching {button_text!r} in chat {cid}; available: {available}")

    async def press_data(self, user: UserLike, message_id: int, callback_data: str, chat: ChatLike = None,
                         *, timeout: float | None = None) -> list[BotMessage]:
        """Send a callback with arbitrary data for a message (e.g. forged callbacks)."""
        cid = self.chat_id(user, chat)
        return await self._step(lambda: self.server.push_callback(user, message_id, callback_data, chat),
                                cid, timeout)

    async def photo(self, user: UserLike, path_or_bytes: str | Path | bytes, caption: str | None = None,
                    chat: ChatLike = None, *, timeout: float | None = None) -> list[BotMessage]:
        cid = self.chat_id(user, chat)
        return await self._step(lambda: self.server.push_photo(user, path_or_bytes, caption, chat), cid, timeout)

    async def document(self, user: UserLike, path: str | Path | bytes, caption: str | None = None,
                       chat: ChatLike = None, *, file_name: str | None = None,
                       timeout: float | None = None) -> list[BotMessage]:
        cid = self.chat_id(user, chat)
        return await self._step(
            lambda: self.server.push_document(user, path, caption, chat, file_name=file_name), cid, timeout)

    async def location(self, user: UserLike, lat: float, lon: float, chat: ChatLike = None, *,
                       timeout: float | None = None) -> list[BotMessage]:
        cid = self.chat_id(user, chat)
        return await self._step(lambda: self.server.push_location(user, lat, lon, chat), cid, timeout)

    async def sticker(self, user: UserLike, chat: ChatLike = None, *, timeout: float | None = None) -> list[BotMessage]:
        cid = self.chat_id(user, chat)
        return await self._step(lambda: self.server.push_sticker(user, chat=chat), cid, timeout)

    async def voice(self, user: UserLike, chat: ChatLike = None, *, timeout: float | None = None) -> list[BotMessage]:
        cid = self.chat_id(user, chat)
        return await self._step(lambda: self.server.push_voice(user, chat=chat), cid, timeout)

    async def contact(self, user: UserLike, phone_number: str, chat: ChatLike = None, *,
                      timeout: float | None = None) -> list[BotMessage]:
        cid = self.chat_id(user, chat)
        return await self._step(lambda: self.server.push_contact(user, phone_number, chat=chat), cid, timeout)


def plain(text: str | None) -> str:
    """HTML → readable text (re-exported convenience)."""
    return html_to_text(text or "")

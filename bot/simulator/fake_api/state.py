"""What the fake server knows (users, chats, messages, files) and what users do (``push_*``).

:class:`ChatState` is one part of :class:`~.server.FakeTelegramServer`; the attributes it uses are
created in the server's ``__init__``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import re
import secrets
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from ..html import utf16_len
from .models import CallRecord, ChatLike, SimChat, SimUser, StoredFile, StoredMessage, UserLike, _bad, image_size

log = logging.getLogger("fieldmate.simulator.fake_api")


class ChatState:
    """Users, chats, messages and files; user activity injected as updates; waiting helpers."""

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
        w, h = image_size(data)
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

"""The Bot API methods the fake server implements (each ``_m_<name>``), and their parameter helpers.

:class:`BotMethods` is one part of :class:`~.server.FakeTelegramServer`.
"""

from __future__ import annotations

import json
import mimetypes
import re
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from ..html import HTMLParseError, parse_html
from .models import MAX_CAPTION, MAX_TEXT, StoredFile, StoredMessage, _bad, image_size


class BotMethods:
    """Sending, editing, deleting messages, callback answers, commands, files, chats."""

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
                               "width": image_size(f.data)[0], "height": image_size(f.data)[1],
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

"""The fake Bot API server with the real aiogram polling loop."""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.types import BotCommand, BotCommandScopeChat
from aiohttp import ClientSession

from bot.simulator import Faults, SimUser
from tests.support.waiting import wait_until

LI = SimUser(id=1001, first_name="海波", last_name="李", username="lihaibo")


def tiny_png(w: int = 3, h: int = 2) -> bytes:
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * w for _ in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


async def api(server, method: str, **params):
    async with ClientSession() as s:
        async with s.post(f"{server.base_url}/bot1:x/{method}", data=params) as r:
            return r.status, await r.json()


async def test_send_and_html(bot_env):
    server, driver, _ = bot_env
    out = await driver.send(LI, "/start abc")
    assert [m.text for m in out] == ["欢迎 海波! start=abc"]
    assert out[0].html == "<b>欢迎</b> 海波! start=abc"
    stored = out[0].raw
    assert stored.entities == [{"type": "bold", "offset": 0, "length": 2}]


async def test_long_poll_holds_until_update(server):
    server.add_user(LI)
    task = asyncio.create_task(api(server, "getUpdates", timeout="30"))
    # the request reaches the server and is held (a poll generation exists, no response yet)
    await server.wait_for(lambda: server._poll_generation == 1, 5)
    await asyncio.sleep(0)  # let the handler reach its wait
    assert not task.done()
    uid = server.push_text(LI, "你好")
    status, body = await asyncio.wait_for(task, 5)
    assert status == 200 and body["ok"]
    assert [u["update_id"] for u in body["result"]] == [uid]
    assert body["result"][0]["message"]["text"] == "你好"


async def test_offset_semantics(server):
    server.add_user(LI)
    ids = [server.push_text(LI, f"m{i}") for i in range(3)]
    _, body = await api(server, "getUpdates")
    assert [u["update_id"] for u in body["result"]] == ids
    _, body = await api(server, "getUpdates", offset=str(ids[1]), limit="1")
    assert [u["update_id"] for u in body["result"]] == [ids[1]]
    assert server.is_acked(ids[0]) and not server.is_acked(ids[1])
    _, body = await api(server, "getUpdates", offset=str(ids[2] + 1))
    assert body["result"] == []
    # confirmed updates are never returned again
    _, body = await api(server, "getUpdates", offset=str(ids[0]))
    assert body["result"] == []


async def test_second_poll_terminates_first(server):
    first = asyncio.create_task(api(server, "getUpdates", timeout="30"))
    await server.wait_for(lambda: server._poll_generation == 1, 5)
    second = asyncio.create_task(api(server, "getUpdates", timeout="30"))
    status, body = await asyncio.wait_for(first, 5)
    assert status == 409 and "terminated by other getUpdates" in body["description"]
    server.push_text(LI, "x")
    status, body = await asyncio.wait_for(second, 5)
    assert status == 200 and len(body["result"]) == 1


async def test_unknown_method_and_chat(server):
    status, body = await api(server, "sendDice", chat_id="1")
    assert status == 404 and "sendDice" in body["description"]
    status, body = await api(server, "sendMessage", chat_id="424242", text="hi")
    assert status == 400 and body["description"] == "Bad Request: chat not found"


async def test_validation_errors(bot_env):
    server, driver, bot = bot_env
    server.add_user(LI)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(LI.id, "  ")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(LI.id, "安" * 4097)
    await bot.send_message(LI.id, "安" * 4096)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(LI.id, "<b>x</i>")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(LI.id, "a < b")
    await bot.send_message(LI.id, "a &lt; b &amp; <a href='https://x.y'>link</a> <tg-spoiler>s</tg-spoiler>")
    assert driver.last(LI.id).text == "a < b & link s"
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="x" * 65)]])
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(LI.id, "kb", reply_markup=kb)
    msg = await bot.send_message(LI.id, "same")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("same", chat_id=LI.id, message_id=msg.message_id)
    await bot.edit_message_text("changed", chat_id=LI.id, message_id=msg.message_id)
    stored = server.get_message(LI.id, msg.message_id)
    assert stored.text == "changed" and stored.edits[0]["text"] == "same"
    assert await bot.delete_message(LI.id, msg.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(LI.id, msg.message_id)


async def test_bot_html_error_from_handler(bot_env):
    server, driver, _ = bot_env
    out = await driver.send(LI, "/bad")
    assert out == []
    errors = [c for c in server.calls_for("sendMessage") if c.status == 400]
    assert errors and "can't parse entities" in errors[-1].description


async def test_callback_round_trip(bot_env):
    server, driver, _ = bot_env
    out = await driver.send(LI, "/menu")
    assert out[0].buttons[0][0] == ("已学习", "ack:1", False)
    assert out[0].buttons[1][0].url
    out = await driver.press(LI, "已学习")
    assert len(out) == 1 and out[0].edited and "✅ 已学习" in out[0].text
    assert out[0].buttons == []  # edit without reply_markup removes the keyboard, like Telegram
    answers = [q["answer"] for q in server.callback_queries.values()]
    assert answers == [{"text": "已记录", "show_alert": False, "url": None}]
    with pytest.raises(LookupError):
        await driver.press(LI, "不存在")


async def test_photo_upload_getfile_download(bot_env):
    server, driver, bot = bot_env
    png = tiny_png(3, 2)
    out = await driver.photo(LI, png)
    assert out[0].text == f"收到照片 {len(png)} 字节"
    assert out[1].kind == "photo" and out[1].text == "原图"
    # a bot upload (multipart) can be fetched back with getFile + download
    from aiogram.types import BufferedInputFile
    sent = await bot.send_photo(LI.id, BufferedInputFile(png, "p.png"))
    assert sent.photo[-1].width == 3 and sent.photo[-1].height == 2
    f = await bot.get_file(sent.photo[-1].file_id)
    assert (await bot.download_file(f.file_path)).read() == png
    doc = await bot.send_document(LI.id, BufferedInputFile(b"hello", "a.txt"), caption="文件")
    assert doc.document.file_name == "a.txt"
    again = await bot.send_document(LI.id, doc.document.file_id)
    assert again.document.file_id == doc.document.file_id
    f = await bot.get_file(doc.document.file_id)
    assert (await bot.download_file(f.file_path)).read() == b"hello"


async def test_location_sticker_voice(bot_env):
    server, driver, _ = bot_env
    assert (await driver.location(LI, 30.25, 120.17))[0].text == "位置 30.25,120.17"
    assert (await driver.sticker(LI))[0].text == "请发送文字"
    assert (await driver.voice(LI))[0].text == "请发送文字"


async def test_faults_429_and_403(bot_env):
    server, driver, bot = bot_env
    server.add_user(LI)
    server.faults = Faults(methods={"sendMessage"}, rate_limit_calls={1}, retry_after=(7, 7),
                           forbidden_chats={2002})
    server.add_user(SimUser(id=2002, first_name="王"))
    with pytest.raises(TelegramRetryAfter) as exc:
        await bot.send_message(LI.id, "one")
    assert exc.value.retry_after == 7
    await bot.send_message(LI.id, "two")
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await bot.send_message(2002, "three")
    outcomes = [c.outcome for c in server.calls_for("sendMessage")]
    assert outcomes == ["429", "ok", "403"]


async def test_a_call_whose_client_disconnects_is_still_delivered(server):
    """Like Telegram: a request that arrived is carried out even if the bot dies waiting for the answer
    (the delivery benchmark's SIGKILL relies on this being modelled faithfully)."""
    server.add_user(LI)
    server.faults = Faults(methods={"sendMessage"}, latency=0.3)
    call = asyncio.create_task(api(server, "sendMessage", chat_id=str(LI.id), text="在途消息"))
    await wait_until(lambda: server.inflight > 0, 5)
    call.cancel()  # the client goes away: its connection is closed mid-call
    with pytest.raises(asyncio.CancelledError):
        await call
    await server.wait_for(lambda: len(server.calls_for("sendMessage")) == 1, 5)
    assert [c.outcome for c in server.calls_for("sendMessage")] == ["ok"]
    assert [m.text for m in server.bot_messages(LI.id)] == ["在途消息"]


async def test_faults_are_deterministic():
    def run() -> list:
        f = Faults(rate_limit_probability=0.3, server_error_probability=0.2, seed=42)
        return [f.decide("sendMessage", 1)[1] for _ in range(50)]

    assert run() == run()
    assert any(e and e[0] == 429 for e in run()) and any(e and e[0] == 500 for e in run())


async def test_commands_per_scope(bot_env):
    server, _, bot = bot_env
    await bot.set_my_commands([BotCommand(command="help", description="帮助")])
    await bot.set_my_commands([BotCommand(command="review", description="审核")],
                              scope=BotCommandScopeChat(chat_id=5), language_code="zh")
    assert [c.command for c in await bot.get_my_commands()] == ["help"]
    scoped = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=5), language_code="zh")
    assert [c.command for c in scoped] == ["review"]
    assert server.get_commands({"type": "chat", "chat_id": 5}, "zh")[0]["description"] == "审核"
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == []


async def test_group_mention_entities(bot_env):
    server, driver, _ = bot_env
    wang = SimUser(id=1002, first_name="王")
    group = server.add_group("余山供电所班组", [LI, wang])
    assert await driver.send(LI, "大家好", chat=group) == []
    out = await driver.send(wang, "@fieldmate_bot 今天有什么提示", chat=group)
    assert out[0].text == "echo: @fieldmate_bot 今天有什么提示"
    update = server.all_updates[-1]["message"]
    assert update["chat"]["type"] == "group"
    assert update["entities"] == [{"type": "mention", "offset": 0, "length": 14}]
    server.push_text(LI, "/menu@fieldmate_bot", chat=group)
    assert server.all_updates[-1]["message"]["entities"][0]["type"] == "bot_command"
    await driver.wait_for(group.id, lambda m: "今日安全提示" in m.text)


async def test_get_chat(bot_env):
    server, _, bot = bot_env
    server.add_user(LI)
    chat = await bot.get_chat(LI.id)
    assert chat.id == LI.id and chat.type == "private"


async def test_reply_keyboard_press_sends_text(bot_env):
    server, driver, _ = bot_env
    out = await driver.send(LI, "/kb")
    assert out[0].reply_keyboard == [["❔ 帮助", "🌐 语言"]]
    assert driver.reply_keyboard(LI.id) == [["❔ 帮助", "🌐 语言"]]
    out = await driver.press(LI, "帮助")
    assert out[0].text == "echo: ❔ 帮助"


async def test_media_group_and_edits(bot_env):
    server, driver, bot = bot_env
    from aiogram.types import (
        BufferedInputFile,
        InlineKeyboardButton,
        InlineKeyboardMarkup,
        InputMediaDocument,
        InputMediaPhoto,
    )
    server.add_user(LI)
    msgs = await bot.send_media_group(LI.id, [
        InputMediaPhoto(media=BufferedInputFile(tiny_png(), "a.png"), caption="<b>一</b>"),
        InputMediaPhoto(media=BufferedInputFile(tiny_png(4, 4), "b.png")),
    ])
    assert len(msgs) == 2 and msgs[0].media_group_id == msgs[1].media_group_id
    assert msgs[0].caption == "一" and msgs[1].photo[-1].width == 4
    edited = await bot.edit_message_caption(chat_id=LI.id, message_id=msgs[0].message_id, caption="二")
    assert edited.caption == "二"
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="ok", callback_data="ok")]])
    await bot.edit_message_reply_markup(chat_id=LI.id, message_id=msgs[0].message_id, reply_markup=kb)
    with pytest.raises(TelegramBadRequest, match="not modified"):
        await bot.edit_message_reply_markup(chat_id=LI.id, message_id=msgs[0].message_id, reply_markup=kb)
    assert driver.find_button(LI.id, "ok")[0].message_id == msgs[0].message_id
    docs = await bot.send_media_group(LI.id, [
        InputMediaDocument(media=BufferedInputFile(b"1", "1.txt")),
        InputMediaDocument(media=BufferedInputFile(b"2", "2.txt")),
    ])
    assert [d.document.file_name for d in docs] == ["1.txt", "2.txt"]
    await bot.send_chat_action(LI.id, "typing")
    assert server.chat_actions[-1][1:] == (LI.id, "typing")


async def test_allowed_updates_filter_keeps_polling(server):
    server.add_user(LI)
    sent = await server.call_method("sendMessage", {"chat_id": LI.id, "text": "hi", "reply_markup": {
        "inline_keyboard": [[{"text": "x", "callback_data": "x"}]]}})
    text_uid = server.push_text(LI, "filtered out")
    poll = asyncio.create_task(api(server, "getUpdates", timeout="10",
                                   allowed_updates='["callback_query"]'))
    await server.wait_for(lambda: server.is_acked(text_uid), 5)  # dropped, counted as confirmed
    assert not poll.done()
    cb_uid = server.push_callback(LI, sent["message_id"], "x")
    status, body = await asyncio.wait_for(poll, 5)
    assert [u["update_id"] for u in body["result"]] == [cb_uid]
    assert body["result"][0]["callback_query"]["message"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "x"

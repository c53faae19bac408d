"""Fixtures: a fake Bot API server and a tiny aiogram bot polling it."""

from __future__ import annotations

import pytest
from aiogram import Dispatcher, F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)

from bot.simulator import FakeTelegramServer, SimDriver
from bot.simulator.harness import polling


def echo_router() -> Router:
    router = Router(name="echo")

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        arg = (message.text or "").partition(" ")[2]
        await message.answer(f"<b>欢迎</b> {message.from_user.first_name}! start={arg or '-'}")

    @router.message(Command("menu"))
    async def menu(message: Message) -> None:
        kb = InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="已学习", callback_data="ack:1"),
            InlineKeyboardButton(text="稍后", callback_data="later:1"),
        ], [InlineKeyboardButton(text="官网", url="https://example.com")]])
        await message.answer("今日安全提示：登高作业必须系安全带", reply_markup=kb)

    @router.message(Command("kb"))
    async def keyboard(message: Message) -> None:
        kb = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="❔ 帮助"), KeyboardButton(text="🌐 语言")]],
                                 resize_keyboard=True)
        await message.answer("主菜单", reply_markup=kb)

    @router.message(Command("bad"))
    async def bad(message: Message) -> None:
        await message.answer("<b>unclosed", parse_mode="HTML")

    @router.message(F.photo)
    async def photo(message: Message) -> None:
        file = await message.bot.get_file(message.photo[-1].file_id)
        data = await message.bot.download_file(file.file_path)
        await message.answer(f"收到照片 {len(data.read())} 字节")
        await message.answer_photo(message.photo[-1].file_id, caption="原图")

    @router.message(F.location)
    async def location(message: Message) -> None:
        await message.answer(f"位置 {message.location.latitude:.2f},{message.location.longitude:.2f}")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        if message.chat.type != "private":
            mentioned = any(
                e.type == "mention" and e.extract_from(message.text) == "@fieldmate_bot"
                for e in message.entities or []
            )
            if not mentioned:
                return
        await message.answer(f"echo: {message.text}")

    @router.message()
    async def other(message: Message) -> None:
        await message.answer("请发送文字")

    return router


def callback_router() -> Router:
    router = Router(name="callbacks")

    @router.callback_query(F.data.startswith("ack:"))
    async def ack(query: CallbackQuery) -> None:
        await query.answer("已记录")
        await query.message.edit_text("今日安全提示：登高作业必须系安全带 ✅ 已学习")

    @router.callback_query()
    async def other(query: CallbackQuery) -> None:
        await query.answer("稍后提醒", show_alert=True)

    return router


def build_dispatcher() -> Dispatcher:
    dp = Dispatcher()
    dp.include_routers(callback_router(), echo_router())
    return dp


@pytest.fixture
async def server():
    srv = FakeTelegramServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def bot_env(server):
    """(server, driver, bot) with the tiny bot polling the server."""
    from aiogram.client.default import DefaultBotProperties

    from bot.simulator.harness import make_bot

    bot = make_bot(server, default=DefaultBotProperties(parse_mode="HTML"))
    dp = build_dispatcher()
    async with polling(server, dp, bot):
        yield server, SimDriver(server, quiet=0.1, timeout=5), bot

"""The bot's Bot API session (bot/telegram_api.py): a call's parameters travel as one JSON body, a file upload as
aiogram's multipart form; both arrive whole at the (fake) Bot API server."""
from __future__ import annotations

from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from bot.app import build_bot
from bot.simulator import FakeTelegramServer
from bot.telegram_api import JsonBodySession


async def test_a_message_with_a_keyboard_arrives_as_sent(settings):
    async with FakeTelegramServer() as server:
        user = server.add_user(501, first_name="张三")
        bot = build_bot(settings, server.base_url)
        try:
            assert isinstance(bot.session, JsonBodySession)
            keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="已学习", callback_data="ack:7")]])
            sent = await bot.send_message(user.id, "<b>今日安全学习</b>：登杆前检查杆根", reply_markup=keyboard,
                                          disable_notification=False)
            stored = server.bot_messages(user.id)[-1]
            assert stored.text == "今日安全学习：登杆前检查杆根"  # the HTML parse mode (a default) came along
            assert stored.reply_markup == {"inline_keyboard": [[{"text": "已学习", "callback_data": "ack:7"}]]}
            assert sent.message_id == stored.message_id and sent.reply_markup.inline_keyboard[0][0].callback_data == "ack:7"
        finally:
            await bot.session.close()


async def test_a_file_upload_still_goes_as_a_form(settings):
    async with FakeTelegramServer() as server:
        user = server.add_user(501, first_name="张三")
        bot = build_bot(settings, server.base_url)
        try:
            await bot.send_document(user.id, BufferedInputFile("月度报告".encode(), filename="report.txt"), caption="导出")
            stored = server.bot_messages(user.id)[-1]
            assert stored.document["file_name"] == "report.txt" and stored.caption == "导出"
        finally:
            await bot.session.close()

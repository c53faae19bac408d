"""/help, /language and /cancel: available to every active member."""
from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import membership
from bot.services.membership import Actor
from handlers.ui.access import IsMember
from handlers.ui.callbacks import LanguageChoice
from handlers.ui.menu import Menu

BTN_HELP = __("❔ Help")
BTN_LANGUAGE = __("🌐 Language")
LANGUAGE_NAMES = {"zh": "简体中文", "en": "English"}


def router() -> Router:
    r = Router(name="common")
    r.message.filter(IsMember())
    r.callback_query.filter(IsMember())
    r.message.register(show_help, Command("help"))
    r.message.register(show_help, F.text == BTN_HELP)
    r.message.register(ask_language, Command("language"))
    r.message.register(ask_language, F.text == BTN_LANGUAGE)
    r.callback_query.register(language_chosen, LanguageChoice.filter())
    r.message.register(cancel, Command("cancel"))
    return r


async def show_help(message: Message, actor: Actor, menu: Menu) -> None:
    await message.answer(menu.help_text(actor), reply_markup=menu.keyboard(actor))


async def ask_language(message: Message) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[
            InlineKeyboardButton(text=name, callback_data=LanguageChoice(code=code).pack())
            for code, name in LANGUAGE_NAMES.items()
        ]]
    )
    await message.answer(_("Choose your language:"), reply_markup=keyboard)


async def language_chosen(
    query: CallbackQuery, callback_data: LanguageChoice, session: AsyncSession, actor: Actor, i18n: I18n, menu: Menu
) -> None:
    if callback_data.code not in LANGUAGE_NAMES or actor.member is None:
        await query.answer()
        return
    await membership.set_locale(session, actor.member, callback_data.code)
    with i18n.use_locale(callback_data.code):
        await query.answer()
        await query.message.edit_text(_("Language set to English.") if callback_data.code == "en" else _("Language set to Chinese."))
        await query.message.answer(menu.help_text(actor), reply_markup=menu.keyboard(actor))


async def cancel(message: Message, state: FSMContext, actor: Actor, menu: Menu) -> None:
    if await state.get_state() is None:
        await message.answer(_("Nothing to cancel."), reply_markup=menu.keyboard(actor))
        return
    await state.clear()
    await message.answer(_("Cancelled. Nothing was saved."), reply_markup=menu.keyboard(actor))

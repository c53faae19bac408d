"""Telegram command menus per role (setMyCommands with scopes)."""
from __future__ import annotations

from collections.abc import Iterable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n, get_i18n

from handlers.ui.menu import Menu
from storage.models import Member, Role


async def set_default_commands(bot: Bot, i18n: I18n, menu: Menu) -> None:
    """Everyone's menu: the member commands, in the default language and in English for English clients."""
    with i18n.context():
        for language in ("", "en"):
            with i18n.use_locale(language or i18n.default_locale):
                await bot.set_my_commands(menu.commands_for("member"), scope=BotCommandScopeDefault(), language_code=language or None)


async def refresh_member_commands(bot: Bot, member: Member, menu: Menu, admin_ids: Iterable[int] = ()) -> None:
    """Staff get a per-chat menu with their extra commands; others fall back to the default menu."""
    i18n = get_i18n()
    role = "admin" if member.role == Role.ADMIN or member.telegram_id in admin_ids else (
        "staff" if member.role == Role.SECRETARY else "member"
    )
    scope = BotCommandScopeChat(chat_id=member.telegram_id)
    try:
        if role == "member" or not member.active:
            await bot.delete_my_commands(scope=scope)
            return
        with i18n.use_locale(member.locale or i18n.default_locale):
            await bot.set_my_commands(menu.commands_for(role), scope=scope)
    except TelegramAPIError:
        pass  # a member who never opened the chat has no chat yet; their menu is set on next start


async def set_staff_commands(bot: Bot, i18n: I18n, members: Iterable[Member], admin_ids: Iterable[int],
                             menu: Menu) -> None:
    """At start: every active secretary and admin gets their per-chat menu."""
    admin_ids = set(admin_ids)
    with i18n.context():
        for member in members:
            if member.active and (member.role != Role.MEMBER or member.telegram_id in admin_ids):
                await refresh_member_commands(bot, member, menu, admin_ids)

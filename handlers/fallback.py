"""Last router: members' messages nobody else handled get a hint instead of silence."""
from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.ui.access import IsMember
from handlers.ui.menu import Menu
from handlers.ui.photos import first_of_album


def router() -> Router:
    r = Router(name="fallback")
    r.message.filter(IsMember(), F.chat.type == "private")
    r.message.register(unknown_command, F.text.startswith("/"))
    r.message.register(not_understood)
    r.callback_query.register(stale_button)
    return r


async def unknown_command(message: Message, menu: Menu) -> None:
    """A command no router took: either it exists for a higher role (refuse) or it does not exist."""
    name = message.text.split(maxsplit=1)[0][1:].split("@", 1)[0].lower()
    if name in menu.known_commands:
        await message.answer(_("Sorry, you are not allowed to do that."))
    else:
        await message.answer(_("I don't know that command. Send /help to see what you can do."))


async def not_understood(message: Message, state: FSMContext) -> None:
    if not await first_of_album(message, state):
        return  # one hint per album, not one per photo
    await message.answer(_("I can only read text here. Send /help to see what you can do."))


async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer valid."), show_alert=True)

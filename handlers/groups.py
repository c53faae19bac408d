"""Group chats: personal data (who missed what, reports, questions, talks, invites) is only ever sent to a
private chat. A command or button that would show it, used in a group, answers "message me privately" —
before any feature router sees it, so no feature has to remember. Which commands those are is declared in
the feature registry (`private_only`, injected through `menu`); which buttons, in handlers.ui.callbacks."""
from __future__ import annotations

from typing import Any

from aiogram import Bot, Router
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.ui.access import InPrivateChat, IsMember
from handlers.ui.callbacks import PRIVATE_BUTTONS
from handlers.ui.menu import Menu

_PRIVATE_PREFIXES = {button.__prefix__ for button in PRIVATE_BUTTONS}


class PrivateOnlyCommand(Filter):
    """One of the registry's private-only commands, addressed to this bot (`/acks` or `/acks@thisbot`)."""

    async def __call__(self, message: Message, bot: Bot, menu: Menu, **_: Any) -> bool:
        return bool(await Command(*menu.private_commands)(message, bot))


class PrivateButton(Filter):
    async def __call__(self, query: CallbackQuery, **_: Any) -> bool:
        return (query.data or "").split(":", 1)[0] in _PRIVATE_PREFIXES


def router() -> Router:
    r = Router(name="groups")
    r.message.filter(IsMember(), ~InPrivateChat())
    r.callback_query.filter(IsMember(), ~InPrivateChat())
    r.message.register(message_me_privately, PrivateOnlyCommand())
    r.callback_query.register(button_in_group, PrivateButton())
    return r


def _message_me() -> str:
    return _("Please message me privately: I show this only in a private chat.")


async def message_me_privately(message: Message) -> None:
    await message.reply(_message_me())


async def button_in_group(query: CallbackQuery) -> None:
    await query.answer(_message_me(), show_alert=True)

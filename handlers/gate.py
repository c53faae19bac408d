"""Everything a non-member sends ends here: only the join flow is open to them."""
from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.services.membership import Actor
from handlers.ui.access import IsNotMember
from handlers.ui.menu import how_to_join


def router() -> Router:
    r = Router(name="gate")
    r.message.filter(IsNotMember())
    r.callback_query.filter(IsNotMember())
    r.message.register(refuse_message, F.chat.type == "private")
    r.message.register(ignore_in_group)
    r.callback_query.register(refuse_callback)
    return r


def _refusal(actor: Actor | None) -> str:
    if actor is not None and actor.member is not None and not actor.member.active:
        return _("Your account has been deactivated. Please contact the administrator.")
    return how_to_join()


async def refuse_message(message: Message, actor: Actor | None = None) -> None:
    await message.answer(_refusal(actor))


async def ignore_in_group(message: Message) -> None:
    """Non-members talking in a group are not addressed to us; stay silent."""


async def refuse_callback(query: CallbackQuery, actor: Actor | None = None) -> None:
    await query.answer(_refusal(actor), show_alert=True)

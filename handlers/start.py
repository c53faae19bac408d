"""/start and joining through an invite link: name → confirm branch → welcome."""
from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import refresh_member_commands
from bot.context import App
from bot.services import membership
from bot.services.errors import DomainError
from bot.services.membership import Actor
from handlers.ui.callbacks import JoinChoice
from handlers.ui.menu import Menu, how_to_join
from handlers.ui.notices import secretary_joined
from handlers.ui.render import reply_error
from handlers.ui.states import JoinForm
from storage.models import Role


def router() -> Router:
    r = Router(name="start")
    r.message.filter(F.chat.type == "private")
    r.message.register(start_with_code, CommandStart(deep_link=True))
    r.message.register(start_plain, CommandStart())
    # /help, /language and /cancel always answer, also halfway through joining, and the form waits.
    r.message.register(joining_command, StateFilter(JoinForm.name, JoinForm.confirm), Command("help", "language", "cancel"))
    r.message.register(name_given, JoinForm.name, F.text)
    r.message.register(name_not_text, JoinForm.name)
    r.message.register(confirm_pending, JoinForm.confirm)
    r.callback_query.register(confirm_pressed, JoinChoice.filter())
    return r


async def start_plain(message: Message, state: FSMContext, actor: Actor, menu: Menu) -> None:
    """/start (the button Telegram shows, often tapped again): the menu. A member's open form is kept —
    a form is discarded only when its owner says so."""
    if actor.is_member:
        await message.answer(menu.help_text(actor), reply_markup=menu.keyboard(actor))
        if await state.get_state() is not None:
            await message.answer(_("Your unfinished form is kept. Send the command you used to open it to continue (e.g. /report), or /cancel to discard it."))
        return
    await state.clear()
    if actor.member is not None:
        await message.answer(_("Your account has been deactivated. Please contact the administrator."))
    else:
        await message.answer(how_to_join())


async def start_with_code(
    message: Message, command: CommandObject, state: FSMContext, session: AsyncSession, actor: Actor, app: App
) -> None:
    if actor.member is not None and not actor.is_admin:
        if not actor.member.active:
            await message.answer(_("Your account has been deactivated. Please contact the administrator."))
            return
        await reply_error(message, DomainError("already_member", branch=actor.member.branch.name if actor.member.branch else ""))
        return
    if actor.is_admin:
        await message.answer(_("You are an administrator; invite links are for new members."))
        return
    try:
        invite = await membership.check_invite(session, command.args or "", app.clock.utc_naive())
    except DomainError as error:
        await reply_error(message, error)
        return
    await state.set_state(JoinForm.name)
    await state.update_data(code=invite.code, branch=invite.branch.name)
    await message.answer(
        _("Welcome to {branch}! Please send your real name (2–20 characters), as your colleagues know it.").format(
            branch=escape(invite.branch.name)
        )
    )


async def name_given(message: Message, state: FSMContext) -> None:
    try:
        name = membership.clean_name(message.text)
    except DomainError as error:
        await reply_error(message, error)
        return
    data = await state.update_data(name=name)
    await state.set_state(JoinForm.confirm)
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[
            InlineKeyboardButton(text=_("✅ Confirm"), callback_data=JoinChoice(accept=True).pack()),
            InlineKeyboardButton(text=_("✏️ Change name"), callback_data=JoinChoice(accept=False).pack()),
        ]]
    )
    await message.answer(
        _("Please confirm: <b>{name}</b> joins <b>{branch}</b>.").format(name=escape(name), branch=escape(data["branch"])),
        reply_markup=keyboard,
    )


async def joining_command(message: Message, command: CommandObject, state: FSMContext) -> None:
    if command.command == "cancel":
        await state.clear()
        await message.answer(_("Joining cancelled. Open the invite link again whenever you want to join."))
        return
    step = (_("Please send your real name (2–20 characters).") if await state.get_state() == JoinForm.name.state
            else _("Please press ✅ Confirm or ✏️ Change name above."))
    text = _("You are joining a branch. {step}\nAfter joining, /help lists everything I can do and /language switches the language. Send /cancel to stop joining.")
    await message.answer(text.format(step=step))


async def name_not_text(message: Message) -> None:
    await message.answer(_("Please send your real name as text."))


async def confirm_pending(message: Message) -> None:
    await message.answer(_("Please press ✅ Confirm or ✏️ Change name above."))


async def confirm_pressed(
    query: CallbackQuery, callback_data: JoinChoice, state: FSMContext, session: AsyncSession, actor: Actor, bot: Bot,
    app: App, menu: Menu,
) -> None:
    data = await state.get_data()
    if await state.get_state() != JoinForm.confirm.state or "code" not in data:
        await query.answer(_("This step is already finished."), show_alert=False)
        return
    if not callback_data.accept:
        await state.set_state(JoinForm.name)
        await query.answer()
        await query.message.edit_text(_("Please send your real name again."))
        return
    try:
        member = await membership.join(session, query.from_user.id, data["code"], data["name"],
                                          now=app.clock.utc_naive())
    except DomainError as error:
        await state.clear()
        await reply_error(query, error)
        return
    await state.clear()
    if member.role == Role.SECRETARY:
        await secretary_joined(session, app, member)
    await query.answer()
    await query.message.edit_text(
        _("Welcome, {name}! You are now a member of {branch}.").format(
            name=escape(member.real_name), branch=escape(member.branch.name)
        )
    )
    await refresh_member_commands(bot, member, menu)
    joined = Actor(telegram_id=actor.telegram_id, member=member, is_admin=False)
    await query.message.answer(menu.help_text(joined), reply_markup=menu.keyboard(joined))

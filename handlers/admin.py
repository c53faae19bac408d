"""Branches, invites and member management: admins everywhere, secretaries within their branch."""
from __future__ import annotations

from datetime import timezone
from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import refresh_member_commands
from bot.context import App
from bot.services import membership
from bot.services.errors import DomainError
from bot.services.membership import Actor
from bot.services.parse import is_ascii_number, parse_id
from handlers.ui.access import InPrivateChat, IsAdmin, IsStaff
from handlers.ui.callbacks import InviteButton, MemberAction
from handlers.ui.menu import Menu
from handlers.ui.render import answer_long, reply_error
from storage.models import Member, Role

ROLE_NAMES = {Role.MEMBER: __("member"), Role.SECRETARY: __("secretary"), Role.ADMIN: __("admin")}


def router() -> Router:
    r = Router(name="admin")
    r.message.filter(F.chat.type == "private")
    r.callback_query.filter(InPrivateChat())  # personal data: see handlers/groups.py
    r.message.register(branch_command, Command("branch"), IsAdmin())
    r.message.register(invite_command, Command("invite"), IsStaff())
    r.message.register(invites_command, Command("invites"), IsStaff())
    r.message.register(members_command, Command("members"), IsStaff())
    r.message.register(member_card_command, Command("member"), IsStaff())
    r.callback_query.register(member_action, MemberAction.filter())
    r.callback_query.register(revoke_pressed, InviteButton.filter(), IsStaff())
    return r


async def branch_command(message: Message, command: CommandObject, session: AsyncSession, actor: Actor) -> None:
    args = (command.args or "").split(maxsplit=1)
    try:
        if args and args[0] in ("add", "新增", "添加"):
            if len(args) < 2:
                await message.answer(_("Usage: /branch add NAME"))
                return
            branch = await membership.add_branch(session, args[1], actor.member)
            await message.answer(
                _("Branch {name} created. Create an invite link with /invite {name} member").format(name=escape(branch.name))
            )
            return
    except DomainError as error:
        await reply_error(message, error)
        return
    branches = await membership.list_branches(session)
    if not branches:
        await message.answer(_("No branches yet. Add one with /branch add NAME"))
        return
    lines = [_("<b>Branches</b>")] + [
        ngettext("{name} — {count} member", "{name} — {count} members", count).format(name=escape(branch.name), count=count)
        for branch, count in branches
    ]
    await answer_long(message, "\n".join(lines))


async def invite_command(
    message: Message, command: CommandObject, session: AsyncSession, actor: Actor, bot: Bot, app: App
) -> None:
    """/invite [BRANCH] [member|secretary] [USES] [DAYS]; a secretary's invites are for their own branch."""
    args = (command.args or "").split()
    try:
        if actor.is_admin:
            if not args:
                await message.answer(_("Usage: /invite BRANCH member|secretary [USES] [DAYS]"))
                return
            branch = await membership.require_branch(session, args.pop(0))
        else:
            branch = actor.member.branch
            if args and not is_ascii_number(args[0]) and args[0] not in tuple(Role):
                args.pop(0)  # a secretary naming a branch may only mean their own
        role = args.pop(0) if args and not is_ascii_number(args[0]) else Role.MEMBER
        if role != Role.MEMBER and not actor.is_admin:
            raise DomainError("forbidden")
        if len(args) > 2 or not all(is_ascii_number(arg) for arg in args):
            await message.answer(_("Usage: /invite BRANCH member|secretary [USES] [DAYS]"))
            return
        uses, days = membership.invite_limits(role, *args)
        invite = await membership.create_invite(session, branch, role, uses, days, actor.member,
                                                 now=app.clock.utc_naive())
    except DomainError as error:
        await reply_error(message, error)
        return
    me = await bot.me()
    await message.answer(
        ngettext("Invite link for {branch} ({role}), {uses}, valid {days} day:\n{link}",
                 "Invite link for {branch} ({role}), {uses}, valid {days} days:\n{link}", days).format(
            branch=escape(branch.name), role=ROLE_NAMES[role], uses=ngettext("{uses} use", "{uses} uses", uses).format(uses=uses),
            days=days,
            link=membership.invite_link(me.username, invite),
        )
    )


async def invites_command(message: Message, session: AsyncSession, actor: Actor, app: App) -> None:
    text, markup = await _invite_list(session, actor, app)
    await message.answer(text, reply_markup=markup)


async def _invite_list(session: AsyncSession, actor: Actor, app: App) -> tuple[str, InlineKeyboardMarkup | None]:
    invites = await membership.usable_invites(session, actor, app.clock.utc_naive())
    if not invites:
        return _("No usable invite links."), None
    lines = [_("<b>Usable invite links</b>")]
    rows = []
    for invite in invites:
        until = invite.expires_at.replace(tzinfo=timezone.utc).astimezone(app.settings.tz)
        lines.append(_("#{id} {branch} · {role} · used {uses}/{max} · until {until}").format(
            id=invite.id, branch=escape(invite.branch.name), role=ROLE_NAMES.get(invite.role, invite.role),
            uses=invite.uses, max=invite.max_uses, until=until.strftime("%Y-%m-%d %H:%M")))
        rows.append([InlineKeyboardButton(text=_("Revoke #{id}").format(id=invite.id),
                                          callback_data=InviteButton(invite_id=invite.id).pack())])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def revoke_pressed(query: CallbackQuery, callback_data: InviteButton, session: AsyncSession, actor: Actor,
                         app: App) -> None:
    try:
        invite = await membership.revoke_invite(session, actor, callback_data.invite_id)
    except DomainError as error:
        await reply_error(query, error)
        return
    await query.answer(_("Invite #{id} revoked: the link no longer works.").format(id=invite.id), show_alert=True)
    text, markup = await _invite_list(session, actor, app)
    await query.message.edit_text(text, reply_markup=markup)


async def members_command(message: Message, command: CommandObject, session: AsyncSession, actor: Actor) -> None:
    branch_id = None
    try:
        if command.args and actor.is_admin:
            branch_id = (await membership.require_branch(session, command.args.strip())).id
        members = await membership.list_members(session, actor, branch_id)
    except DomainError as error:
        await reply_error(message, error)
        return
    if not members:
        await message.answer(_("No members yet."))
        return
    lines = [_("<b>Members</b> (/member ID shows one)")] + [_member_line(member) for member in members]
    await answer_long(message, "\n".join(lines))


def _member_line(member: Member) -> str:
    flags = []
    if not member.active:
        flags.append(_("deactivated"))
    if not member.reachable:
        flags.append(_("unreachable"))
    suffix = f" ({', '.join(flags)})" if flags else ""
    branch = escape(member.branch.name) if member.branch else _("no branch")
    return f"{member.id}. {escape(member.real_name)} — {ROLE_NAMES.get(member.role, member.role)} — {branch}{suffix}"


async def member_card_command(message: Message, command: CommandObject, session: AsyncSession, actor: Actor) -> None:
    member_id = parse_id(command.args)
    if member_id is None:
        await message.answer(_("Usage: /member ID (the number from /members)"))
        return
    try:
        member = await membership.get_member_for(session, actor, member_id)
    except DomainError as error:
        await reply_error(message, error)
        return
    await message.answer(_member_line(member), reply_markup=_card_keyboard(member) if actor.is_admin else None)


def _card_keyboard(member: Member) -> InlineKeyboardMarkup:
    new_role = Role.MEMBER if member.role == Role.SECRETARY else Role.SECRETARY
    role_text = _("Make secretary") if new_role == Role.SECRETARY else _("Make member")
    active_text = _("Deactivate") if member.active else _("Reactivate")
    return InlineKeyboardMarkup(inline_keyboard=[
        [
            InlineKeyboardButton(text=role_text, callback_data=MemberAction(action="role", member_id=member.id, role=new_role.value).pack()),
            InlineKeyboardButton(text=_("Move to branch"), callback_data=MemberAction(action="pick_branch", member_id=member.id).pack()),
        ],
        [InlineKeyboardButton(
            text=active_text,
            callback_data=MemberAction(action="active", member_id=member.id, active=not member.active).pack(),
        )],
    ])


async def member_action(
    query: CallbackQuery, callback_data: MemberAction, session: AsyncSession, actor: Actor, bot: Bot, menu: Menu
) -> None:
    """Every press is re-authorized by the service: the callback data is never trusted."""
    try:
        if not actor.is_admin:
            raise DomainError("forbidden")
        member_id = callback_data.member_id
        if callback_data.action == "pick_branch":
            await membership.get_member_for(session, actor, member_id)
            branches = await membership.list_branches(session)
            rows = [[InlineKeyboardButton(
                text=branch.name,
                callback_data=MemberAction(action="move", member_id=member_id, branch_id=branch.id).pack(),
            )] for branch, _count in branches]
            await query.message.edit_reply_markup(reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
            await query.answer()
            return
        if callback_data.action == "role":
            member = await membership.set_role(session, actor, member_id, callback_data.role)
        elif callback_data.action == "move":
            branch = await membership.require_branch(session, callback_data.branch_id)
            member = await membership.move_member(session, actor, member_id, branch)
        else:
            member = await membership.set_active(session, actor, member_id, callback_data.active)
    except DomainError as error:
        await reply_error(query, error)
        return
    await refresh_member_commands(bot, member, menu)
    await query.answer(_("Saved."))
    await query.message.edit_text(_member_line(member), reply_markup=_card_keyboard(member))

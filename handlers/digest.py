"""/digest (a branch's numbers and chart on demand; admins: all branches, worst first; digest times),
/export (a month as an Excel file) and /me (my points). Personal data: private chats only."""
from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.services import digest as digests
from bot.services import membership, points
from bot.services.digest import Period
from bot.services.digest_sections import POINT_CATEGORIES
from bot.services.errors import DomainError
from bot.services.membership import Actor
from handlers.ui.access import IsAdmin, IsMember, IsStaff
from handlers.ui.digest_view import (
    all_branches_text,
    chart_caption,
    chart_png,
    digest_text,
    export_file_name,
    make_scope,
    plan_text,
    workbook_bytes,
)
from handlers.ui.render import answer_long, error_text

DIGEST_ERRORS = {
    "digest_bad_period": __("“{value}” is not a period. Use 本周, 上周, 本月, 上月, a month like 2026-11 or a week like 2026-W47."),
    "digest_bad_time": __("“{value}” is not a time. Use HH:MM, e.g. 08:30."),
    "digest_bad_day": __("“{value}” is not a day. Weekly: 周一…周日 (or mon…sun); monthly: 1–28."),
    "digest_bad_kind": __("Say weekly or monthly (周报 / 月报)."),
    "digest_need_branch": __("Name a branch, e.g. /digest 余山供电所 2026-11."),
}

SCHEDULE_HELP = __(
    "Usage:\n/digest schedule 余山供电所 — show its digest times\n"
    "/digest schedule 余山供电所 weekly 周一 08:30\n/digest schedule 余山供电所 monthly 1 09:00\n"
    "/digest schedule 余山供电所 weekly off"
)
KINDS = {"weekly": digests.WEEKLY, "周报": digests.WEEKLY, "monthly": digests.MONTHLY, "月报": digests.MONTHLY}


def router() -> Router:
    r = Router(name="digest")
    r.message.filter(IsMember(), F.chat.type == "private")  # in groups handlers/groups.py answers 「请私聊我」
    r.message.register(digest_schedule, Command("digest", magic=F.args.regexp(r"^\s*(schedule|时间)\b")), IsAdmin())
    r.message.register(digest_command, Command("digest"), IsStaff())
    r.message.register(export_command, Command("export"), IsStaff())
    r.message.register(not_allowed, Command("digest", "export"))
    r.message.register(me_command, Command("me"))
    return r


async def not_allowed(message: Message) -> None:
    await message.answer(error_text(DomainError("forbidden")))


async def _target(session: AsyncSession, actor: Actor, app: App, args: str | None,
                  period_default: str) -> tuple[int | None, Period]:
    """Split `[branch] [period]`: the last word is the period when it reads as one. Secretaries get their own
    branch; an admin without a branch gets None (all branches)."""
    words = (args or "").split()
    today = app.local_now().date()
    period_text = period_default
    if words:
        try:
            digests.parse_period(words[-1], today)
            period_text = words.pop()
        except DomainError:
            if any(ch.isdigit() for ch in words[-1]):  # meant as a period (2026-13): say what a period looks like
                raise
    period = digests.parse_period(period_text, today)
    if words:
        branch = await membership.require_branch(session, " ".join(words))
        if not actor.can_manage_branch(branch.id):
            raise DomainError("forbidden")
        return branch.id, period
    if actor.is_admin:
        return None, period
    return actor.branch_id, period


async def digest_command(message: Message, command: CommandObject, session: AsyncSession, actor: Actor,
                         app: App) -> None:
    try:
        branch_id, period = await _target(session, actor, app, command.args, "")
    except DomainError as error:
        await message.answer(error_text(error))
        return
    if branch_id is None:
        found = await digests.all_branches(session, lambda b: make_scope(app, b, period), app.digest_sections)
        await answer_long(message, all_branches_text(found, period))
        return
    digest = await digests.build_digest(session, make_scope(app, branch_id, period), app.digest_sections)
    await answer_long(message, digest_text(digest))
    png = await chart_png(digest)
    await message.answer_photo(BufferedInputFile(png, f"digest-{period.label}.png"), caption=chart_caption(digest))


async def export_command(message: Message, command: CommandObject, session: AsyncSession, actor: Actor,
                         app: App) -> None:
    try:
        branch_id, period = await _target(session, actor, app, command.args, "本月")
        if branch_id is None:
            raise DomainError("digest_need_branch")
    except DomainError as error:
        await message.answer(error_text(error))
        return
    digest = await digests.build_digest(session, make_scope(app, branch_id, period), app.digest_sections)
    data = await workbook_bytes(session, app, digest)
    name = export_file_name(digest.branch_name, period)
    await message.answer_document(BufferedInputFile(data, name), caption="📎 " + escape(name))


async def digest_schedule(message: Message, command: CommandObject, session: AsyncSession, actor: Actor,
                          app: App) -> None:
    """/digest schedule BRANCH [weekly|monthly DAY TIME | weekly|monthly off]"""
    words = (command.args or "").split()[1:]
    split = next((n for n, word in enumerate(words) if word.lower() in KINDS), len(words))
    default = digests.default_plan(app.settings)
    try:
        if split == 0:
            await message.answer(str(SCHEDULE_HELP))
            return
        branch = await membership.require_branch(session, " ".join(words[:split]))
        rest = words[split:]
        if not rest:
            plan = await digests.plan_of(session, branch.id, default)
        else:
            kind, values = KINDS[rest[0].lower()], rest[1:]
            off = [v for v in values if v.lower() in ("off", "关闭")]
            times = [v for v in values if ":" in v or "：" in v]
            days = [v for v in values if v not in off and v not in times]
            if len(days) > 1 or len(times) > 1 or (off and (days or times)) or not values:
                await message.answer(str(SCHEDULE_HELP))
                return
            plan = await digests.set_plan(session, branch.id, kind, default, off=bool(off),
                                          day=days[0] if days else None, at=times[0] if times else None)
            from bot.services import audit

            audit.record(session, actor.member, "digest.schedule", "branch", branch.id, args=" ".join(rest))
    except DomainError as error:
        await message.answer(error_text(error))
        return
    await message.answer(_("<b>{branch}</b> digests: {plan}").format(branch=escape(branch.name), plan=plan_text(plan)))


async def me_command(message: Message, session: AsyncSession, actor: Actor, app: App) -> None:
    member = actor.member
    if member is None or member.branch_id is None:
        await message.answer(_("Points are kept for branch members; you are not in a branch."))
        return
    today = app.local_now().date()
    month = digests.parse_period("本月", today)
    year = Period(digests.MONTHLY, today.replace(month=1, day=1), today.replace(year=today.year + 1, month=1, day=1),
                  str(today.year))
    scope = make_scope(app, member.branch_id, month)
    month_table = await points.standings(session, member.branch_id, scope.start_utc, scope.end_utc)
    year_table = await points.standings(session, member.branch_id, scope.utc(year.start), scope.utc(year.end))
    mine = next((s for s in month_table if s.member_id == member.id), None)
    lines = [
        _("<b>My points</b> · {name}").format(name=escape(member.real_name)),
        _("This month: {points} (rank {rank} of {count} in the branch)").format(
            points=mine.points if mine else 0, rank=points.rank_of(month_table, member.id), count=len(month_table)),
        _("This year: {points} (rank {rank} of {count})").format(
            points=next((s.points for s in year_table if s.member_id == member.id), 0),
            rank=points.rank_of(year_table, member.id), count=len(year_table)),
        ngettext("Daily items studied in a row: {days} workday", "Daily items studied in a row: {days} workdays",
                 streak := await points.ack_streak(session, member.id, today)).format(days=streak),
        "",
        _("How to earn points:"),
    ]
    lines += [f"· {_(POINT_CATEGORIES.get(reason, reason))}: +{value}" for reason, value in points.rules(app.settings).items()]
    await message.answer("\n".join(lines))

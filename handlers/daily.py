"""Daily safety item: 「已学习」 and quiz buttons, /today, /acks for secretaries, /schedule for admins."""
from __future__ import annotations

from datetime import date, datetime, timezone
from html import escape

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.services import daily, membership
from bot.services.errors import DomainError
from bot.services.membership import Actor
from handlers.ui.access import IsAdmin, IsMember, IsStaff
from handlers.ui.callbacks import DailyButton
from handlers.ui.daily_view import KIND_LABELS, item_buttons, item_text
from handlers.ui.render import answer_long, error_text, name_list

BTN_TODAY = __("📘 Today's item")

DAILY_ERRORS = {
    "daily_not_yours": __("This button is not for you."),
    "daily_no_quiz": __("This item has no such quiz answer."),
    "daily_bad_time": __("“{value}” is not a time. Use HH:MM, e.g. 07:20."),
    "daily_bad_dates": __("“{value}” is not a date or range. Use 2026-10-01 or 2026-10-01..2026-10-07."),
    "daily_need_branch": __("Name a branch, e.g. /acks 余山供电所."),
}


def router() -> Router:
    r = Router(name="daily")
    r.message.filter(IsMember())
    r.callback_query.filter(IsMember())
    r.callback_query.register(pressed, DailyButton.filter())
    r.message.register(today, Command("today"))
    r.message.register(today, F.text == BTN_TODAY)
    r.message.register(acks, Command("acks"), IsStaff())
    r.message.register(schedule, Command("schedule"), IsAdmin())
    return r



def _local(app: App, naive_utc: datetime) -> datetime:
    return naive_utc.replace(tzinfo=timezone.utc).astimezone(app.settings.tz)


# ------------------------------------------------------------------------------- buttons

async def pressed(query: CallbackQuery, callback_data: DailyButton, session: AsyncSession, actor: Actor, app: App) -> None:
    now, tz, points = app.clock.now(), app.settings.tz, app.settings.points_daily_ack
    try:
        if callback_data.action == "q":
            quiz = await daily.answer_quiz(session, actor.member, callback_data.ack, callback_data.choice,
                                           now=now, tz=tz, points_per_ack=points)
            outcome = quiz.ack
        else:
            quiz = None
            outcome = await daily.acknowledge(session, actor.member, callback_data.ack, now=now, tz=tz,
                                              points_per_ack=points)
    except DomainError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    at = _local(app, outcome.ack.acked_at).strftime("%H:%M")
    if outcome.status == "already":
        note = _("Already recorded at {time}.").format(time=_local(app, outcome.ack.acked_at).strftime("%m-%d %H:%M"))
    elif outcome.status == "late":
        note = _("Recorded late ({time}) for the item of {day}.").format(
            time=_local(app, outcome.ack.acked_at).strftime("%m-%d %H:%M"), day=outcome.ack.day.strftime("%m-%d"))
    else:
        note = _("Recorded at {time}. Stay safe!").format(time=at)
    if outcome.points:
        note += " " + ngettext("+{points} point", "+{points} points", outcome.points).format(points=outcome.points)
    await query.answer(note)
    if query.message is not None:
        keyboard = item_buttons(outcome.item, outcome.ack)
        markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(**b) for b in row] for row in keyboard]) if keyboard else None
        try:
            await query.message.edit_reply_markup(reply_markup=markup)
        except Exception:  # an old or already-edited message: the record is what matters
            pass
        if quiz is not None:
            verdict = _("✅ Correct!") if quiz.correct else _("❌ Not quite. The answer is {answer}.").format(answer=quiz.answer)
            if not quiz.first_answer:
                verdict = _("You answered {choice} before; that answer stands.").format(choice=quiz.choice) + "\n" + verdict
            text = verdict + ("\n" + escape(quiz.explanation) if quiz.explanation else "")
            await query.message.answer(text)


# ------------------------------------------------------------------------------- /today

async def today(message: Message, session: AsyncSession, actor: Actor, app: App) -> None:
    if actor.member is None:
        await message.answer(_("Today's item goes to branch members. Admins can see a branch with /acks <branch>."))
        return
    day = app.local_now().date()
    found = await daily.today_for(session, actor.member, day)
    if found is None:
        schedule = await daily.get_schedule(session, actor.member.branch_id, app.settings.daily_default_time) \
            if actor.member.branch_id else None
        when = schedule.at.strftime("%H:%M") if schedule else app.settings.daily_default_time
        await message.answer(_("No item yet today. Your branch gets it at {time} on its study days.").format(time=when))
        return
    item, ack = found
    keyboard = item_buttons(item, ack)
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(**b) for b in row] for row in keyboard]) if keyboard else None
    text = item_text(item)
    if ack is None:
        text += "\n\n" + _("You joined today: your own items start tomorrow morning.")
    elif ack.acked_at is not None:
        text += "\n\n" + _("✅ You studied this at {time}.").format(time=_local(app, ack.acked_at).strftime("%H:%M"))
    await answer_long(message, text, reply_markup=markup)


# ------------------------------------------------------------------------------- /acks

async def acks(message: Message, command: CommandObject, session: AsyncSession, actor: Actor, app: App) -> None:
    try:
        branch = await _branch_for(session, actor, command.args)
        day = app.local_now().date()
        board = await daily.ack_board(session, branch, day, app.settings.tz)
    except DomainError as error:
        await message.answer(error_text(error))
        return
    await answer_long(message, _ack_text(board, app))


async def _branch_for(session: AsyncSession, actor: Actor, args: str | None):
    if args and args.strip():
        branch = await membership.require_branch(session, args.strip())
        if not actor.can_manage_branch(branch.id):
            raise DomainError("forbidden")
        return branch
    if actor.branch_id is None:
        raise DomainError("daily_need_branch")
    return await membership.require_branch(session, actor.branch_id)


def _ack_text(board: daily.AckBoard, app: App) -> str:
    lines = [_("<b>{branch}</b> · today's item {day}").format(branch=escape(board.branch.name), day=board.day.isoformat())]
    if board.item is None:
        lines.append(_("Not sent yet today."))
    else:
        kind = KIND_LABELS.get(board.item.kind, board.item.kind)
        lines.append(f"[{escape(str(kind))}] " + escape(board.item.text[:60]) + ("…" if len(board.item.text) > 60 else ""))
    done = daily.members_by_state(board, ["acked", "late"])
    waiting = daily.members_by_state(board, ["waiting", "failed"])
    unreachable = daily.members_by_state(board, ["unreachable"])
    new = daily.members_by_state(board, ["new"])
    total = len(board.lines) - len(new)
    lines.append(_("Studied: {done} of {total}").format(done=len(done), total=total))
    for line in done:
        quiz = f" · {line.quiz_choice}{'✓' if line.quiz_correct else '✗'}" if line.quiz_choice else ""
        late = " " + _("(late)") if line.state == "late" else ""
        lines.append(f"✅ {escape(line.member.real_name)} {_local(app, line.acked_at).strftime('%H:%M')}{late}{quiz}")
    if waiting:
        lines.append(_("Not yet:"))
        lines += [f"⏳ {escape(line.member.real_name)}" + (" " + _("(not delivered)") if line.state == "failed" else "")
                  for line in waiting]
    if unreachable:
        lines.append(_("Unreachable (blocked the bot or never started it):"))
        lines += [f"🚫 {escape(line.member.real_name)}" for line in unreachable]
    if new:
        lines.append(_("Joined today, start tomorrow: {names}").format(names=name_list(escape(line.member.real_name) for line in new)))
    return "\n".join(lines)


# ------------------------------------------------------------------------------- /schedule

SCHEDULE_HELP = __(
    "Usage:\n/schedule — all branches\n/schedule 余山供电所 07:20 workdays|everyday\n"
    "/schedule 余山供电所 holiday 2026-10-01..2026-10-07\n/schedule 余山供电所 noholiday 2026-10-01..2026-10-07"
)


async def schedule(message: Message, command: CommandObject, session: AsyncSession, actor: Actor, app: App) -> None:
    args = (command.args or "").split()
    try:
        if not args:
            await answer_long(message, await _all_schedules(session, app))
            return
        keywords = {"workdays", "everyday", "holiday", "noholiday", "工作日", "每天", "节假日", "取消节假日"}
        split = next((n for n, arg in enumerate(args) if arg in keywords or ":" in arg or "：" in arg), len(args))
        if split == 0 or split == len(args):
            await message.answer(str(SCHEDULE_HELP))
            return
        branch = await membership.require_branch(session, " ".join(args[:split]))
        rest = args[split:]
        default = app.settings.daily_default_time
        if rest[0] in ("holiday", "noholiday", "节假日", "取消节假日"):
            if len(rest) != 2:
                await message.answer(str(SCHEDULE_HELP))
                return
            start, end = daily.parse_day_range(rest[1])
            if rest[0] in ("holiday", "节假日"):
                await daily.add_holidays(session, branch.id, start, end)
            else:
                await daily.remove_holidays(session, branch.id, start, end)
        else:
            at, everyday = None, None
            for arg in rest:
                if arg in ("workdays", "工作日"):
                    everyday = False
                elif arg in ("everyday", "每天"):
                    everyday = True
                else:
                    at = arg
            await daily.set_schedule(session, branch.id, at=at, everyday=everyday, default_time=default)
        from bot.services import audit

        audit.record(session, actor.member, "daily.schedule", "branch", branch.id, args=" ".join(rest))
        await message.answer(await _describe(session, app, branch))
    except DomainError as error:
        await message.answer(error_text(error))


async def _describe(session: AsyncSession, app: App, branch) -> str:
    today = app.local_now().date()
    plan = await daily.get_schedule(session, branch.id, app.settings.daily_default_time)
    days = _("every day") if plan.everyday else _("workdays (Mon–Fri)")
    text = _("<b>{branch}</b>: {time}, {days}").format(branch=escape(branch.name), time=plan.at.strftime("%H:%M"), days=days)
    holidays = await daily.upcoming_holidays(session, branch.id, today)
    if holidays:
        text += "\n" + _("No item on: {days}").format(days=", ".join(_compact(holidays)))
    return text


def _compact(days: list[date]) -> list[str]:
    """['2026-10-01..2026-10-07', '2026-12-25'] from single days."""
    ranges: list[list[date]] = []
    for day in days:
        if ranges and (day - ranges[-1][1]).days == 1:
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return [a.isoformat() if a == b else f"{a.isoformat()}..{b.isoformat()}" for a, b in ranges]


async def _all_schedules(session: AsyncSession, app: App) -> str:
    branches = await membership.list_branches(session)
    if not branches:
        return _("No branches yet.")
    parts = [await _describe(session, app, branch) for branch, _count in branches]
    return "\n".join(parts) + "\n\n" + str(SCHEDULE_HELP)

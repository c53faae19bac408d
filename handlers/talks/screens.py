"""What each step of the /talk form shows: its text and its buttons (bot/forms/talk.py is the graph)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.forms.talk import PAST_DAYS, TALK_FORM, TalkDraft
from bot.services.talks import MAX_NOTE, MAX_PLACE, MAX_TOPIC
from handlers.ui.callbacks import TalkFormButton
from handlers.ui.form_screens import FormButtons, Rows, current_answer
from handlers.ui.talk_text import KIND_NAMES, TAG_NAMES, concern_line, follow_up_line, people_names, render_record
from storage.models import Member

PAGE = 8  # names per page of the people list
LIMITS = {"place": MAX_PLACE, "topic": MAX_TOPIC, "c_note": MAX_NOTE, "agreement": MAX_NOTE, "f_what": MAX_NOTE}
DUE_DAYS = (3, 7, 14, 30)


@dataclass
class Context:
    """What a screen needs besides the draft: today (local) and, on picker steps, the branch's members."""

    today: date
    members: list[Member] = field(default_factory=list)


_buttons = FormButtons(TalkFormButton, TALK_FORM)
button, navigation, resume_or_discard = _buttons.button, _buttons.navigation, _buttons.resume_or_discard
_current = current_answer


def _limit(step: str) -> str:
    return _("(at most {max} characters)").format(max=LIMITS[step])


def screen(draft: TalkDraft, ctx: Context) -> tuple[str, Rows]:
    step = draft.step
    if step == "kind":
        rows = [[button(("✓ " if kind == draft.kind else "") + str(name), "kind", step, kind)]
                for kind, name in KIND_NAMES.items()]
        return _("Step 1/8 · What kind of talk was it?"), rows + navigation(draft)
    if step in ("people", "f_owner"):
        return _picker(draft, ctx)
    if step == "date":
        return _date_screen(draft, ctx)
    if step == "place":
        text = _("Step 4/8 · Where did you talk (e.g. the station's meeting room)? {limit}").format(limit=_limit(step))
        return text + _current(draft.place), navigation(draft, _("⏭ No place"))
    if step == "topic":
        text = _("Step 5/8 · The topic, in a few words: {limit}").format(limit=_limit(step))
        return text + _current(draft.topic), navigation(draft)
    if step in ("concerns", "follow_ups"):
        return _list_screen(draft)
    if step == "c_tag":
        rows = [[button(str(name), "tag", step, tag)] for tag, name in TAG_NAMES.items()]
        return _("What area is the concern about?"), rows + navigation(draft)
    if step == "c_note":
        return _("What was raised? {limit}").format(limit=_limit(step)), navigation(draft)
    if step == "c_private":
        rows = [[button(_("👥 Author, secretary and admins"), "private", step, "0")],
                [button(_("🔒 Secretary only (仅书记可见)"), "private", step, "1")]]
        return _("Who may read this concern?"), rows + navigation(draft)
    if step == "agreement":
        text = _("Step 7/8 · What did you agree on (共识)? {limit}").format(limit=_limit(step))
        return text + _current(draft.agreement), navigation(draft, _("⏭ Nothing to record"))
    if step == "f_what":
        return _("What has to be done? {limit}").format(limit=_limit(step)), navigation(draft)
    if step == "f_due":
        rows = [[button(ngettext("in {days} day ({day})", "in {days} days ({day})", days).format(
                            days=days, day=(ctx.today + timedelta(days=days)).isoformat()),
                        "due", step, (ctx.today + timedelta(days=days)).isoformat())] for days in DUE_DAYS]
        return _("By when? Tap a date or type one (e.g. 12-15)."), rows + navigation(draft)
    return confirm_screen(draft)


def _picker(draft: TalkDraft, ctx: Context) -> tuple[str, Rows]:
    step = draft.step
    if step == "people":
        text = _("Step 2/8 · Who did you talk with? Tap the names (several for a group talk). Type part of a name to search, or the name of someone who is not in the bot.")
        text += "\n" + _("Chosen: {names}").format(names=people_names(draft.people))
    else:
        text = _("Who is responsible for it? Tap a name, or type part of one to search.")
    if draft.search:
        text += "\n" + _("🔍 Names containing «{search}»: {count}").format(search=escape(draft.search),
                                                                          count=len(ctx.members))
    pages = max(1, -(-len(ctx.members) // PAGE))
    page = min(max(draft.page, 0), pages - 1)
    rows = []
    for member in ctx.members[page * PAGE:(page + 1) * PAGE]:
        chosen = step == "people" and draft.has_person(member.id, member.real_name)
        rows.append([button(("☑️ " if chosen else "") + member.real_name, "pick", step, str(member.id))])
    pager = []
    if page > 0:
        pager.append(button(_("◀️ Previous"), "page", step, str(page - 1)))
    if page < pages - 1:
        pager.append(button(_("Next page ▶️"), "page", step, str(page + 1)))
    if pager:
        rows.append(pager)
    if draft.search:
        if step == "people" and not any(m.real_name == draft.search for m in ctx.members):
            rows.append([button(_("➕ Add «{name}» (not in the bot)").format(name=draft.search[:20]), "outside", step)])
        rows.append([button(_("✖️ Clear the search"), "clear", step)])
    if step == "people" and draft.people:
        rows.append([button(_("➡️ Next"), "next", step)])
    return text, rows + navigation(draft)


def _date_screen(draft: TalkDraft, ctx: Context) -> tuple[str, Rows]:
    step = draft.step
    days = [ctx.today - timedelta(days=n) for n in range(PAST_DAYS + 1)]
    labels = [_("Today"), _("Yesterday")] + [day.strftime("%m-%d") for day in days[2:]]
    buttons = [button(("✓ " if day.isoformat() == draft.held_on else "") + label, "date", step, day.isoformat())
               for label, day in zip(labels, days)]
    rows = [buttons[:2], buttons[2:5], buttons[5:]]
    text = _("Step 3/8 · When was the talk? Tap a day or type a date (e.g. 11-18). Talks in the future cannot be logged.")
    return text + _current(draft.held_on), rows + navigation(draft)


def _list_screen(draft: TalkDraft) -> tuple[str, Rows]:
    step = draft.step
    if step == "concerns":
        lines = [_("Step 6/8 · Concerns raised (思想, 工作, 安全, 学习, 生活): {count}").format(count=len(draft.concerns))]
        lines += [f"{i}. {concern_line(c)}" for i, c in enumerate(draft.concerns, 1)]
        add, none, items = _("➕ Add a concern"), _("➡️ No concerns"), draft.concerns
    else:
        lines = [_("Step 8/8 · Follow-ups (what, who, by when): {count}").format(count=len(draft.follow_ups))]
        lines += [f"{i}. {follow_up_line(f)}" for i, f in enumerate(draft.follow_ups, 1)]
        add, none, items = _("➕ Add a follow-up"), _("➡️ No follow-ups"), draft.follow_ups
    rows = [[button(add, "add", step)], [button(_("➡️ Next") if items else none, "next", step)]]
    if items:
        rows.insert(1, [button(_("🗑 Remove the last one"), "drop", step)])
    return "\n".join(lines), rows + navigation(draft)


def confirm_screen(draft: TalkDraft) -> tuple[str, Rows]:
    step = "confirm"
    text = _("Please check the talk record.") + "\n\n" + render_record(draft.answers())
    edits = [("kind", _("✏️ Kind")), ("people", _("✏️ People")), ("date", _("✏️ Date")), ("place", _("✏️ Place")),
             ("topic", _("✏️ Topic")), ("concerns", _("✏️ Concerns")), ("agreement", _("✏️ Agreement")),
             ("follow_ups", _("✏️ Follow-ups"))]
    rows = [[button(label, "edit", step, part) for part, label in edits[i:i + 3]] for i in range(0, len(edits), 3)]
    rows.append([button(_("✅ Save"), "submit", step), button(_("✖️ Cancel"), "cancel", step)])
    return text, rows


def overflow_keyboard(draft: TalkDraft) -> InlineKeyboardMarkup:
    return _buttons.overflow(draft, LIMITS[draft.step])


def redirect_notice(reason: str, params: dict) -> str:
    if reason == "no_people":
        return _("Please choose at least one person you talked with.")
    if reason == "before_joined":
        return _("{name} joined on {date}; the talk cannot be earlier. Please choose another day.").format(
            name=escape(params["name"]), date=params["date"])
    raise ValueError(f"no text for redirect {reason!r}")

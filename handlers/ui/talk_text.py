"""Texts of talks shared by the /talk form, /talks and the notices jobs send: kind and tag names, the reasons
of 「待谈」, and a talk rendered for one reader (only what bot.services.talks.view_talk lets them see)."""
from __future__ import annotations

from html import escape
from typing import Any

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from bot.services.talks import Reason, TalkView
from storage.models import TalkFollowUp

KIND_NAMES = {
    "heart": __("谈心谈话"),
    "safety": __("Safety talk (安全谈话)"),
    "onboarding": __("New-hire talk (新员工入职谈话)"),
    "violation": __("Talk after a violation (违章后谈话)"),
    "other": __("Other talk"),
}
TAG_NAMES = {
    "thought": __("Thinking (思想)"),
    "work": __("Work (工作)"),
    "safety": __("Safety (安全)"),
    "study": __("Learning (学习)"),
    "life": __("Life (生活)"),
}
REASONS = {
    "new_hire": __("joined on {date} and has had no entry talk yet"),
    "violation": __("a violation in the {month} report"),
    "report_returned": __("the {month} report was returned"),
    "missed_reports": __("{count} of the last {months} monthly reports missing"),
    "missed_daily": __("the daily item unacknowledged on {count} of the last {days} workdays"),
    "no_talk_quarter": __("party member without a recorded talk in {quarter}"),
    "no_secretary_talk": __("no talk with the secretary in {year}"),
}

TALK_ERRORS = {
    "talk_not_found": __("This talk does not exist or is not yours to see."),
    "talk_not_allowed": __("Talks are logged by secretaries, committee members and party members of a branch."),
    "talk_bad_kind": __("Please choose the kind of talk with the buttons."),
    "talk_future_date": __("A talk cannot be in the future. Please choose today or an earlier day."),
    "talk_before_joined": __("{name} joined on {date}; the talk cannot be earlier. Please choose another day."),
    "talk_with_self": __("You cannot log a talk with yourself. Please choose someone else."),
    "talk_other_branch": __("{name} is not in your branch; talks are logged within a branch."),
    "talk_inactive_member": __("{name} is deactivated and cannot take part."),
    "talk_no_people": __("Please choose at least one person you talked with."),
    "talk_too_many_people": __("A talk can have at most {max} people."),
    "talk_topic_empty": __("The topic is missing. Please type it."),
    "talk_text_too_long": __("The text is {length} characters long; the limit is {max}."),
    "talk_too_many_items": __("At most {max} concerns and {max} follow-ups."),
    "talk_bad_tag": __("Please choose the tag with the buttons."),
    "talk_note_required": __("Please describe it in a few words."),
    "talk_due_before_talk": __("A follow-up cannot be due before the talk."),
    "talk_owner_outside": __("A follow-up owner must be an active member of your branch."),
    "talk_name_invalid": __("Please type a name of 2–{max} letters."),
    "talk_follow_up_not_found": __("This follow-up does not exist or is not yours."),
    "talk_follow_up_done": __("This follow-up is already done."),
    "talk_bad_date": __("That is not a date. Please write it like 11-18 or 2026-11-18, or tap a button."),
    "talk_due_past": __("A follow-up cannot be due before today or before the talk. Please choose a later day."),
    "talk_bad_quarter": __("{value} is not a quarter; write it like 2026Q4."),
}


def kind_name(kind: str | None) -> str:
    return str(KIND_NAMES.get(kind or "", kind or "—"))


def reason_text(reason: Reason) -> str:
    return str(REASONS[reason.code]).format(**reason.params)


def people_names(people: list[dict[str, Any]]) -> str:
    return "、".join(escape(p["name"]) for p in people) or "—"


def follow_up_line(item: dict[str, Any] | TalkFollowUp, owner: str | None = None) -> str:
    if isinstance(item, TalkFollowUp):
        what, due, done = item.what, item.due_date.isoformat(), item.done_at is not None
    else:
        what, due, done = item["what"], item["due"], False
        owner = owner or item.get("owner_name")
    mark = "✅ " if done else ""
    return mark + _("{what} — owner: {owner}, due {due}").format(what=escape(what), owner=escape(owner or "—"), due=due)


def concern_line(concern: dict[str, Any]) -> str:
    private = " 🔒" + _("secretary only") if concern.get("secretary_only") else ""
    return f"[{TAG_NAMES.get(concern['tag'], concern['tag'])}] {escape(concern['note'])}{private}"


def render_record(data: dict[str, Any], author: str | None = None) -> str:
    """A whole talk record (the form's summary; the notes view of /talks) from the form-shaped dict."""
    lines = [_("<b>{kind}</b> · {date}").format(kind=kind_name(data.get("kind")), date=data.get("held_on") or "—")]
    if author:
        lines.append(_("Recorded by: {name}").format(name=escape(author)))
    lines.append(_("With: {names}").format(names=people_names(data.get("people") or [])))
    lines.append(_("Place: {place}").format(place=escape(data.get("place") or "—")))
    lines.append(_("Topic: {topic}").format(topic=escape(data.get("topic") or "—")))
    concerns = data.get("concerns") or []
    lines.append(_("Concerns: {count}").format(count=len(concerns)))
    lines += [f"  {i}. {concern_line(c)}" for i, c in enumerate(concerns, 1)]
    lines.append(_("Agreement: {text}").format(text=escape(data.get("agreement") or "—")))
    if "follow_ups" in data:  # a stored talk lists them with their owners and state (render_view)
        follow_ups = data["follow_ups"] or []
        lines.append(_("Follow-ups: {count}").format(count=len(follow_ups)))
        lines += [f"  {i}. {follow_up_line(f)}" for i, f in enumerate(follow_ups, 1)]
    return "\n".join(lines)


def render_view(view: TalkView, owners: dict[int, str]) -> str:
    """A stored talk for one reader: the notes only when `view` allows them."""
    talk = view.talk
    people = [{"name": p.name + (" ✓" if p.confirmed_at else "")} for p in talk.participants]
    if not view.shows_notes:
        lines = [_("<b>{kind}</b> · {date}").format(kind=kind_name(talk.kind), date=talk.held_on.isoformat()),
                 _("Recorded by: {name}").format(name=escape(view.author_name)),
                 _("With: {names}").format(names=people_names(people)),
                 _("Follow-ups: {count}").format(count=len(talk.follow_ups))]
        lines += [f"  {i}. {follow_up_line(f, owners.get(f.owner_id))}" for i, f in enumerate(talk.follow_ups, 1)]
        lines.append(_("(The notes of a talk are kept by the branch secretary.)"))
        return "\n".join(lines)
    data = {"kind": talk.kind, "held_on": talk.held_on.isoformat(), "people": people, "place": talk.place,
            "topic": talk.topic, "agreement": talk.agreement,
            "concerns": [{"tag": c.tag, "note": c.note, "secretary_only": c.secretary_only} for c in view.concerns]}
    text = render_record(data, author=view.author_name)
    lines = [_("Follow-ups: {count}").format(count=len(talk.follow_ups))]
    lines += [f"  {i}. {follow_up_line(f, owners.get(f.owner_id))}" for i, f in enumerate(talk.follow_ups, 1)]
    return text + "\n" + "\n".join(lines)

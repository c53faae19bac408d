"""Texts of the 四不伤害 report shared by the form, the review screens and the notifications.

Everything is rendered from the form-data dict (see bot.services.reports.report_to_form), so the member's
summary before confirming and the secretary's review screen show a report the same way."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from typing import Any

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.i18n import lazy_gettext as __

from bot.context import App
from bot.services.item_rules import ItemRule
from storage.models.reports import SECTIONS

SECTION_TITLES = {
    "self": __("Not harming myself"),
    "others": __("Not harming others"),
    "by_others": __("Not being harmed by others"),
    "protect": __("Protecting others from harm"),
}
STATUS_NAMES = {
    "draft": __("draft"),
    "submitted": __("awaiting review"),
    "returned": __("returned for changes"),
    "approved": __("approved"),
}
URGENCY_NAMES = {"一般": __("normal"), "较大": __("serious"), "重大": __("major")}


@contextmanager
def in_locale(app: App, locale: str | None) -> Iterator[None]:
    """Render for a recipient other than the current user (notifications, scheduler jobs)."""
    chosen = locale if locale in app.i18n.available_locales else app.i18n.default_locale
    with app.i18n.context(), app.i18n.use_locale(chosen):
        yield


def month_label(month: str) -> str:
    year, number = month.split("-")
    return _("{year}-{month}").format(year=year, month=number)


def _line(label: str, value: str | None) -> str:
    return f"<b>{label}</b>：{escape(value)}" if value else f"<b>{label}</b>：—"


def render_report(data: dict[str, Any], *, member_name: str | None = None, branch_name: str | None = None,
                  status: str | None = None, comment: str | None = None) -> str:
    """The whole report as HTML (long ones are split by answer_long)."""
    lines = [_("<b>四不伤害 report — {month}</b>").format(month=month_label(data["month"]))]
    if member_name:
        lines.append(_("Member: {name}").format(name=escape(member_name)))
    if branch_name:
        lines.append(_("Branch: {branch}").format(branch=escape(branch_name)))
    if status:
        lines.append(_("Status: {status}").format(status=STATUS_NAMES.get(status, status)))
    if comment:
        lines.append(_("Secretary's comment: {comment}").format(comment=escape(comment)))
    lines += ["", _line(_("Summary"), data.get("summary"))]
    for name in SECTIONS:
        did, example = data.get(f"{name}_did"), data.get(f"{name}_example")
        lines.append(f"<b>{SECTION_TITLES[name]}</b>")
        if did:
            lines.append("  " + _("What I did: {text}").format(text=escape(did)))
            if example:
                lines.append("  " + _("Example: {text}").format(text=escape(example)))
        else:
            lines.append("  " + _("(skipped)"))
    hazards = data.get("hazards") or []
    lines.append(_("<b>Hazards</b>: {count}").format(count=len(hazards)))
    for index, hazard in enumerate(hazards, 1):
        lines.append("  " + hazard_line(index, hazard))
    violations = data.get("violations") or []
    lines.append(_("<b>Violations</b>: {count}").format(count=len(violations)))
    for index, violation in enumerate(violations, 1):
        photo = _(" (photo)") if violation.get("photos") else ""
        lines.append("  " + with_rule(f"{index}. {escape(violation['description'])}{photo}", violation))
    lines.append(_line(_("Suggestions"), data.get("suggestions")))
    return "\n".join(lines)


def hazard_line(index: int, hazard: dict[str, Any]) -> str:
    if hazard.get("place"):
        place = escape(hazard["place"])
    elif hazard.get("latitude") is not None:
        place = f"📍{hazard['latitude']:.5f},{hazard['longitude']:.5f}"
    else:
        place = "—"
    urgency = URGENCY_NAMES.get(hazard.get("urgency") or "一般", hazard.get("urgency"))
    count = len(hazard.get("photos") or [])
    photos = ngettext("{count} photo", "{count} photos", count).format(count=count) if count else _("no photos")
    line = _("{index}. [{urgency}] {text} — place: {place}, {photos}").format(
        index=index, urgency=urgency, text=escape(hazard["description"]), place=place, photos=photos
    )
    return with_rule(line, hazard)


def with_rule(line: str, item: dict[str, Any]) -> str:
    """A hazard's or violation's line, with the rule it breaks under it when it has one."""
    rule = ItemRule.from_dict(item.get("rule"))
    return line + "\n     " + rule_line(rule) if rule else line


def rule_line(rule: ItemRule) -> str:
    """「相关规定：《…》 16.5.2.6」 under a hazard or violation (the summary, the review, the item lists), with the
    clause's first words so the member can judge whether it fits."""
    line = _("Related rule: {rule}").format(rule=escape(rule.citation))
    return line + f"「{escape(rule.excerpt)}」" if rule.excerpt else line


REPORT_ERRORS = {
    "report_not_found": __("This report does not exist or is not yours to see."),
    "report_changed": __("The report was changed since you opened it. Please open it again."),
    "report_not_pending": __("This report is no longer waiting for review."),
    "report_decided": __("Another reviewer has just decided on this report. Nothing was changed."),
    "report_own": __("You cannot review your own report; it goes to another reviewer."),
    "report_comment_required": __("A comment is required to return a report."),
    "report_exists": __("Your report for {month} is already submitted and waiting for review."),
    "report_already_approved": __("Your report for {month} is already approved."),
    "report_summary_missing": __("The summary is missing."),
    "report_sections_missing": __("Please fill in at least {min} of the four sections."),
    "report_answer_too_long": __("An answer is longer than {max} characters."),
    "report_too_many_photos": __("A hazard can have at most {max} photos."),
    "report_bad_urgency": __("Please choose the urgency with the buttons."),
    "hazard_not_found": __("This hazard does not exist or is not in your branch."),
    "action_not_found": __("This action does not exist or is not yours."),
    "action_due_in_past": __("The due date is in the past."),
    "action_note_required": __("Please describe what was done."),
    "hazard_has_action": __("The hazard 「{hazard}」 has a corrective action set up by your secretary, so it stays in the report. Ask your secretary if it should be closed."),
}


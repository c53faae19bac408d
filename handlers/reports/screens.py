"""What each step of the 四不伤害 form shows: its text and its buttons (bot/forms/report.py is the graph)."""
from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.forms.report import REPORT_FORM, SECTION_STEPS, ReportDraft
from bot.services.membership import Actor
from bot.services.item_rules import ITEM_KINDS, ItemKind, ItemRule
from bot.services.reports import MAX_ANSWER, MAX_HAZARD_PHOTOS, MIN_SECTIONS
from handlers.ui.callbacks import ReportFormButton, RuleButton, rule_button_clause
from handlers.ui.form_screens import FormButtons, Rows, current_answer
from handlers.ui.report_text import SECTION_TITLES, hazard_line, month_label, render_report, with_rule
from storage.models.reports import SECTIONS, Urgency

_buttons = FormButtons(ReportFormButton, REPORT_FORM)
button, navigation, resume_or_discard = _buttons.button, _buttons.navigation, _buttons.resume_or_discard
_current = current_answer


def screen(draft: ReportDraft, actor: Actor | None) -> tuple[str, Rows]:
    step = draft.step
    limit = _("(at most {max} characters)").format(max=MAX_ANSWER)
    if step == "month":
        rows = [[button(month_label(m), "month", step, m)] for m in draft.month_choices]
        return _("Which month is this report for?"), rows + navigation(draft)
    if step == "summary":
        text = _("Report for {month}.").format(month=month_label(draft.month)) + "\n"
        text += _("Step 1/6 · In a few sentences, what was your work this month? {limit}").format(limit=limit)
        rows = []
        if len(draft.month_choices) > 1:
            rows.append([button(("✓ " if m == draft.month else "📅 ") + month_label(m), "month", step, m)
                         for m in draft.month_choices])
        return text + _current(draft.summary), rows + navigation(draft)
    if step in SECTION_STEPS:
        return _section_screen(draft, limit)
    if step in ("hazards", "violations"):
        return _list_screen(draft)
    if step == "hz_desc":
        return _("Describe the hazard: what is wrong, and why is it dangerous? {limit}").format(limit=limit), navigation(draft)
    if step == "hz_place":
        return _("Where is it? Send the place as text, or share a location (📎 → Location)."), navigation(draft)
    if step == "hz_photos":
        count = len((draft.item or {}).get("photos", []))
        text = _("Send up to {max} photos of the hazard, one at a time ({count} so far). Press ✅ Done when finished.").format(
            max=MAX_HAZARD_PHOTOS, count=count)
        return text, [[button(_("✅ Done") if count else _("⏭ No photos"), "skip", step)]] + navigation(draft)
    if step == "hz_urgency":
        rows = [[button(_("Normal (一般)"), "urgency", step, Urgency.NORMAL),
                 button(_("Serious (较大)"), "urgency", step, Urgency.SERIOUS),
                 button(_("Major (重大)"), "urgency", step, Urgency.MAJOR)]]
        return _("How urgent is it?"), rows + navigation(draft)
    if step == "vi_desc":
        return _("Describe the violation you saw (no names needed). {limit}").format(limit=limit), navigation(draft)
    if step == "vi_photo":
        return _("Send one photo of it, or skip."), navigation(draft, _("⏭ No photo"))
    if step == "suggestions":
        return (_("Step 5/6 · Any suggestions (金点子) for safer work? {limit}").format(limit=limit)
                + _current(draft.suggestions), navigation(draft, _("⏭ No suggestions")))
    return confirm_screen(draft, actor)


def _section_screen(draft: ReportDraft, limit: str) -> tuple[str, Rows]:
    step = draft.step
    name, part = step.rsplit("_", 1)
    title = SECTION_TITLES[name]
    answer = _current(getattr(draft, step))
    if part == "example":
        text = _("「{title}」: a concrete example (date, place, what happened)?").format(title=title)
        return text + answer, navigation(draft, _("⏭ No example"))
    text = _("Step 2/6 · 「{title}」: what did you do? {limit}").format(title=title, limit=limit)
    if name == SECTIONS[0]:  # the rule is told where it applies, not only when it is broken
        text += "\n" + _("Fill in at least {min} of the four sections; you may skip the others.").format(min=MIN_SECTIONS)
    return text + answer, navigation(draft, _("⏭ Skip this section"))


def _list_screen(draft: ReportDraft) -> tuple[str, Rows]:
    step = draft.step
    if step == "hazards":
        items = draft.hazards
        lines = [_("Step 3/6 · Hazards (隐患) you found this month: {count}").format(count=len(items))]
        lines += [hazard_line(i, h) for i, h in enumerate(items, 1)]
        add, none = _("➕ Add a hazard"), _("➡️ No hazards")
    else:
        items = draft.violations
        lines = [_("Step 4/6 · Violations (违章) you saw this month: {count}").format(count=len(items))]
        lines += [with_rule(f"{i}. {escape(v['description'])}", v) for i, v in enumerate(items, 1)]
        add, none = _("➕ Add a violation"), _("➡️ No violations")
    rows = [[button(add, "add", step)], [button(_("➡️ Next") if items else none, "next", step)]]
    if items:
        rows.insert(1, [button(_("🗑 Remove the last one"), "drop", step)])
    rows = rule_buttons(draft, step, step) + rows  # the list's own rules (kind = step)
    return "\n".join(lines), rows + navigation(draft)


RULE_BUTTONS_MAX = 100  # RuleButton.index is bounded to 0–99


def rule_buttons(draft: ReportDraft, kind: ItemKind, step: str) -> Rows:
    """One 「去掉第n条隐患/违章的相关规定」 button per hazard or violation (`kind`) that has a rule (on its list
    and on the summary)."""
    rows = []
    for index, item in enumerate(getattr(draft, kind)):
        rule = ItemRule.from_dict(item.get("rule"))
        clause = rule_button_clause(rule.clause) if rule else ""
        if clause and index < RULE_BUTTONS_MAX:
            data = RuleButton(kind=kind, step=step, index=index, clause=clause).pack()
            rows.append([InlineKeyboardButton(text=_remove_text(kind, index + 1), callback_data=data)])
    return rows


def _remove_text(kind: ItemKind, n: int) -> str:
    if kind == "violations":
        return _("🗑 Remove the rule of violation {n}").format(n=n)
    return _("🗑 Remove the rule of hazard {n}").format(n=n)


def confirm_screen(draft: ReportDraft, actor: Actor | None) -> tuple[str, Rows]:
    branch = actor.member.branch.name if actor and actor.member and actor.member.branch else None
    text = _("Step 6/6 · Please check your report.") + "\n\n" + render_report(draft.answers(), comment=draft.return_comment)
    if branch:
        text += "\n\n" + _("It goes to <b>{branch}</b>, the branch you belong to when you submit.").format(
            branch=escape(branch))
    step = "confirm"
    rows = [[button(_("✏️ Summary"), "edit", step, "summary"), button(_("✏️ Four sections"), "edit", step, "sections")],
            [button(_("✏️ Hazards"), "edit", step, "hazards"), button(_("✏️ Violations"), "edit", step, "violations"),
             button(_("✏️ Suggestions"), "edit", step, "suggestions")]]
    if len(draft.month_choices) > 1 and not draft.report_id:
        rows.append([button(_("✏️ Month"), "edit", step, "month")])
    for kind in ITEM_KINDS:
        rows += rule_buttons(draft, kind, step)
    rows.append([button(_("✅ Submit"), "submit", step), button(_("✖️ Cancel"), "cancel", step)])
    return text, rows


def overflow_keyboard(draft: ReportDraft) -> InlineKeyboardMarkup:
    return _buttons.overflow(draft, MAX_ANSWER)


def redirect_notice(reason: str, params: dict) -> str:
    if reason == "too_few_sections":
        return _("Please fill in at least {min} of the four sections (you have {count}).").format(**params)
    raise ValueError(f"no text for redirect {reason!r}")

"""Buttons every form screen has, built once for each form: the form's own callback class (so a button of one
form never acts on another) and its step graph (so 「上一步」 is offered only when there is a step before)."""
from __future__ import annotations

from html import escape

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.forms.engine import FormDraft, FormGraph

Rows = list[list[InlineKeyboardButton]]


def keyboard(rows: Rows) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=rows)


def current_answer(value: str | None) -> str:
    """The answer already given on this step (shown again when the member comes back to it)."""
    return "\n" + _("Current answer: {text}").format(text=escape(value)) if value else ""


class FormButtons:
    def __init__(self, callback: type[CallbackData], graph: FormGraph) -> None:
        self.callback, self.graph = callback, graph

    def button(self, text: str, action: str, step: str = "", value: str = "") -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=self.callback(action=action, step=step, value=value).pack())

    def navigation(self, draft: FormDraft, skip: str | None = None) -> Rows:
        """Skip (where the step allows it), back (except on the first step) and cancel."""
        rows = [[self.button(skip, "skip", draft.step)]] if skip else []
        last = [self.button(_("✖️ Cancel"), "cancel", draft.step)]
        if not self.graph.is_first(draft):
            last.insert(0, self.button(_("⬅️ Back"), "back", draft.step))
        rows.append(last)
        return rows

    def resume_or_discard(self) -> InlineKeyboardMarkup:
        return keyboard([[self.button(_("▶️ Continue"), "resume"), self.button(_("🗑 Discard"), "discard")]])

    def overflow(self, draft: FormDraft, limit: int) -> InlineKeyboardMarkup:
        """For an over-long answer: keep its first `limit` characters, or go back/cancel."""
        trim = self.button(_("✂️ Keep the first {max} characters").format(max=limit), "trim", draft.step)
        return keyboard([[trim]] + self.navigation(draft))

"""How the daily item looks: the message text, its buttons, and the callback data they carry.

Shared by the push (schedulers/daily.py renders each member's message in their language before it is
written to the outbox) and the handlers (/today shows the same message again)."""
from __future__ import annotations

from html import escape

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from handlers.ui.callbacks import DailyButton
from storage.models import DailyAck, DailyItem, Member

KIND_LABELS = {"禁令": __("Prohibition"), "安规": __("Safety rule"), "案例": __("Case"), "提示": __("Tip")}


def item_text(item: DailyItem, day_label: str | None = None) -> str:
    kind = KIND_LABELS.get(item.kind)
    heading = _("📘 <b>Today's safety item</b>") + (f" · {kind}" if kind else f" · {escape(item.kind)}")
    if day_label:
        heading += f" · {escape(day_label)}"
    parts = [heading, escape(item.text)]
    if item.source:
        parts.append("—— " + escape(item.source))
    if item.quiz:
        options = "\n".join(f"{'ABCD'[n]}. {escape(option)}" for n, option in enumerate(item.quiz["options"]))
        parts.append(_("❓ <b>Quiz:</b> {question}").format(question=escape(item.quiz["question"])) + "\n" + options)
    return "\n\n".join(parts)


def item_buttons(item: DailyItem, ack: DailyAck | None) -> list[list[dict]] | None:
    if ack is None:
        return None
    rows: list[list[dict]] = []
    if item.quiz and ack.quiz_choice is None:
        rows.append([{"text": "ABCD"[n], "callback_data": DailyButton(action="q", ack=ack.id, choice=n).pack()}
                     for n in range(len(item.quiz["options"]))])
    if ack.acked_at is None:
        rows.append([{"text": _("✅ Studied"), "callback_data": DailyButton(action="a", ack=ack.id).pack()}])
    return rows or None


def render_for(i18n: I18n, default_locale: str):
    """A `render(member, item, ack)` for bot.services.daily.push_branch, in each member's language."""

    def render(member: Member, item: DailyItem, ack: DailyAck) -> tuple[str, list[list[dict]] | None]:
        locale = member.locale if member.locale in i18n.available_locales else default_locale
        with i18n.context(), i18n.use_locale(locale):
            return item_text(item), item_buttons(item, ack)

    return render

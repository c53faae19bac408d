"""The reply keyboard with each person's main actions, and the command menu per role."""
from __future__ import annotations

from aiogram.types import BotCommand, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from bot.services.membership import Actor

BTN_HELP = __("❔ Help")
BTN_LANGUAGE = __("🌐 Language")

# (command, description, who): who is "member", "staff" (secretary or admin) or "admin".
COMMANDS: list[tuple[str, object, str]] = [
    ("help", __("What I can do for you"), "member"),
    ("language", __("Switch language"), "member"),
    ("cancel", __("Cancel the current form"), "member"),
    ("ask", __("Ask a question (also in groups)"), "member"),
    ("report", __("File the monthly 四不伤害 report"), "member"),
    ("review", __("Review the branch's reports"), "staff"),
    ("actions", __("Corrective actions for hazards"), "member"),  # owners mark their actions done
    ("members", __("Members of the branch"), "staff"),
    ("invite", __("Create an invite link"), "staff"),
    ("branch", __("Branches: list or add"), "admin"),
    ("gaps", __("Questions the knowledge base could not answer"), "admin"),
    ("today", __("Today's safety item again"), "member"),
    ("acks", __("Who studied today's item"), "staff"),
    ("schedule", __("Daily item time and holidays per branch"), "admin"),
]


def _allowed(who: str, role: str) -> bool:
    order = {"member": 0, "staff": 1, "admin": 2}
    return order[who] <= order[role]


def role_of(actor: Actor) -> str:
    return "admin" if actor.is_admin else "staff" if actor.is_secretary else "member"


def commands_for(role: str) -> list[BotCommand]:
    return [BotCommand(command=name, description=str(text)) for name, text, who in COMMANDS if _allowed(who, role)]


def main_keyboard(actor: Actor) -> ReplyKeyboardMarkup:
    rows = [[KeyboardButton(text=_("❔ Help")), KeyboardButton(text=_("🌐 Language"))]]
    rows.insert(0, [KeyboardButton(text=_("📝 四不伤害"))])  # the monthly report (handlers/reports.py)
    rows.insert(0, [KeyboardButton(text=_("📘 Today's item"))])  # the daily safety item (handlers/daily.py)
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, is_persistent=True)

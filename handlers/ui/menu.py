"""The menu each person sees: the reply keyboard with their main actions, the command list (Telegram's
command menu and /help) and the greeting for people who have not joined.

What is in the menu comes from the feature registry (bot/features.py): each feature names its commands and
its button there, and the composition root builds one `Menu` from them and injects it into handlers
(workflow_data "menu"). A button's text is one lazy string, used here for the keyboard and by the
feature's router for its filter, so the two never drift apart."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiogram.types import BotCommand, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n.lazy_proxy import LazyProxy

from bot.services.membership import Actor

ROLES = ("member", "staff", "admin")  # each sees its own commands and those of the roles before it


@dataclass(frozen=True)
class CommandSpec:
    name: str
    description: LazyProxy
    who: str = "member"  # "member", "staff" (secretaries and admins) or "admin"
    in_menu: bool = True  # False: known (a member is told "not allowed", not "unknown"), not listed
    private_only: bool = True  # shows personal data or starts a form: in a group it answers "message me privately"


@dataclass(frozen=True)
class MenuButton:
    text: LazyProxy
    who: str = "member"
    row: int = 0  # buttons of one feature with the same row number share a keyboard row
    shown_to: Callable[[Actor], bool] | None = None  # further narrows `who` (e.g. party members only)

    def visible(self, actor: Actor, role: str) -> bool:
        return allowed(self.who, role) and (self.shown_to is None or self.shown_to(actor))


def role_of(actor: Actor) -> str:
    return "admin" if actor.is_admin else "staff" if actor.is_secretary else "member"


def allowed(who: str, role: str) -> bool:
    return ROLES.index(who) <= ROLES.index(role)


class Menu:
    """Commands and buttons of all features, in registry order."""

    def __init__(self, commands: Iterable[CommandSpec], buttons: Iterable[tuple[MenuButton, ...]]) -> None:
        self.commands = tuple(commands)
        self.button_groups = tuple(tuple(group) for group in buttons)

    @property
    def private_commands(self) -> tuple[str, ...]:
        return tuple(command.name for command in self.commands if command.private_only)

    @property
    def known_commands(self) -> set[str]:
        return {command.name for command in self.commands} | {"start"}

    def commands_for(self, role: str) -> list[BotCommand]:
        return [BotCommand(command=c.name, description=str(c.description))
                for c in self.commands if c.in_menu and allowed(c.who, role)]

    def keyboard(self, actor: Actor) -> ReplyKeyboardMarkup:
        role = role_of(actor)
        rows: list[list[KeyboardButton]] = []
        for group in self.button_groups:
            visible = [button for button in group if button.visible(actor, role)]
            for row in sorted({button.row for button in visible}):
                rows.append([KeyboardButton(text=str(b.text)) for b in visible if b.row == row])
        return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, is_persistent=True)

    def help_text(self, actor: Actor) -> str:
        role = role_of(actor)
        lines = [_("<b>What I can do for you</b>"),
                 _("• Ask me any safety-rule or policy question in plain words; I answer with the exact clause and its source.")]
        lines += [f"/{c.name} — {c.description}" for c in self.commands if c.in_menu and allowed(c.who, role)]
        return "\n".join(lines)


def how_to_join() -> str:
    """What anyone who has not joined (yet) is told."""
    return _(
        "Hello! I am the safety assistant of the power-supply branches.\n"
        "To use me you need an invite link from your branch secretary or the administrator. "
        "Open the link on this phone and I will guide you through joining."
    )

"""Rendering helpers shared by the routers: escaping, long replies, domain errors in the user's language."""
from __future__ import annotations

from html import escape

from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n.lazy_proxy import LazyProxy

from bot.services.errors import DomainError

TELEGRAM_TEXT_LIMIT = 4096

# Every DomainError code's message. The shared ones are here; each feature adds its own table through the
# feature registry (bot/features.py `install_error_messages`), so there is one table to look in.
ERRORS: dict[str, LazyProxy] = {
    "forbidden": __("Sorry, you are not allowed to do that."),
    "name_empty": __("Please send your real name as text."),
    "name_too_long": __("That name is too long: at most {max} characters. Please send it again."),
    "name_too_short": __("That name is too short: at least {min} characters. Please send it again."),
    "name_bad_chars": __("A name may contain only letters, Chinese characters and a middle dot (·). Please send it again."),
    "branch_name_invalid": __("A branch name must be 1–{max} characters without < or >."),
    "branch_exists": __("Branch {name} already exists."),
    "branch_not_found": __("There is no branch called {name}. /branch lists the branches."),
    "invite_bad_role": __("An invite role must be member or secretary."),
    "invite_bad_limits": __("Uses must be 1–1000 and days 1–365."),
    "invite_unknown": __("This invite link is not valid. Please ask your branch secretary for a new one."),
    "invite_expired": __("This invite link has expired. Please ask your branch secretary for a new one."),
    "invite_used_up": __("This invite link has been used up. Please ask your branch secretary for a new one."),
    "already_member": __("You have already joined {branch}. Send /help to see what you can do."),
    "member_not_found": __("No such member in the branches you manage."),
    "bad_role": __("A role must be member, secretary or admin."),
    "secretary_needs_branch": __("{name} has no branch. Move them to a branch first, then make them secretary."),
    "invite_not_found": __("No such invite link, or it is not yours to revoke."),
    "cannot_change_self": __("You cannot deactivate yourself."),
    "question_empty": __("Please type your question."),
    "question_gone": __("That question is no longer available. Please ask again."),
    "question_not_yours": __("Only the person who asked can page through this answer. Ask it yourself to see more."),
}


def install_error_messages(table: dict[str, LazyProxy]) -> None:
    """Add a feature's error messages (at start-up, by the registry); a code may not be claimed twice."""
    clashes = {code for code, text in table.items() if ERRORS.get(code, text) is not text}
    if clashes:
        raise ValueError(f"error codes defined twice: {sorted(clashes)}")
    ERRORS.update(table)


def error_text(error: DomainError) -> str:
    template = ERRORS.get(error.code)
    if template is None:
        return _("Sorry, that did not work ({code}).").format(code=escape(error.code))
    return str(template).format(**{key: escape(str(value)) for key, value in error.params.items()})


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split at line breaks (then hard-split very long lines) so each part fits one Telegram message.

    aiogram has no splitter; ours keeps whole lines so the HTML tags we emit (always within one line)
    stay balanced in every part."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current or not parts:
        parts.append(current)
    return parts


async def answer_long(message: Message, text: str, **kwargs) -> Message:
    """Reply with as many messages as needed; keyboard (if any) goes on the last one."""
    markup = kwargs.pop("reply_markup", None)
    parts = split_text(text)
    sent = None
    for index, part in enumerate(parts):
        sent = await message.answer(part, reply_markup=markup if index == len(parts) - 1 else None, **kwargs)
    return sent


async def reply_error(event: Message | CallbackQuery, error: DomainError) -> None:
    text = error_text(error)
    if isinstance(event, CallbackQuery):
        await event.answer(text, show_alert=True)
    else:
        await event.answer(text)

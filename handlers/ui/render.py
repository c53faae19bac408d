"""Rendering helpers shared by the routers: escaping, long replies, domain errors in the user's language."""
from __future__ import annotations

import html
import re
from collections.abc import Iterable
from html import escape

from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n.lazy_proxy import LazyProxy

from bot.i18n import PluralTemplate, fill
from bot.services.errors import DomainError
from bot.services.outbox import utf16_len, visible_length

TELEGRAM_TEXT_LIMIT = 4096

# Every DomainError code's message. The shared ones are here; each feature adds its own table through the
# feature registry (bot/features.py `install_error_messages`), so there is one table to look in.
ERRORS: dict[str, LazyProxy | PluralTemplate] = {  # a PluralTemplate: wording by a number
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


def name_list(names: Iterable[str]) -> str:
    """Names in a sentence: 「李海波、王强」 in Chinese, "Li Haibo, Wang Qiang" in English."""
    return _("、").join(names)


def install_error_messages(table: dict[str, LazyProxy | PluralTemplate]) -> None:
    """Add a feature's error messages (at start-up, by the registry); a code may not be claimed twice."""
    clashes = {code for code, text in table.items() if ERRORS.get(code, text) is not text}
    if clashes:
        raise ValueError(f"error codes defined twice: {sorted(clashes)}")
    ERRORS.update(table)


def error_text(error: DomainError) -> str:
    template = ERRORS.get(error.code)
    if template is None:
        return _("Sorry, that did not work ({code}).").format(code=escape(error.code))
    return fill(template, **{key: escape(str(value)) for key, value in error.params.items()})


# An HTML tag, an entity, or one character: the units a message may be cut between.
_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|[\s\S]")
_TAG_NAME = re.compile(r"</?\s*([\w-]+)")


def _visible_width(token: str) -> int:
    if token.startswith("<") and token.endswith(">"):
        return 0
    return utf16_len(html.unescape(token))


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split an HTML message into parts Telegram accepts: each at most `limit` UTF-16 code units of visible
    text (Telegram's measure), cut at the last line break that fits, else between characters — never inside
    a tag or an entity (`&lt;`) — with the tags open at a cut closed at the end of the part and reopened at
    the start of the next. Line breaks where a part was cut are dropped; nothing else is.

    Hand-written: aiogram has no splitter for HTML text, and the libraries that split messages work on plain
    text or Markdown."""
    if visible_length(text) <= limit:
        return [text]
    parts: list[str] = []
    prefix = ""  # tags reopened at the start of the current part
    tokens: list[str] = []  # the current part after its prefix
    open_tags: list[tuple[str, str]] = []  # (name, opening tag) open after the last token
    size = 0  # visible width of the current part
    line_end: tuple[int, list[tuple[str, str]], int] | None = None  # last "\n": index, tags open, width before

    for token in _TOKEN.findall(text):
        width = _visible_width(token)
        while size + width > limit and tokens:
            if line_end is not None and line_end[0] > 0:
                index, tags_there, width_before = line_end
                parts.append(prefix + "".join(tokens[:index]) + _close(tags_there))
                prefix, tokens, size = _reopen(tags_there), tokens[index + 1:], size - width_before - 1
            else:
                parts.append(prefix + "".join(tokens) + _close(open_tags))
                prefix, tokens, size = _reopen(open_tags), [], 0
            line_end = None
        tokens.append(token)
        size += width
        _track(open_tags, token)
        if token == "\n":
            line_end = (len(tokens) - 1, list(open_tags), size - 1)
    parts.append(prefix + "".join(tokens) + _close(open_tags))
    return parts


def _track(open_tags: list[tuple[str, str]], token: str) -> None:
    if not (token.startswith("<") and token.endswith(">")):
        return
    name = _TAG_NAME.match(token)
    if name is None or token.endswith("/>"):
        return
    if token.startswith("</"):
        if open_tags and open_tags[-1][0] == name.group(1).lower():
            open_tags.pop()
    else:
        open_tags.append((name.group(1).lower(), token))


def _close(open_tags: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _tag in reversed(open_tags))


def _reopen(open_tags: list[tuple[str, str]]) -> str:
    return "".join(tag for _name, tag in open_tags)


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

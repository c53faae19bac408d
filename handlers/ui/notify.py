"""Queue a notice for each recipient through the one delivery path (bot.services.outbox → the sender).

Every notice module (reports, actions, talks, knowledge, membership) does the same three things per
recipient: render the text in the recipient's language, write one delivery row keyed so that a retried
handler or job never sends it twice, and wake the sender. They do it here."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.services import outbox
from handlers.ui.report_text import in_locale
from storage.models import Member

Recipient = tuple[int, Member | None]  # (chat id, the member when known: their language and row id)
Buttons = list[list[dict[str, str]]]
Rendered = str | tuple[str, Buttons | None]


def members(people: Iterable[Member | None]) -> list[Recipient]:
    """Members as recipients, in their private chats (missing ones left out)."""
    return [(member.telegram_id, member) for member in people if member is not None]


async def notify(
    session: AsyncSession,
    app: App,
    recipients: Iterable[Recipient],
    *,
    kind: str,
    key: Callable[[int, Member | None], str],
    render: Callable[[], Rendered],
) -> int:
    """One message per recipient, rendered (text, or text and buttons) in their language; returns how many
    rows were new (a key already queued is not queued again)."""
    queued = 0
    for chat_id, member in recipients:
        with in_locale(app, member.locale if member else None):
            rendered = render()
        text, buttons = rendered if isinstance(rendered, tuple) else (rendered, None)
        if await outbox.enqueue(session, key=key(chat_id, member), chat_id=chat_id, kind=kind, text=text,
                                member_id=member.id if member else None, buttons=buttons):
            queued += 1
    if queued:
        app.kick_delivery()
    return queued

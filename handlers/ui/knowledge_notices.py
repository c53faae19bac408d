"""Knowledge-folder notices to the admins, through the one delivery path (bot.services.outbox).

At start the bot syncs the knowledge folder; files that could not be indexed are invisible to
members, so the admins are told which ones and why.  The key holds a digest of the failures: a
restart with the same broken files does not repeat the message, a new failure does."""
from __future__ import annotations

import hashlib
from html import escape

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.services import membership, outbox
from handlers.ui.report_text import in_locale

KIND = "knowledge"
MAX_LISTED = 15  # the message stays well under Telegram's 4,096 characters


async def files_not_indexed(session: AsyncSession, app: App, failed: list[tuple[str, str]]) -> int:
    """Tell every admin which knowledge files failed to index; returns how many messages were queued."""
    if not failed:
        return 0
    digest = hashlib.sha256(repr(sorted(failed)).encode()).hexdigest()[:16]
    queued = 0
    for telegram_id, member in await membership.admin_recipients(session, app.settings.admin_ids):
        with in_locale(app, member.locale if member else None):
            text = _render(failed)
        if await outbox.enqueue(session, key=f"knowledge-failed:{digest}:{telegram_id}", chat_id=telegram_id,
                                kind=KIND, text=text, member_id=member.id if member else None):
            queued += 1
    return queued


def _render(failed: list[tuple[str, str]]) -> str:
    lines = [f"• {escape(name)}: {escape(reason)}" for name, reason in failed[:MAX_LISTED]]
    if len(failed) > MAX_LISTED:
        lines.append(_("… and {count} more").format(count=len(failed) - MAX_LISTED))
    header = _("⚠️ {count} file(s) in the knowledge folder could not be indexed; members get no answers from them:").format(
        count=len(failed))
    footer = _("Fix or replace them, then run <code>./dev ingest</code> and restart the bot.")
    return "\n".join([header, *lines, footer])

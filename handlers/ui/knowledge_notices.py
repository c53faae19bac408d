"""Knowledge-folder notices to the admins, through the one delivery path (bot.services.outbox).

At start the bot syncs the knowledge folder; files that could not be indexed are invisible to
members, so the admins are told which ones and why.  The key holds a digest of the failures: a
restart with the same broken files does not repeat the message, a new failure does."""
from __future__ import annotations

import hashlib
import uuid
from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import App
from bot.knowledge_engine.types import SyncReport
from bot.services import membership
from handlers.ui.notify import notify

KIND = "knowledge"
MAX_LISTED = 15  # the message stays well under Telegram's 4,096 characters


async def files_not_indexed(session: AsyncSession, app: App, failed: list[tuple[str, str]]) -> int:
    """Tell every admin which knowledge files failed to index; returns how many messages were queued."""
    if not failed:
        return 0
    digest = hashlib.sha256(repr(sorted(failed)).encode()).hexdigest()[:16]
    return await _to_admins(session, app, f"knowledge-failed:{digest}", lambda: _render(failed))


async def _to_admins(session: AsyncSession, app: App, key: str, render) -> int:
    """Queue one message per admin (each in their language; `key` + their chat id keeps it once)."""
    admins = await membership.admin_recipients(session, app.settings.admin_ids)
    return await notify(session, app, admins, kind=KIND, render=render, key=lambda chat_id, _admin: f"{key}:{chat_id}")


def _render(failed: list[tuple[str, str]]) -> str:
    lines = [f"• {escape(name)}: {escape(reason)}" for name, reason in failed[:MAX_LISTED]]
    if len(failed) > MAX_LISTED:
        lines.append(_("… and {count} more").format(count=len(failed) - MAX_LISTED))
    header = ngettext("⚠️ {count} file in the knowledge folder could not be indexed; members get no answers from it:",
                      "⚠️ {count} files in the knowledge folder could not be indexed; members get no answers from them:",
                      len(failed)).format(count=len(failed))
    footer = _("Fix or replace them, then run <code>./dev ingest</code> and restart the bot.")
    return "\n".join([header, *lines, footer])


async def sync_summary(session: AsyncSession, app: App, report: SyncReport) -> int:
    """One message per admin for a sync of the folder: files added, changed, removed and failed (with why)."""
    return await _to_admins(session, app, f"kb-sync:{uuid.uuid4().hex[:12]}", lambda: _render_sync(report))


def _render_sync(report: SyncReport) -> str:
    lines = [_("📚 The knowledge folder changed on disk and was synced:")]
    for label, names in ((_("added"), report.added), (_("changed"), report.changed), (_("removed"), report.removed)):
        lines += [f"• {label}: {escape(name)}" for name in names[:MAX_LISTED]]
    failed = _("failed")
    lines += [f"• ⚠️ {failed}: {escape(name)}: {escape(why)}" for name, why in report.failed[:MAX_LISTED]]
    lines.append(ngettext("{chunks} passage in the index now.", "{chunks} passages in the index now.",
                          report.chunks).format(chunks=report.chunks))
    return "\n".join(lines)

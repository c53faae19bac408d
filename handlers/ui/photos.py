"""Photos members send (report hazards, corrective actions): our own copy beside the Telegram file id."""
from __future__ import annotations

import logging
from pathlib import Path

from aiogram import Bot

log = logging.getLogger(__name__)


async def save_photo(bot: Bot, media_dir: Path, month: str, file_id: str, unique_id: str) -> str | None:
    """Keep our own copy (exports and reviews must not depend on Telegram keeping the file). Best effort:
    a failed download keeps the file_id and the form goes on; returns the path relative to media_dir."""
    relative = Path("reports") / month / f"{unique_id}.jpg"
    target = media_dir / relative
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        await bot.download(file_id, destination=target)
    except Exception:  # noqa: BLE001 - a missing copy must not lose the member's answer
        log.warning("could not download photo %s", unique_id, exc_info=True)
        return None
    return relative.as_posix()

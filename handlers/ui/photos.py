"""Photos members send (report hazards, corrective actions): our own copy beside the Telegram file id."""
from __future__ import annotations

import logging
from pathlib import Path

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

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


ANSWERED_ALBUM = "answered_album"  # FSM data key: the last album (media group) already answered in this chat


async def first_of_album(message: Message, state: FSMContext) -> bool:
    """True for a message outside any album, or for the first message of an album not yet answered; then the
    album is remembered, so the other photos of it (each its own update) go unanswered. Kept in the
    conversation's FSM data, so every process of the bot agrees (updates of one chat are handled in turn)."""
    if message.media_group_id is None:
        return True
    if (await state.get_data()).get(ANSWERED_ALBUM) == message.media_group_id:
        return False
    await remember_album(message, state)
    return True


async def remember_album(message: Message, state: FSMContext) -> None:
    """Mark the message's album answered (e.g. after a form step took its first photo and finished)."""
    if message.media_group_id is not None:
        await state.update_data({ANSWERED_ALBUM: message.media_group_id})

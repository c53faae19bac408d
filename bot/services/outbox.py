"""The outbox side of the one delivery path every push uses (no aiogram here).

A push is first written as a `deliveries` row with a unique key, in the caller's transaction; the
background sender (bot/delivery/) sends rows after they commit. Because only the INSERT that created
the row returns True, a job that runs twice, two scheduler processes, or a retried handler can never
cause a second message: the key is the exactly-once intent, the sender's claim is the exactly-once send.
"""
from __future__ import annotations

import html
import re

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Delivery, DeliveryStatus, utcnow

MAX_KEY = 160
_TAG = re.compile(r"<[^>]+>")
MAX_TEXT = 4096  # Telegram's limit for a message
MAX_CAPTION = 1024  # … and for a photo caption


def _insert_for(session: AsyncSession):
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    chat_id: int,
    kind: str,
    text: str,
    member_id: int | None = None,
    buttons: list[list[dict]] | None = None,
    photo: str | None = None,
    document: str | None = None,
) -> bool:
    """Write a pending delivery; True when this call created it (only then is it sent), False if the key exists.

    `photo` (a file path or Telegram file_id) or `document` (a file path) turns `text` into its caption.

    Never raises on a duplicate key (INSERT … ON CONFLICT DO NOTHING), so it is safe inside a larger
    transaction on PostgreSQL, where a failed statement would otherwise abort the whole transaction.
    """
    if not key or len(key) > MAX_KEY:
        raise ValueError(f"delivery key must be 1..{MAX_KEY} characters: {key!r}")
    if photo and document:
        raise ValueError("a delivery carries a photo or a document, not both")
    limit = MAX_CAPTION if photo or document else MAX_TEXT
    if visible_length(text) > limit:
        raise ValueError(f"delivery text is {visible_length(text)} characters; Telegram allows {limit}")
    _check_buttons(buttons)
    now = utcnow()
    statement = (
        _insert_for(session)(Delivery)
        .values(
            key=key, kind=kind, chat_id=chat_id, member_id=member_id, text=text, buttons=buttons, photo=photo,
            document=document, status=DeliveryStatus.PENDING, attempts=0, not_before=now, created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    result = await session.execute(statement)
    return result.rowcount == 1


async def enqueue_many(session: AsyncSession, deliveries: list[dict]) -> int:
    """`enqueue` for many rows at once (a branch's daily push): each dict has enqueue's keyword arguments.
    Returns how many were new; existing keys are skipped, as with enqueue."""
    now = utcnow()
    rows = []
    for delivery in deliveries:
        text, photo = delivery["text"], delivery.get("photo")
        limit = MAX_CAPTION if photo else MAX_TEXT
        if not delivery["key"] or len(delivery["key"]) > MAX_KEY or visible_length(text) > limit:
            raise ValueError(f"bad delivery {delivery['key']!r}: key 1..{MAX_KEY} chars, text within {limit}")
        _check_buttons(delivery.get("buttons"))
        rows.append({
            "key": delivery["key"], "kind": delivery["kind"], "chat_id": delivery["chat_id"],
            "member_id": delivery.get("member_id"), "text": text, "buttons": delivery.get("buttons"), "photo": photo,
            "status": DeliveryStatus.PENDING, "attempts": 0, "not_before": now, "created_at": now,
        })
    inserted = 0
    for start in range(0, len(rows), 200):  # one statement per 200 rows keeps SQLite under its variable limit
        statement = _insert_for(session)(Delivery).values(rows[start:start + 200])
        result = await session.execute(statement.on_conflict_do_nothing(index_elements=["key"]))
        inserted += max(result.rowcount, 0)
    return inserted


def visible_length(html_text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units after the HTML tags and entities are parsed."""
    return utf16_len(html.unescape(_TAG.sub("", html_text)))


def utf16_len(text: str) -> int:
    """Telegram measures text in UTF-16 code units: a character beyond the BMP (most emoji) counts twice."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _check_buttons(buttons: list[list[dict]] | None) -> None:
    for row in buttons or []:
        for button in row:
            if "text" not in button or not (("callback_data" in button) ^ ("url" in button)):
                raise ValueError(f"a button needs text and exactly one of callback_data/url: {button!r}")
            if "callback_data" in button and len(button["callback_data"].encode()) > 64:
                raise ValueError(f"callback_data over Telegram's 64 bytes: {button['callback_data']!r}")


async def pending_count(session: AsyncSession) -> int:
    """Rows not yet sent or given up (pending or claimed): for health checks and tests."""
    return await session.scalar(
        select(func.count(Delivery.id)).where(
            Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.CLAIMED, DeliveryStatus.SENDING])
        )
    ) or 0


async def status_of(session: AsyncSession, key: str) -> Delivery | None:
    return await session.scalar(select(Delivery).where(Delivery.key == key))

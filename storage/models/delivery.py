"""The outbox: one row per intended push, written before sending (see bot/services/outbox.py)."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # written, waiting to be claimed (also after a released claim)
    CLAIMED = "claimed"  # taken by one sender (claimed_by, lease in claimed_at); no API call made yet
    SENDING = "sending"  # that sender is calling Telegram right now; the outcome is written next
    SENT = "sent"
    BLOCKED = "blocked"  # Telegram said 403 (blocked the bot) or the chat does not exist
    FAILED = "failed"  # retries exhausted or a permanent error (see `error`)
    UNCERTAIN = "uncertain"  # the sender died during the API call: it may have arrived; never re-sent


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_due", "status", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)  # e.g. "daily:{member_id}:{date}"
    kind: Mapped[str] = mapped_column(String(32), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list | None] = mapped_column(JSON, default=None)  # rows of {"text", "callback_data"|"url"}
    photo: Mapped[str | None] = mapped_column(String(512))
    document: Mapped[str | None] = mapped_column(String(512))  # a file path sent as a document (text = caption)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)  # earliest (naive UTC) time of the next try
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(300))
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

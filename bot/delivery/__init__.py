"""The one delivery path for every push: rows are written with bot.services.outbox.enqueue, sent here."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.delivery.sender import DeliverySender, counts_by_status

if TYPE_CHECKING:
    from aiogram import Bot

    from bot.app import App

__all__ = ["DeliverySender", "counts_by_status", "start_delivery"]


def start_delivery(app: "App", bot: "Bot") -> DeliverySender:
    """Build the sender from settings, start it in the background, put it in app.extras["delivery"].

    Stop it on shutdown with `await app.extras["delivery"].stop()` (drains in-flight sends)."""
    settings = app.settings
    sender = DeliverySender(
        app.sessionmaker,
        bot,
        rate=settings.delivery_rate,
        chat_interval=settings.delivery_chat_interval,
        group_interval=settings.delivery_group_interval,
        max_attempts=settings.delivery_max_attempts,
    )
    sender.start()
    app.extras["delivery"] = sender
    return sender

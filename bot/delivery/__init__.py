"""The one delivery path for every push: rows are written with bot.services.outbox.enqueue, sent here."""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.delivery.sender import DeliverySender, counts_by_status
from bot.delivery.turn import TurnTakingSender, turn_for

if TYPE_CHECKING:
    from aiogram import Bot

    from bot.context import App

__all__ = ["DeliverySender", "TurnTakingSender", "counts_by_status", "start_delivery"]


def start_delivery(app: "App", bot: "Bot") -> TurnTakingSender:
    """Start this process's delivery path in the background (the caller keeps it as app.delivery): the
    sender runs while this process holds the database's sending turn (bot/delivery/turn.py), so several
    bot processes together still keep to DELIVERY_RATE.

    Stop it on shutdown with `await app.delivery.stop()` (drains in-flight sends)."""
    settings = app.settings

    def make_sender() -> DeliverySender:
        return DeliverySender(
            app.sessionmaker,
            bot,
            rate=settings.delivery_rate,
            chat_interval=settings.delivery_chat_interval,
            group_interval=settings.delivery_group_interval,
            max_attempts=settings.delivery_max_attempts,
        )

    sender = TurnTakingSender(turn_for(app.engine), make_sender)
    sender.start()
    return sender

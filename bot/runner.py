"""Running against real Telegram: long polling by default, a webhook server when WEBHOOK_URL is set."""
from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

from bot.app import build_bot, build_dispatcher, create_app, polling_options
from bot.config import Settings

log = logging.getLogger("fieldmate")
T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run the bot's event loop on uvloop (libuv) instead of asyncio's own: every update hands work to threads
    (SQLite, the knowledge engine) and back, and each hand-over and socket event costs that loop less (a /help
    burst: about a sixth less event-loop time per update, bench/load.py)."""
    return uvloop.run(main)


async def run_bot(settings: Settings) -> None:
    app = await create_app(settings)
    bot = build_bot(settings)
    dp = build_dispatcher(app)
    try:
        if settings.webhook_url:
            # Several processes may serve the same webhook behind a load balancer: FSM state lives in Redis
            # or SQL, deliveries are claimed per row, scans and sending take turns (see bot/webhook.py).
            from bot.webhook import serve_webhook

            await serve_webhook(app, dp, bot)
        else:
            me = await bot.get_me()
            log.info("polling Telegram as @%s", me.username)
            await bot.delete_webhook(drop_pending_updates=False)
            await dp.start_polling(bot, **polling_options(settings))
    finally:
        await bot.session.close()
        await app.close()

"""Running against real Telegram: long polling by default, a webhook server when WEBHOOK_URL is set."""
from __future__ import annotations

import logging

from aiohttp import web
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application

from bot.app import build_bot, build_dispatcher, create_app
from bot.config import Settings

log = logging.getLogger("fieldmate")
WEBHOOK_PATH = "/telegram/webhook"


async def run_bot(settings: Settings) -> None:
    app = await create_app(settings)
    bot = build_bot(settings)
    dp = build_dispatcher(app)
    try:
        if settings.webhook_url:
            await _serve_webhook(settings, dp, bot)
        else:
            me = await bot.get_me()
            log.info("polling Telegram as @%s", me.username)
            await bot.delete_webhook(drop_pending_updates=False)
            await dp.start_polling(bot)
    finally:
        await bot.session.close()
        await app.close()


async def _serve_webhook(settings: Settings, dp, bot) -> None:
    """Several processes may serve the same webhook behind a load balancer: FSM state lives in
    Redis or SQL, deliveries are claimed per row, and only one process leads the scheduler."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    web_app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret).register(web_app, path=WEBHOOK_PATH)
    setup_application(web_app, dp, bot=bot)
    await bot.set_webhook(settings.webhook_url.rstrip("/") + WEBHOOK_PATH, secret_token=secret, drop_pending_updates=False)
    runner = web.AppRunner(web_app)
    await runner.setup()
    await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
    log.info("serving the webhook on %s:%s%s", settings.webhook_host, settings.webhook_port, WEBHOOK_PATH)
    try:
        import asyncio

        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

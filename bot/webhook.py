"""Webhook mode for a fleet of bot processes behind a load balancer.

What one process serves:

* ``POST /telegram/webhook`` — one update per request. The answer is sent only after the dispatcher has
  handled the update (handlers ran, the reply was sent or the error handler apologised): **acknowledged
  once handled**, not once queued. A process killed mid-update never answers, so Telegram (or the load
  balancer) delivers the update again, to this or another process: updates are not lost, and at worst an
  update whose handler had already sent its reply is handled twice (forms and reports are idempotent on
  their form tokens; a repeated question is answered twice). While the process drains on SIGTERM, new
  updates get 503 and are redelivered elsewhere.
* ``GET /healthz`` — 200 when the database, Redis (if configured) and the knowledge index answer; 503
  with the failing part otherwise, also while the index is still opening (``"starting"``) and while
  the process drains (``"stopping"``), so a load balancer sends updates only to processes that can
  handle them.

Graceful stop (SIGTERM/SIGINT): stop taking updates (503), wait for the ones in flight, then run the
dispatcher's shutdown (scheduler stopped; the delivery sender drains and releases the sending turn),
close the listener.

The webhook is registered with Telegram once per deployment (``fieldmate webhook set``), not by every
process at start: N processes racing to call setWebhook would each reset Telegram's delivery state.

Written by hand rather than with aiogram's SimpleRequestHandler because the fleet needs what it lacks:
a count of updates in flight, refusing updates while draining, and no reply-in-webhook (a reply inside
the HTTP answer cannot fail visibly, and Telegram would count the update as done before it is sent).
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import text

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher

    from bot.context import App

log = logging.getLogger("fieldmate.webhook")

WEBHOOK_PATH = "/telegram/webhook"
HEALTH_PATH = "/healthz"
CHECK_TIMEOUT = 2.0  # seconds one dependency may take to answer a health check
DRAIN_TIMEOUT = 60.0  # longest wait for in-flight updates on shutdown (a question can take seconds)


# --------------------------------------------------------------------------------------------- health

async def _check_database(app: "App") -> str:
    async with app.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return "ok"


async def _check_redis(redis: Any) -> str:
    await redis.ping()
    return "ok"


async def _check_index(app: "App") -> str:
    """The index answers (the Chroma server with CHROMA_HOST, the local files otherwise)."""
    engine = app.knowledge
    if engine is None:
        task = app.knowledge_task
        if task is not None and task.done() and not task.cancelled() and task.exception() is not None:
            raise RuntimeError(f"the index failed to open: {task.exception()!r}")
        return "starting"
    await asyncio.to_thread(engine.ping)  # a real round trip to Chroma
    return "ok"


@dataclass
class Health:
    """Checks behind /healthz. `redis` is a redis.asyncio client when REDIS_URL is set."""

    app: "App"
    redis: Any = None
    stopping: bool = False

    async def report(self) -> tuple[int, dict[str, Any]]:
        checks: dict[str, Any] = {"database": _check_database(self.app), "index": _check_index(self.app)}
        if self.redis is not None:
            checks["redis"] = _check_redis(self.redis)
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                results[name] = await asyncio.wait_for(check, CHECK_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - any failure makes the part unhealthy; say which and why
                results[name] = f"error: {type(exc).__name__}: {exc}"[:300]
        if self.stopping:
            status = "stopping"
        elif any(value.startswith("error") for value in results.values()):
            status = "unhealthy"
        elif "starting" in results.values():
            status = "starting"
        else:
            status = "ok"
        return (200 if status == "ok" else 503), {"status": status, "checks": results}


# -------------------------------------------------------------------------------------------- updates

@dataclass
class UpdateGate:
    """Counts updates in flight and refuses new ones once draining starts."""

    draining: bool = False
    in_flight: int = 0
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._idle.set()

    @contextlib.contextmanager
    def admit(self):
        self.in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Stop admitting; wait until nothing is in flight. False if `timeout` passed first."""
        self.draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False


def build_web_app(dp: "Dispatcher", bot: "Bot", health: Health, gate: UpdateGate,
                  secret: str | None) -> web.Application:
    from aiogram.types import Update

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if secret and not hmac.compare_digest(given, secret):
            return web.Response(status=401, text="wrong secret token")
        if gate.draining:
            return web.Response(status=503, text="shutting down")  # redelivered to another process
        with gate.admit():
            update = Update.model_validate(await request.json(), context={"bot": bot})
            await dp.feed_update(bot, update)  # errors end in report_error: the user is told, we log
        return web.json_response({})

    async def healthz(request: web.Request) -> web.Response:
        status, body = await health.report()
        return web.json_response(body, status=status)

    web_app = web.Application()
    web_app.router.add_post(WEBHOOK_PATH, receive)
    web_app.router.add_get(HEALTH_PATH, healthz)
    return web_app


# --------------------------------------------------------------------------------------------- serving

async def serve_webhook(app: "App", dp: "Dispatcher", bot: "Bot") -> None:
    """Serve until SIGTERM/SIGINT, then stop gracefully (see the module docstring)."""
    settings = app.settings
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    redis = None
    if settings.redis_url:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT)
    health, gate = Health(app, redis), UpdateGate()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    workflow = {"dispatcher": dp, "bot": bot, **dp.workflow_data}
    await dp.emit_startup(**workflow)
    runner = web.AppRunner(build_web_app(dp, bot, health, gate, secret), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
    log.info("serving the webhook on %s:%s%s (health: %s)", settings.webhook_host, settings.webhook_port,
             WEBHOOK_PATH, HEALTH_PATH)
    await _warn_if_webhook_elsewhere(bot, settings.webhook_url)
    watcher = None
    if redis is not None and settings.chroma_host:
        from bot.knowledge_engine.fleet import watch_version

        watcher = asyncio.create_task(watch_version(redis, lambda: app.knowledge), name="index version")
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        log.info("stopping: no new updates; waiting for %d in flight", gate.in_flight)
        health.stopping = True
        if not await gate.drain(DRAIN_TIMEOUT):
            log.warning("%d updates still in flight after %.0fs; stopping anyway (Telegram redelivers them)",
                        gate.in_flight, DRAIN_TIMEOUT)
        await dp.emit_shutdown(**workflow)  # scheduler stops; the sender drains and frees the sending turn
        await runner.cleanup()
        if redis is not None:
            await redis.aclose()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("stopped")


def webhook_endpoint(webhook_url: str) -> str:
    return webhook_url.rstrip("/") + WEBHOOK_PATH


async def _warn_if_webhook_elsewhere(bot: "Bot", webhook_url: str | None) -> None:
    try:
        info = await bot.get_webhook_info()
    except Exception as exc:  # noqa: BLE001 - informational only
        log.warning("could not read the webhook registration: %s", exc)
        return
    if webhook_url and info.url != webhook_endpoint(webhook_url):
        log.warning("Telegram delivers updates to %r, not to %r: run `fieldmate webhook set` once for this "
                    "deployment", info.url or "(no webhook: getUpdates)", webhook_endpoint(webhook_url))


async def set_webhook(bot: "Bot", webhook_url: str, secret: str | None, drop_pending: bool = False) -> str:
    """Register the deployment's webhook with Telegram (once per deployment, by an operator or a job)."""
    endpoint = webhook_endpoint(webhook_url)
    await bot.set_webhook(endpoint, secret_token=secret, drop_pending_updates=drop_pending)
    return endpoint

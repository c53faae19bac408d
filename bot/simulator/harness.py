"""Run any aiogram Dispatcher against a :class:`FakeTelegramServer` and stop it cleanly.

    async with FakeTelegramServer() as server, polling(server, dp) as bot:
        driver = SimDriver(server)
        await driver.send(user, "/start")

Stopping handles the aiogram pitfalls: ``stop_polling`` does not wait for running handler
tasks, and a session closed under a running handler would be recreated and leak; so we stop
polling, wait for the handler tasks, then close the session.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

from .fake_api import FakeTelegramServer


def make_bot(server: FakeTelegramServer, token: str = "123456:TEST-TOKEN", **bot_kwargs: Any):
    """An aiogram ``Bot`` whose session talks to ``server`` (which must be started)."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    if not server.base_url:
        raise RuntimeError("start the FakeTelegramServer first")
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.base_url))
    return Bot(token=token, session=session, **bot_kwargs)


@contextlib.asynccontextmanager
async def polling(
    server: FakeTelegramServer, dispatcher: Any, bot: Any = None, *, polling_timeout: int = 10,
    handler_timeout: float = 10.0, **start_kwargs: Any,
) -> AsyncIterator[Any]:
    """Start ``dispatcher.start_polling`` against ``server`` in a task; yield the bot.

    On exit: stop polling, wait (up to ``handler_timeout``) for handler tasks still running,
    close the bot session. Exceptions from the polling task are re-raised.
    """
    if bot is None:
        bot = make_bot(server)
    task = asyncio.create_task(dispatcher.start_polling(
        bot, handle_signals=False, close_bot_session=False, polling_timeout=polling_timeout,
        **start_kwargs,
    ))
    try:
        # wait until the first getUpdates arrived (polling is live) or the task died
        await _wait_polling(server, task)
        yield bot
    finally:
        if not task.done():
            with contextlib.suppress(RuntimeError):  # "Polling is not started" if it never began
                await dispatcher.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        running = list(getattr(dispatcher, "_handle_update_tasks", ()))
        if running:
            await asyncio.wait(running, timeout=handler_timeout)
        await bot.session.close()


async def _wait_polling(server: FakeTelegramServer, task: asyncio.Task, timeout: float = 10.0) -> None:
    def started() -> bool:
        return task.done() or any(c.method.lower() == "getupdates" for c in server.calls) or _pending_poll(server)

    waiter = asyncio.create_task(server.wait_for(started, timeout))
    done, _ = await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await waiter
        task.result()  # re-raise why polling ended
        raise RuntimeError("polling stopped before it started")
    waiter.result()


def _pending_poll(server: FakeTelegramServer) -> bool:
    return server._poll_generation > 0

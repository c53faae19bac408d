"""The one way tests wait: poll a condition until it holds, with a timeout that fails the test.

Tests never sleep for a fixed time and then assert (on a slow runner that passes without testing anything);
they wait for the state they need, and fail with a message when it never comes."""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

Condition = Callable[[], bool | Awaitable[bool]]


async def wait_until(condition: Condition, timeout: float = 10.0, interval: float = 0.01,
                     message: str | Callable[[], str | Awaitable[str]] = "condition never held") -> None:
    """Return once `condition()` (sync or async) is true; raise AssertionError after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if loop.time() > deadline:
            text = message() if callable(message) else message
            if inspect.isawaitable(text):
                text = await text
            raise AssertionError(f"after {timeout:g} s: {text}")
        await asyncio.sleep(interval)

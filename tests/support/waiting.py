"""The one way tests wait: poll a condition until it holds, with a timeout that fails the test.

Tests never sleep for a fixed time and then assert (on a slow runner that passes without testing anything);
they wait for the state they need, and fail with a message when it never comes."""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

Condition = Callable[[], Any]


async def wait_until(condition: Condition, timeout: float = 10.0,
                     message: str | Callable[[], str | Awaitable[str]] = "condition never held", *,
                     interval: float = 0.01, errors: tuple[type[BaseException], ...] = ()) -> Any:
    """Return the first truthy value of `condition()` (sync or async); raise AssertionError after `timeout`
    seconds. Exceptions listed in `errors` count as "not yet" (e.g. a server still starting)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            held = condition()
            if inspect.isawaitable(held):
                held = await held
        except errors:
            held = None
        if held:
            return held
        if loop.time() > deadline:
            text = message() if callable(message) else message
            if inspect.isawaitable(text):
                text = await text
            raise AssertionError(f"after {timeout:g} s: {text}")
        await asyncio.sleep(interval)

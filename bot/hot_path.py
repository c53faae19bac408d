"""Per-update overhead of aiogram that the bot does not need to pay.

aiogram runs every filter that is not a coroutine function through ``asyncio.to_thread``, including the
magic filters (``F.text``, ``F.chat.type == "private"``) that nearly every router uses: a thread hop for an
attribute lookup, for every handler tried on every update. Under load (profile of a 60-user run) that was
a twentieth of the event loop's time. A magic filter only reads the event, so it is run inline. So is a
form state used as a filter (``router.message.register(handler, JoinForm.name)``): ``State.__call__`` only
compares the chat's state with its own name; before, every message tried against the join form's handlers
(a plain /help included) made three thread hops for it.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import FilterObject, HandlerObject
from aiogram.fsm.state import State


def _handlers(router: Router) -> Iterator[HandlerObject]:
    for observer in router.observers.values():
        yield observer._handler  # the observer's own filters (router.message.filter(...))
        yield from observer.handlers
    for child in router.sub_routers:
        yield from _handlers(child)


def inline_magic_filters(router: Router) -> int:
    """Make the magic filters and form-state filters of `router` and its sub-routers run on the event loop;
    returns how many."""
    changed = 0
    for handler in _handlers(router):
        for event_filter in handler.filters or ():
            if _inline(event_filter):
                changed += 1
    return changed


def _inline(event_filter: FilterObject) -> bool:
    if event_filter.awaitable or (event_filter.magic is None and not _is_state(event_filter.callback)):
        return False
    resolve = event_filter.callback

    async def inline(*args: Any, **kwargs: Any) -> Any:
        return resolve(*args, **kwargs)

    event_filter.callback = inline  # `params` stay those of resolve: call() passes it the same arguments
    event_filter.awaitable = True
    return True


def _is_state(callback: Any) -> bool:
    """A form state itself as the filter, whose __call__ is aiogram's own (a pure comparison)."""
    return isinstance(callback, State) and type(callback).__call__ is State.__call__

"""The Bot API client's request path: keeps aiogram's per-method response models alive (the commit before
each call is bot.middlewares.CommitBeforeTelling).

aiogram parses every Bot API answer with ``Response[method.__returning__]``, a pydantic generic model
built on first use. pydantic caches parametrized generics only weakly (a WeakValueDictionary), and a
model class sits in reference cycles, so each garbage collection drops the cached classes and the next
call rebuilds and re-validates the whole schema (for ``Response[Message]`` that means walking every type a
message can hold). Under load the collector runs every few updates: profiling a 60-user run showed about
15% of the event loop's time in that rebuilding. Holding one strong reference per method makes the
cache hit every time.
"""
from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType


_PINNED: dict[type, Any] = {}  # method class → its Response[...] model, alive for the process


def response_model(method_type: type[TelegramMethod[Any]]) -> Any:
    """``Response[...]`` for a method, built once per process and then kept."""
    model = _PINNED.get(method_type)
    if model is None:
        model = _PINNED[method_type] = Response[method_type.__returning__]  # type: ignore[name-defined]
    return model


class PinResponseModels(BaseRequestMiddleware):
    """Request middleware: before the first call of each method, pin its response model (see module doc)."""

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        if type(method) not in _PINNED:
            response_model(type(method))
        return await make_request(bot, method)

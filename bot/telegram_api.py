"""The Bot API client's request path: parameters sent as one JSON body, and aiogram's per-method response models
kept alive (the commit before each call is bot.middlewares.CommitBeforeTelling).

aiogram parses every Bot API answer with ``Response[method.__returning__]``, a pydantic generic model
built on first use. pydantic caches parametrized generics only weakly (a WeakValueDictionary), and a
model class sits in reference cycles, so each garbage collection drops the cached classes and the next
call rebuilds and re-validates the whole schema (for ``Response[Message]`` that means walking every type a
message can hold). Under load the collector runs every few updates: profiling a 60-user run showed about
15% of the event loop's time in that rebuilding. Holding one strong reference per method makes the
cache hit every time.
"""
from __future__ import annotations

import asyncio
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.types import InputFile
from aiohttp import ClientError
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


class JsonBodySession(AiohttpSession):
    """aiogram's aiohttp session, sending a call's parameters as one JSON body (the Bot API takes
    application/json) unless the call uploads a file, which keeps aiogram's multipart form.

    aiogram sends every call as a form: each parameter percent-encoded byte by byte in Python (a Chinese reply
    grows to three times its size, %E5%AE%89…) and each nested object (a keyboard) as a JSON string inside it,
    which the server then decodes the same way. One JSON body skips that; measured on a /help burst
    (bench/help_pair.py) it saves about 3 % of the bot's event-loop time per reply, small but free. The request
    and error handling below are aiogram's `make_request`, which builds the form inline and cannot be reused.
    Parameters are the ones aiogram's form would carry, with the same values, except that the form also leaves
    out empty strings (JSON carries them; Telegram refuses an empty text either way).
    """

    async def make_request(self, bot: Bot, method: TelegramMethod[TelegramType],
                           timeout: int | None = None) -> TelegramType:
        files: dict[str, InputFile] = {}
        payload = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None:
                payload[key] = prepared
        if files:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(url, data=self.json_dumps(payload), headers=_JSON,
                                    timeout=self.timeout if timeout is None else timeout) as resp:
                raw_result = await resp.text()
        except asyncio.TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(bot=bot, method=method, status_code=resp.status, content=raw_result)
        return cast(TelegramType, response.result)


_JSON = {"Content-Type": "application/json"}

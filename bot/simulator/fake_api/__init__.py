"""A fake Telegram Bot API server for tests, benchmarks and the terminal simulator.

It speaks plain HTTP the way api.telegram.org does (``POST {base}/bot{token}/{method}`` with
form data, JSON strings for nested objects, multipart for files; file download at
``{base}/file/bot{token}/{path}``), so any aiogram bot can be pointed at it with::

    AiohttpSession(api=TelegramAPIServer.from_base(base_url))

Nothing here imports aiogram or the rest of the project.

Modules (the server is one class assembled from parts, each in its own module)
------------------------------------------------------------------------------
* ``models`` – users, chats, messages, files, :class:`CallRecord`, :class:`APIError`.
* ``faults`` – :class:`Faults`.
* ``state`` – what the server knows and the ``push_*`` user activity (:class:`ChatState`).
* ``transport`` – HTTP endpoints, getUpdates long polling, webhook delivery (:class:`Transport`).
* ``methods`` – the Bot API methods (:class:`BotMethods`).
* ``stats`` – :func:`call_stats` over the call records.
* ``server`` – :class:`FakeTelegramServer`, the aiohttp app and its lifecycle.

Main pieces
-----------
* :class:`FakeTelegramServer` – the aiohttp app, its state (users, chats, messages, files,
  commands) and the ``push_*`` methods that inject user activity as updates.
* :class:`Faults` – deterministic (seeded) fault injection: 429 with ``retry_after``, 403 for
  blocked chats, 500, added latency; optionally filtered by method.
* :class:`CallRecord` – every API call the bot made (monotonic time, method, chat, outcome),
  for benchmarks (throughput, per-chat gaps, duplicates).
"""

from .faults import Faults
from .models import (
    DEFAULT_ALLOWED, MAX_CAPTION, MAX_TEXT, APIError, CallRecord, ChatLike, SimChat, SimUser, StoredFile,
    StoredMessage, UserLike,
)
from .server import FakeTelegramServer
from .stats import CallStats, call_stats

__all__ = [
    "DEFAULT_ALLOWED", "MAX_CAPTION", "MAX_TEXT", "APIError", "CallRecord", "CallStats", "ChatLike",
    "FakeTelegramServer", "Faults", "SimChat", "SimUser", "StoredFile", "StoredMessage", "UserLike", "call_stats",
]

"""The Bot API client keeps aiogram's per-method response models alive across garbage collections."""
from __future__ import annotations

import collections
import gc

from pydantic._internal import _model_construction

from bot import telegram_api
from bot.app import build_bot
from bot.config import load_settings
from bot.simulator import FakeTelegramServer


def _count_models(monkeypatch) -> collections.Counter:
    built: collections.Counter = collections.Counter()
    original = _model_construction.ModelMetaclass.__new__

    def counting(mcs, name, *args, **kwargs):
        built[name] += 1
        return original(mcs, name, *args, **kwargs)

    monkeypatch.setattr(_model_construction.ModelMetaclass, "__new__", counting)
    return built


async def test_response_model_is_built_once_not_after_every_garbage_collection(monkeypatch, tmp_path):
    monkeypatch.setattr(telegram_api, "_PINNED", {})  # as in a fresh process, whatever ran before
    gc.collect()
    built = _count_models(monkeypatch)
    settings = load_settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    async with FakeTelegramServer() as server:
        bot = build_bot(settings, server.base_url)
        try:
            for _ in range(3):
                assert (await bot.get_me()).is_bot
                gc.collect()  # under load the collector runs every few updates
        finally:
            await bot.session.close()
    # Without pinning aiogram rebuilds Response[User] (its whole schema) after each collection: 3 here.
    assert built["Response[User]"] == 1

"""One ingestion at a time across the fleet (the Redis lock of bot/knowledge_engine/fleet.py)."""
from __future__ import annotations

import threading

import pytest

from bot.knowledge_engine.fleet import ingest_turn, publish_version
from tests.conftest import IN_CI, REDIS_URL

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url():
    from redis import Redis

    try:
        with Redis.from_url(REDIS_URL) as client:
            client.ping()
    except Exception as exc:  # noqa: BLE001
        if IN_CI:
            pytest.fail(f"CI requires Redis at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} not reachable: {exc}")
    return REDIS_URL


def test_two_ingestions_never_overlap_and_each_publishes_a_new_version(redis_url):
    inside, overlaps, versions = [], [], []
    first_inside, second_inside = threading.Event(), threading.Event()

    def ingest(name: str) -> None:
        with ingest_turn(redis_url):
            inside.append(name)
            if len(inside) > 1:
                overlaps.append(tuple(inside))
            if name == "first":
                first_inside.set()
                # Without the lock the second one would be inside now and this wait would end at once with
                # an overlap recorded; with it, the wait runs out and the first one leaves.
                second_inside.wait(1.0)
            else:
                second_inside.set()
            inside.remove(name)
        versions.append(publish_version(redis_url))

    first = threading.Thread(target=ingest, args=("first",))
    first.start()
    assert first_inside.wait(10)
    second = threading.Thread(target=ingest, args=("second",))
    second.start()
    first.join(20)
    second.join(20)
    assert not overlaps and second_inside.is_set()
    assert sorted(versions)[1] == sorted(versions)[0] + 1  # each published its own version

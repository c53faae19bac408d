"""The outbox's exactly-once intent and the idempotent points ledger."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.services import outbox, points
from storage.models import Delivery
from tests.daily.helpers import make_branch, make_members


async def test_enqueue_inserts_once_per_key_and_reports_who_inserted(session):
    branch = await make_branch(session)
    (member,) = await make_members(session, branch, 1)
    first = await outbox.enqueue(session, key=f"daily:{member.id}:2026-11-23", chat_id=member.telegram_id,
                                 kind="daily", text="<b>hi</b>", member_id=member.id,
                                 buttons=[[{"text": "已学习", "callback_data": "d:a:1"}]])
    again = await outbox.enqueue(session, key=f"daily:{member.id}:2026-11-23", chat_id=member.telegram_id,
                                 kind="daily", text="other")
    await session.commit()
    assert (first, again) == (True, False)
    rows = (await session.scalars(select(Delivery))).all()
    assert len(rows) == 1 and rows[0].text == "<b>hi</b>" and rows[0].status == "pending"
    assert rows[0].buttons == [[{"text": "已学习", "callback_data": "d:a:1"}]]
    assert await outbox.pending_count(session) == 1


async def test_duplicate_key_does_not_abort_the_callers_transaction(session):
    await outbox.enqueue(session, key="k", chat_id=1, kind="t", text="a")
    await outbox.enqueue(session, key="k", chat_id=1, kind="t", text="a")
    await outbox.enqueue(session, key="k2", chat_id=1, kind="t", text="b")  # would fail after an aborted tx on PG
    await session.commit()
    assert await session.scalar(select(func.count(Delivery.id))) == 2


@pytest.mark.parametrize("bad", [
    {"key": "", "text": "x"},
    {"key": "k", "text": "x" * 4097},
    {"key": "k", "text": "x", "buttons": [[{"text": "no action"}]]},
    {"key": "k", "text": "x", "buttons": [[{"text": "t", "callback_data": "x" * 65}]]},
])
async def test_enqueue_rejects_what_telegram_would_refuse(session, bad):
    with pytest.raises(ValueError):
        await outbox.enqueue(session, chat_id=1, kind="t", **bad)


async def test_award_is_idempotent_per_reason_and_ref(session):
    branch = await make_branch(session)
    (member,) = await make_members(session, branch, 1)
    assert await points.award(session, member.id, "daily_ack", 1, "2026-11-23") is True
    assert await points.award(session, member.id, "daily_ack", 1, "2026-11-23") is False
    assert await points.award(session, member.id, "daily_ack", 1, "2026-11-24") is True
    assert await points.award(session, member.id, "hazard", 2, "report:7") is True
    assert await points.award(session, member.id, "hazard", 0, "report:8") is False  # disabled reward
    await session.commit()
    assert await points.total(session, member.id) == 4


async def test_enqueue_many_skips_existing_keys_and_counts_new_rows(session):
    await outbox.enqueue(session, key="a", chat_id=1, kind="t", text="first")
    rows = [{"key": k, "chat_id": 1, "kind": "t", "text": f"text {k}"} for k in ["a", "b", "c"]]
    assert await outbox.enqueue_many(session, rows) == 2
    assert await outbox.enqueue_many(session, rows) == 0
    await session.commit()
    assert (await outbox.status_of(session, "a")).text == "first"
    assert await session.scalar(select(func.count(Delivery.id))) == 3

"""The simulator's demo data shows the daily item in the first minute: its people joined a month ago and the
demo branch gets today's item at once, whatever the time of day."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.services import demo, outbox
from bot.services.daily import delivery_key
from schedulers.daily import push_branch_now
from storage.models import Member

ROOT = Path(__file__).resolve().parents[1]


async def test_demo_members_get_todays_item_at_once_and_acks_change_when_one_studies(app, harness):
    app.settings.knowledge_dir = ROOT / "knowledge"  # the sample daily items
    async with app.sessionmaker() as session:
        branch = await demo.seed_demo(session, app.clock.utc_naive())
        await session.commit()
    result = await push_branch_now(app, branch.id)
    assert result.state == "pushed" and result.enqueued == 3  # the secretary and two members; the admin has no branch
    li = next(p for p in demo.DEMO_PEOPLE if p.key == "li")
    secretary = next(p for p in demo.DEMO_PEOPLE if p.key == "secretary")
    async with app.sessionmaker() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == li.telegram_id))
        row = await outbox.status_of(session, delivery_key(member.id, app.local_now().date()))
    assert "已学习：0 / 3" in (await harness.send(secretary.telegram_id, "/acks"))[0]
    await harness.press(li.telegram_id, row.buttons[-1][0]["callback_data"])
    board = (await harness.send(secretary.telegram_id, "/acks"))[0]
    assert "已学习：1 / 3" in board and "李海波" in board.split("尚未学习：")[0]

"""A photo album arrives as one update per photo; the bot answers an album once, not once per photo."""
from __future__ import annotations

from sqlalchemy import select

from storage.models import CorrectiveAction
from tests.reports.form_steps import photo, press
from tests.reports.helpers import LI, SEC_A, WANG
from tests.reports.test_review import file_report


async def send_album(harness, user, size: int, group: str) -> list[str]:
    replies: list[str] = []
    for _ in range(size):
        replies += await harness.send(user, None, photo=photo(), media_group_id=group)
    return replies


async def test_an_album_outside_any_form_gets_one_hint(harness, app, world):
    replies = await send_album(harness, LI, 5, "album-1")
    assert len(replies) == 1 and "/help" in replies[0]
    assert len(await send_album(harness, LI, 3, "album-2")) == 1  # a new album is answered again


async def test_an_album_closing_a_corrective_action_gets_one_answer(harness, app, world):
    await file_report(harness)
    await harness.send(SEC_A, "/actions")
    await press(harness, SEC_A, "安排整改")
    await press(harness, SEC_A, "王强")
    await press(harness, SEC_A, "7天内")
    async with app.sessionmaker() as session:
        action = await session.scalar(select(CorrectiveAction))
    from handlers.ui.callbacks import ActionButton

    await harness.press(WANG, ActionButton(action="done", action_id=action.id).pack())
    await harness.send(WANG, "已紧固拉线")
    replies = await send_album(harness, WANG, 6, "album-3")
    assert len(replies) == 1 and "已记录完成" in replies[0]

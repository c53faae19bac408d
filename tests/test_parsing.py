"""Hostile numbers: digits that are not ASCII ("²".isdigit() is true, int("²") fails), ids too large for the
database, negative offsets and malformed callback data are refused with a clear message, never a crash."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.services.parse import ROW_ID_MAX, parse_id, parse_int
from handlers.ui.callbacks import (
    ActionButton,
    AskFeedback,
    AskFull,
    AskMore,
    DailyButton,
    MemberAction,
    ReviewButton,
)
from tests.test_handlers_join import join, make_invite

ADMIN, MEMBER, SECRETARY = 1, 1001, 2001
HUGE = "9" * 20  # overflows SQLite's 64-bit integers and PostgreSQL's BIGINT
APOLOGY = "抱歉，出了点问题"


@pytest.mark.parametrize("text", ["²", "１２", "١٢", "1_0", "+5", "12.0", "0x1f", "", "   ", HUGE, "-1"])
def test_only_ascii_digits_in_range_are_ids(text):
    assert parse_id(text) is None


def test_ids_fit_the_database_and_surrounding_spaces_are_forgiven():
    assert parse_id(" 42 ") == 42
    assert parse_id(str(ROW_ID_MAX)) == ROW_ID_MAX
    assert parse_id(str(ROW_ID_MAX + 1)) is None  # primary keys are INTEGER on PostgreSQL
    assert parse_id("0") is None
    assert parse_int("-4", lo=-10, hi=10) == -4
    assert parse_int("11", lo=-10, hi=10) is None


@pytest.mark.parametrize("forged", [
    f"rv:page:0:0:{HUGE}", f"rv:open:{HUGE}:0:0", f"ac:hazard:{HUGE}:0:0:0", f"fb:{HUGE}:1", f"ask:{HUGE}:0",
    "ask:1:-4", f"full:1:{HUGE}", f"dly:a:{HUGE}:-1", "dly:q:1:²", f"mem:active:{HUGE}::0:1", f"mem:move:1::{HUGE}:0",
    "rv:bogus:1:0:0", "fb:1:0", "fb:1: 1", "dly:a:1_0:-1",
])
def test_callback_data_is_typed_and_bounded(forged):
    classes = {"rv": ReviewButton, "ac": ActionButton, "fb": AskFeedback, "ask": AskMore, "full": AskFull,
               "dly": DailyButton, "mem": MemberAction}
    with pytest.raises((ValidationError, ValueError, TypeError)):
        classes[forged.split(":")[0]].unpack(forged)


def test_valid_callback_data_round_trips():
    for data in (ReviewButton(action="open", report_id=ROW_ID_MAX), AskMore(question_id=3, offset=6),
                 AskFeedback(question_id=1, value=-1), DailyButton(action="q", ack=5, choice=3),
                 MemberAction(action="move", member_id=2, branch_id=7), ActionButton(action="due", hazard_id=1,
                                                                                    owner_id=2, days=7)):
        assert type(data).unpack(data.pack()) == data


@pytest.fixture
async def people(harness, app):
    await join(harness, app, MEMBER, "甲成员", await make_invite(app, "甲所"))
    await join(harness, app, SECRETARY, "甲书记", await make_invite(app, "甲所", role="secretary"))


@pytest.mark.parametrize("command, expected", [
    ("/member ²", "用法"), (f"/member {HUGE}", "用法"), ("/member １２", "用法"),
    ("/members ²", "没有名为"), (f"/members {HUGE}", "没有名为"),
    ("/invite 甲所 member ²", "用法"), (f"/invite 甲所 member {HUGE}", "次数"), ("/invite 甲所 member ¹ 3", "用法"),
    ("/schedule ² 07:00", "没有名为"), ("/acks ²", "没有名为"), (f"/acks {HUGE}", "没有名为"),
])
async def test_hostile_numbers_in_commands_get_a_clear_message(harness, people, command, expected):
    replies = await harness.send(ADMIN, command)
    assert len(replies) == 1 and expected in replies[0] and APOLOGY not in replies[0], (command, replies)


@pytest.mark.parametrize("forged", [
    f"rv:page:0:0:{HUGE}", f"rv:open:{HUGE}:0:0", f"ac:hazard:{HUGE}:0:0:0", f"fb:{HUGE}:1", f"ask:{HUGE}:0",
    "ask:1:-4", f"dly:a:{HUGE}:-1", f"mem:active:{HUGE}::0:1", f"mem:move:1::{HUGE}:0",
    f"mem:active:{HUGE}:1", f"mem:move:1:{HUGE}",  # the shape before callbacks were typed
])
async def test_forged_callbacks_with_hostile_numbers_are_refused_not_crashed(harness, people, forged):
    replies = await harness.press(ADMIN, forged)
    assert replies and "失效" in replies[-1] and not any(APOLOGY in reply for reply in replies), (forged, replies)

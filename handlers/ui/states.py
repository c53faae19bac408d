"""FSM states of the conversations (kept here so jobs can name a form's state without importing its router)."""
from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class JoinForm(StatesGroup):
    name = State()
    confirm = State()


class ReportForm(StatesGroup):
    filling = State()


class ReviewForm(StatesGroup):
    comment = State()


class ActionDoneForm(StatesGroup):
    note = State()
    photo = State()


class ActionAssignForm(StatesGroup):
    """A secretary assigning a corrective action: the owner and the due date are chosen with buttons (a date
    may also be typed); anything else typed meanwhile is answered here instead of becoming a question."""

    owner = State()
    due = State()


class TalkForm(StatesGroup):
    filling = State()


class TalkFollowUpDone(StatesGroup):
    note = State()


class GapAnswerForm(StatesGroup):
    """An admin typing the answer to a /gaps group (the group's question id is in the FSM data)."""

    answer = State()

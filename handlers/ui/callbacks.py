"""Callback data of every inline button, in one place: feature routers, notices and jobs build and parse
buttons with these classes, so no feature imports another to make a button that leads into it.

Whatever a button carries is re-authorized on use (ownership, branch, state); callback data is never trusted."""
from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class LanguageChoice(CallbackData, prefix="lang"):
    code: str


class JoinChoice(CallbackData, prefix="join"):
    accept: bool


class MemberAction(CallbackData, prefix="mem"):
    action: str  # "role", "move", "active", "pick_branch"
    member_id: int
    value: str = ""


class AskMore(CallbackData, prefix="ask"):
    question_id: int
    offset: int


class AskFull(CallbackData, prefix="full"):
    question_id: int
    index: int


class AskFeedback(CallbackData, prefix="fb"):
    question_id: int
    value: int


class DailyButton(CallbackData, prefix="dly"):
    """`a`: 「已学习」; `q`: a quiz option (`choice` 0–3). `ack` is the acknowledgement row's id; the handler
    re-checks that it belongs to whoever pressed, so a forged or forwarded button does nothing."""

    action: str
    ack: int
    choice: int = -1


class ReportFormButton(CallbackData, prefix="rf"):
    """A form button. `step` is the step it belongs to, so a button from an earlier screen is refused."""

    action: str
    step: str = ""
    value: str = ""


class ReviewButton(CallbackData, prefix="rv"):
    action: str  # "page", "open", "approve", "return"
    report_id: int = 0
    version: int = 0
    page: int = 0


class ActionButton(CallbackData, prefix="ac"):
    action: str  # "hazard", "owner", "due", "done"
    hazard_id: int = 0
    owner_id: int = 0
    days: int = 0
    action_id: int = 0


class TalkFormButton(CallbackData, prefix="tf"):
    """A /talk form button; `step` is the step it belongs to, so a button from an earlier screen is refused."""

    action: str
    step: str = ""
    value: str = ""


class TalkButton(CallbackData, prefix="tk"):
    """Buttons outside the form: "confirm" (「确认参加」, talk id), "open" (a talk), "done" (a follow-up id),
    "due" (the 「待谈」 list of a branch), "start" (/talk prefilled with member `ref`), "branch" (admins: a
    branch's overview). Ownership and branch are checked again on every press."""

    action: str
    ref: int = 0


class KbButton(CallbackData, prefix="kb"):
    """Admins' knowledge-folder buttons: "replace" / "both" (an upload clashing with a file of the same name),
    "remove" (confirmed), "restore" (from the trash), "cancel". `key` is the file name's kb.key_of() (names
    do not fit the 64 bytes of callback data); the handler finds the file again and re-checks the admin."""

    action: str
    key: str = ""

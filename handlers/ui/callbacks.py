"""Callback data of every inline button, in one place: feature routers, notices and jobs build and parse
buttons with these classes, so no feature imports another to make a button that leads into it.

Whatever a button carries is re-authorized on use (ownership, branch, state); callback data is never trusted.
Fields are typed and bounded: a forged or malformed button fails to unpack, so no handler sees it and the
fallback router answers "this button is no longer valid" (nothing is written, nothing raises)."""
from __future__ import annotations

from typing import Annotated, Literal

from aiogram.filters.callback_data import CallbackData
from pydantic import BeforeValidator, Field

from bot.services.item_rules import ItemKind
from bot.services.parse import ROW_ID_MAX, strict_int


def _bounded(lo: int, hi: int):
    return Annotated[int, BeforeValidator(strict_int), Field(ge=lo, le=hi)]


RowId = _bounded(0, ROW_ID_MAX)  # 0: none
MAX_SHOWN_SOURCES = 60  # clauses one answer can page through (「更多」 offsets, 「原文」 indexes)


class LanguageChoice(CallbackData, prefix="lang"):
    code: Annotated[str, Field(max_length=8)]


class JoinChoice(CallbackData, prefix="join"):
    accept: bool


class MemberAction(CallbackData, prefix="mem"):
    action: Literal["role", "move", "active", "pick_branch"]
    member_id: RowId
    role: Literal["", "member", "secretary", "admin"] = ""  # "role": the new role
    branch_id: RowId = 0  # "move": the new branch
    active: bool = False  # "active": the new state


class InviteButton(CallbackData, prefix="inv"):
    """Revoke an invite link (from /invites)."""

    invite_id: RowId


class AskMore(CallbackData, prefix="ask"):
    question_id: RowId
    offset: _bounded(0, MAX_SHOWN_SOURCES)


class AskFull(CallbackData, prefix="full"):
    question_id: RowId
    index: _bounded(0, MAX_SHOWN_SOURCES - 1)


class AskFeedback(CallbackData, prefix="fb"):
    question_id: RowId
    value: Annotated[Literal[-1, 1], BeforeValidator(strict_int)]


class DailyButton(CallbackData, prefix="dly"):
    """`a`: 「已学习」; `q`: a quiz option (`choice` 0–3). `ack` is the acknowledgement row's id; the handler
    re-checks that it belongs to whoever pressed, so a forged or forwarded button does nothing."""

    action: Literal["a", "q"]
    ack: RowId
    choice: _bounded(-1, 3) = -1


class ReportFormButton(CallbackData, prefix="rf"):
    """A form button. `step` is the step it belongs to, so a button from an earlier screen is refused."""

    action: str
    step: str = ""
    value: str = ""


RULE_BUTTON_CLAUSE = 24  # characters of a clause number a rule button carries …
RULE_BUTTON_CLAUSE_BYTES = 32  # … and its UTF-8 bytes (第二十四条 is 3 bytes a character): the packed button stays ≤ 64


def rule_button_clause(clause: str) -> str:
    """The clause number as a rule button carries it (bounded in characters and bytes, without the callback
    separator)."""
    cut = clause.replace(":", "")[:RULE_BUTTON_CLAUSE]
    while len(cut.encode()) > RULE_BUTTON_CLAUSE_BYTES:
        cut = cut[:-1]
    return cut


class RuleButton(CallbackData, prefix="rul"):
    """「去掉相关规定」 on the report form: remove the rule found for item number `index` (0-based) of the list
    `kind` (hazards or violations) of the member's own draft. `step` is the screen it was shown on (that list,
    or the summary) and `clause` the rule it names: the handler reads the draft from the presser's own form
    state and acts only while all of them still match (a stale or forged button changes nothing)."""

    kind: ItemKind
    step: Literal["hazards", "violations", "confirm"]
    index: _bounded(0, 99)
    clause: Annotated[str, Field(min_length=1, max_length=RULE_BUTTON_CLAUSE)]


class ReviewButton(CallbackData, prefix="rv"):
    action: Literal["page", "open", "approve", "return"]
    report_id: RowId = 0
    version: _bounded(0, ROW_ID_MAX) = 0
    page: _bounded(0, 10_000) = 0


class ActionButton(CallbackData, prefix="ac"):
    action: Literal["hazard", "owner", "due", "done", "verify", "reopen"]
    hazard_id: RowId = 0
    owner_id: RowId = 0
    days: _bounded(0, 366) = 0
    action_id: RowId = 0


class TalkFormButton(CallbackData, prefix="tf"):
    """A /talk form button; `step` is the step it belongs to, so a button from an earlier screen is refused."""

    action: str
    step: str = ""
    value: str = ""


class TalkButton(CallbackData, prefix="tk"):
    """Buttons outside the form: "confirm" (「确认参加」, talk id), "open" (a talk), "done" (a follow-up id),
    "due" (the 「待谈」 list of a branch), "start" (/talk prefilled with member `ref`), "branch" (admins: a
    branch's overview). Ownership and branch are checked again on every press."""

    action: Literal["confirm", "open", "done", "due", "start", "branch"]
    ref: RowId = 0


class KbButton(CallbackData, prefix="kb"):
    """Admins' knowledge-folder buttons: "replace" / "both" (an upload clashing with a file of the same name),
    "remove" (confirmed), "restore" (from the trash), "cancel". `key` is the file name's kb.key_of() (names
    do not fit the 64 bytes of callback data); the handler finds the file again and re-checks the admin."""

    action: Literal["replace", "both", "remove", "restore", "cancel"]
    key: str = ""


class GapButton(CallbackData, prefix="gap"):
    """/gaps: "answer" (「答复」, the admin types the FAQ answer) or "out" (「不在范围」, the refusal was right).
    `question_id` is any question of the group; the handler re-checks the admin and finds the open group again."""

    action: Literal["answer", "out"]
    question_id: RowId


# Buttons that show or change personal data (reports, actions, members, invites, the form, daily answers):
# pressed on a message in a group chat, they are refused before any feature router sees them.
PRIVATE_BUTTONS: tuple[type[CallbackData], ...] = (
    MemberAction, InviteButton, DailyButton, ReportFormButton, RuleButton, ReviewButton, ActionButton, TalkFormButton, TalkButton, KbButton,
    GapButton,
)

"""The talk record (谈心谈话) as a form: its typed draft and its step graph.

Main path: kind → people → date → place → topic → concerns → agreement → follow-ups → confirm.
People is a picker (a paginated branch list; typing searches by name or adds someone outside the bot).
Concerns and follow-ups are lists; adding one goes through side steps (c_tag → c_note → c_private,
f_what → f_owner → f_due) and returns to the list."""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from bot.forms.engine import FormDraft, FormGraph, Redirect

TEXT_STEPS = frozenset({"people", "date", "place", "topic", "c_note", "agreement", "f_what", "f_owner", "f_due"})
ITEM_STEPS = {"c_tag": "concerns", "f_what": "follow_ups"}  # first step of adding an item -> its list
PAST_DAYS = 6  # quick date buttons: today and the six days before
HALF_YEAR = timedelta(days=183)


class TalkDraft(FormDraft):
    kind: str | None = None
    people: list[dict[str, Any]] = []  # {"member_id": int|None, "name": str, "joined": "YYYY-MM-DD"|None}
    page: int = 0  # the people list's page
    search: str | None = None  # the people list filtered by this part of a name
    held_on: str | None = None  # "YYYY-MM-DD", local
    place: str | None = None
    topic: str | None = None
    concerns: list[dict[str, Any]] = []  # {"tag", "note", "secretary_only"}
    agreement: str | None = None
    follow_ups: list[dict[str, Any]] = []  # {"what", "owner_id", "owner_name", "due"}
    item: dict[str, Any] | None = None  # the concern or follow-up being added

    def answers(self) -> dict[str, Any]:
        """The answers as bot.services.talks.TalkInput.from_form and the shared texts read them."""
        return self.model_dump(mode="json", include={"kind", "people", "held_on", "place", "topic", "concerns",
                                                      "agreement", "follow_ups"})

    def has_person(self, member_id: int | None, name: str) -> bool:
        return any((member_id is not None and p.get("member_id") == member_id)
                   or (member_id is None and p.get("member_id") is None and p.get("name") == name)
                   for p in self.people)


def people_chosen(draft: TalkDraft, leaving: str, target: str) -> Redirect | None:
    if leaving == "people" and not draft.people:
        return Redirect("people", "no_people")
    return None


def joined_by_then(draft: TalkDraft, leaving: str, target: str) -> Redirect | None:
    """No talk before a participant joined (people or the date may change in either order)."""
    if leaving not in ("people", "date") or not draft.held_on:
        return None
    for person in draft.people:
        if person.get("joined") and person["joined"] > draft.held_on:
            return Redirect("date", "before_joined", {"name": person["name"], "date": person["joined"]})
    return None


TALK_FORM: FormGraph[TalkDraft] = FormGraph(
    order=("kind", "people", "date", "place", "topic", "concerns", "agreement", "follow_ups", "confirm"),
    summary="confirm",
    part_ends=frozenset({"kind", "people", "date", "place", "topic", "concerns", "agreement", "follow_ups"}),
    edit_targets={step: step for step in ("kind", "people", "date", "place", "topic", "concerns", "agreement",
                                          "follow_ups")},
    skippable=frozenset({"place", "agreement"}),
    checks=(people_chosen, joined_by_then),
)

_RELATIVE = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2, "today": 0, "yesterday": 1}
_FULL = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_SHORT = re.compile(r"(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")


def parse_day(text: str, today: date, future: bool = False) -> date | None:
    """A typed date: 2026-11-18, 2026/11/18, 2026年11月18日, 11-18, 11月18日, 今天, 昨天, 前天.

    A date without a year is this year's, except across New Year: more than half a year ahead is last year's
    (in January, 12-30 is the talk of last week), more than half a year back is next year's when the question
    asks for a day ahead (a due date). A day on the wrong side is kept, so the caller can say what is wrong
    with it. None when it is no date at all."""
    text = (text or "").strip().lower()
    if text in _RELATIVE:
        return today - timedelta(days=_RELATIVE[text])
    try:
        if match := _FULL.fullmatch(text):
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if match := _SHORT.fullmatch(text):
            month, day = int(match.group(1)), int(match.group(2))
            guess = date(today.year, month, day)
            if future and guess < today - HALF_YEAR:
                guess = date(today.year + 1, month, day)
            elif not future and guess > today + HALF_YEAR:
                guess = date(today.year - 1, month, day)
            return guess
    except ValueError:  # 2026-02-30 and the like
        return None
    return None

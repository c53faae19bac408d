"""The talk record (谈心谈话) as a form: its typed draft and its step graph.

Main path: kind → people → date → place → topic → concerns → agreement → follow-ups → confirm.
People is a picker (a paginated branch list; typing searches by name or adds someone outside the bot).
Concerns and follow-ups are lists; adding one goes through side steps (c_tag → c_note → c_private,
f_what → f_owner → f_due) and returns to the list."""
from __future__ import annotations

from typing import Any

from bot.forms.engine import FormDraft, FormGraph, Redirect
from bot.services.parse import parse_day  # noqa: F401 - the talk form's dates (re-exported)

TEXT_STEPS = frozenset({"people", "date", "place", "topic", "c_note", "agreement", "f_what", "f_owner", "f_due"})
ITEM_STEPS = {"c_tag": "concerns", "f_what": "follow_ups"}  # first step of adding an item -> its list
PAST_DAYS = 6  # quick date buttons: today and the six days before


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

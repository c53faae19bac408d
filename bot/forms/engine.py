"""The form engine: a typed draft and a step graph with next, back, skip, a summary with edit links, and
"return to the list" for repeated items (hazards, follow-ups…). Cancel, resume after a restart and the idle
reminder come from where the draft lives: the persistent FSM storage (SQL or Redis) and the idle-form scan.

Why not aiogram_dialog: it is a fine library, but it owns rendering (windows, widgets, its own stack in the
FSM data) and its states are its own, while our forms must keep their exact texts and buttons, render
summaries shared with the review screens and notices, be scanned for idleness by a job, and be driven in
tests without Telegram. What they share is small — navigation over a graph of named steps — so it is written
here (~150 lines, typed, unit-tested in tests/forms) and each form stays a plain description plus screens.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class FormDraft(BaseModel):
    """What every form keeps between messages: which run of the form it is (token), which chat it belongs
    to (the idle-form scan writes to it), the current step and the steps that led there."""

    model_config = ConfigDict(extra="ignore")

    token: str
    chat: int
    step: str = ""
    trail: list[str] = []
    editing: bool = False  # editing one part from the summary: finishing the part returns to the summary
    overflow: str | None = None  # an over-long answer, kept until it is trimmed or sent again

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Any:
        """The draft stored in the FSM data, or None when there is none (or it is of an older shape)."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError:
            return None

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


D = TypeVar("D", bound=FormDraft)


@dataclass(frozen=True)
class Redirect:
    """A check's verdict when leaving a step: go to `step` instead and tell the user why (`reason` is a
    code with `params`; the router turns it into text in the user's language)."""

    step: str
    reason: str
    params: dict[str, Any] = field(default_factory=dict)


# check(draft, leaving, target) -> Redirect | None: runs whenever the form moves on from `leaving`.
Check = Callable[[Any, str, str], Redirect | None]


@dataclass(frozen=True)
class FormGraph(Generic[D]):
    """The steps of a form. `order` is the main path; side steps (adding one item to a list) are reached
    with `advance` and left with `return_to`."""

    order: tuple[str, ...]
    summary: str  # the last step: everything shown, with edit links and confirm
    part_ends: frozenset[str] = frozenset()  # leaving one of these while editing goes back to the summary
    edit_targets: Mapping[str, str] = field(default_factory=dict)  # summary's edit link -> first step of the part
    skip_next_when_empty: Mapping[str, str] = field(default_factory=dict)  # e.g. no "did" -> no "example"
    skippable: frozenset[str] = frozenset()
    checks: tuple[Check, ...] = ()

    def __post_init__(self) -> None:
        if self.summary not in self.order:
            raise ValueError("the summary step must be on the main path")
        unknown = set(self.edit_targets.values()) - set(self.order)
        if unknown:
            raise ValueError(f"edit links to steps off the main path: {sorted(unknown)}")

    @property
    def first(self) -> str:
        return self.order[0]

    def is_first(self, draft: D) -> bool:
        """Nothing to go back to (the screen offers no 「上一步」)."""
        return not draft.trail

    def advance(self, draft: D, step: str, push: bool = True) -> None:
        """Go to `step`; with `push`, 「上一步」 comes back to where the draft is now."""
        if push and draft.step:
            draft.trail = [*draft.trail, draft.step]
        draft.step = step
        draft.overflow = None

    def after(self, draft: D, step: str) -> str:
        """The step after `step` on the main path (the summary when editing one part)."""
        if draft.editing and step in self.part_ends:
            return self.summary
        following = self.order[self.order.index(step) + 1]
        skipped = self.skip_next_when_empty.get(step)
        if skipped == following and not getattr(draft, step, None):
            return self.after(draft, following)
        return following

    def next(self, draft: D, step: str | None = None) -> Redirect | None:
        """Move on from `step` (default: the current one). A check may send the draft elsewhere instead;
        its Redirect is returned so the user is told why."""
        leaving = step or draft.step
        target = self.after(draft, leaving)
        for check in self.checks:
            redirect = check(draft, leaving, target)
            if redirect is not None:
                self.advance(draft, redirect.step)
                return redirect
        if target == self.summary:
            draft.editing = False
        self.advance(draft, target)
        return None

    def back(self, draft: D) -> bool:
        """One step back; False on the first step."""
        if not draft.trail:
            return False
        *rest, previous = draft.trail
        draft.trail = rest
        draft.step = previous
        draft.overflow = None
        return True

    def edit(self, draft: D, part: str) -> bool:
        """From the summary, open one part for editing; False for an unknown part."""
        target = self.edit_targets.get(part)
        if target is None:
            return False
        draft.editing = True
        self.advance(draft, target)
        return True

    def return_to(self, draft: D, list_step: str) -> None:
        """After an item (a hazard, a follow-up…) is complete, show its list again as if the item's steps had
        never been visited: 「上一步」 from the list goes to what came before the list."""
        trail = draft.trail
        if list_step in trail:
            trail = trail[: len(trail) - 1 - trail[::-1].index(list_step)]
        draft.trail = trail
        draft.step = list_step
        draft.overflow = None

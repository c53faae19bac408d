"""The monthly 四不伤害 report as a form: its typed draft and its step graph.

Main path: month → summary → the four sections (what I did, an example each) → hazards → violations →
suggestions → confirm. Hazards and violations are lists; adding one goes through side steps
(hz_desc → hz_place → hz_photos → hz_urgency, vi_desc → vi_photo) and returns to the list."""
from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field

from bot.forms.engine import FormDraft, FormGraph, Redirect
from bot.services.reports import MIN_SECTIONS
from storage.models.reports import SECTIONS

SECTION_STEPS = tuple(f"{name}_{part}" for name in SECTIONS for part in ("did", "example"))
TEXT_STEPS = frozenset({"summary", *SECTION_STEPS, "hz_desc", "hz_place", "vi_desc", "suggestions"})
PHOTO_STEPS = frozenset({"hz_photos", "vi_photo"})
ITEM_STEPS = {"hz_desc": "hazards", "vi_desc": "violations"}  # first step of adding an item -> its list


class ReportDraft(FormDraft):
    month: str | None = None
    month_choices: list[str] = []
    summary: str | None = None
    self_did: str | None = None
    self_example: str | None = None
    others_did: str | None = None
    others_example: str | None = None
    by_others_did: str | None = None
    by_others_example: str | None = None
    protect_did: str | None = None
    protect_example: str | None = None
    hazards: list[dict[str, Any]] = []
    violations: list[dict[str, Any]] = []
    # the hazard or violation being added (stored as "draft" by earlier versions of the form)
    item: dict[str, Any] | None = Field(default=None, validation_alias=AliasChoices("item", "draft"))
    suggestions: str | None = None
    report_id: int | None = None  # editing a returned report
    return_comment: str | None = None

    def filled_sections(self) -> list[str]:
        return [name for name in SECTIONS if getattr(self, f"{name}_did")]

    def answers(self) -> dict[str, Any]:
        """The answers as the report service and the shared report texts read them."""
        return self.model_dump(mode="json", exclude={"token", "chat", "step", "trail", "editing", "overflow", "item"})


def enough_sections(draft: ReportDraft, leaving: str, target: str) -> Redirect | None:
    """Leaving the four sections needs at least MIN_SECTIONS of them (said at step 2, checked here)."""
    if leaving not in SECTION_STEPS or target in SECTION_STEPS:
        return None
    filled = draft.filled_sections()
    if len(filled) >= MIN_SECTIONS:
        return None
    first_empty = next(name for name in SECTIONS if not getattr(draft, f"{name}_did"))
    return Redirect(f"{first_empty}_did", "too_few_sections", {"min": MIN_SECTIONS, "count": len(filled)})


REPORT_FORM: FormGraph[ReportDraft] = FormGraph(
    order=("month", "summary", *SECTION_STEPS, "hazards", "violations", "suggestions", "confirm"),
    summary="confirm",
    part_ends=frozenset({"month", "summary", "protect_example", "hazards", "violations", "suggestions"}),
    edit_targets={"month": "month", "summary": "summary", "sections": "self_did", "hazards": "hazards",
                  "violations": "violations", "suggestions": "suggestions"},
    skip_next_when_empty={f"{name}_did": f"{name}_example" for name in SECTIONS},
    skippable=frozenset({*SECTION_STEPS, "hz_photos", "vi_photo", "suggestions"}),
    checks=(enough_sections,),
)

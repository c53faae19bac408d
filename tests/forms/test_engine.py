"""The form engine, without Telegram: navigation over a step graph and a draft that survives a round trip
through the FSM storage (a restart)."""
from __future__ import annotations

import pytest

from bot.forms.engine import FormDraft, FormGraph, Redirect
from bot.forms.report import REPORT_FORM, ReportDraft


class TalkDraft(FormDraft):
    topic: str | None = None
    note: str | None = None
    items: list[str] = []


def needs_topic(draft: TalkDraft, leaving: str, target: str) -> Redirect | None:
    return Redirect("topic", "topic_missing") if target == "confirm" and not draft.topic else None


GRAPH: FormGraph[TalkDraft] = FormGraph(
    order=("topic", "note", "items", "confirm"), summary="confirm",
    part_ends=frozenset({"topic", "note", "items"}), edit_targets={"topic": "topic", "items": "items"},
    skip_next_when_empty={"topic": "note"}, checks=(needs_topic,),
)


def started() -> TalkDraft:
    draft = TalkDraft(token="t", chat=1)
    GRAPH.advance(draft, GRAPH.first)
    return draft


def test_next_follows_the_main_path_and_back_retraces_it():
    draft = started()
    draft.topic = "安全"
    assert GRAPH.next(draft) is None and draft.step == "note"
    assert GRAPH.next(draft) is None and draft.step == "items"
    assert GRAPH.back(draft) and draft.step == "note"
    assert GRAPH.back(draft) and draft.step == "topic"
    assert not GRAPH.back(draft) and GRAPH.is_first(draft)


def test_an_empty_answer_skips_its_follow_up_step():
    draft = started()
    GRAPH.advance(draft, "items")
    draft.topic = None
    assert GRAPH.after(draft, "topic") == "items"


def test_a_check_redirects_and_says_why():
    draft = started()
    GRAPH.advance(draft, "items")
    redirect = GRAPH.next(draft)
    assert redirect == Redirect("topic", "topic_missing") and draft.step == "topic"


def test_editing_a_part_from_the_summary_returns_to_the_summary():
    draft = started()
    draft.topic = "安全"
    for _ in range(3):
        GRAPH.next(draft)
    assert draft.step == "confirm"
    assert GRAPH.edit(draft, "topic") and draft.editing and draft.step == "topic"
    GRAPH.next(draft)
    assert draft.step == "confirm" and not draft.editing
    assert not GRAPH.edit(draft, "nonsense") and draft.step == "confirm"


def test_returning_to_a_list_forgets_the_item_steps():
    draft = started()
    draft.topic = "安全"
    GRAPH.next(draft), GRAPH.next(draft)
    assert draft.step == "items"
    GRAPH.advance(draft, "item_text")
    GRAPH.advance(draft, "item_owner")
    GRAPH.return_to(draft, "items")
    assert draft.step == "items" and draft.trail == ["topic", "note"]
    assert GRAPH.back(draft) and draft.step == "note"


def test_an_overlong_answer_is_forgotten_when_the_step_changes():
    draft = started()
    draft.overflow = "x" * 5000
    draft.topic = "安全"
    GRAPH.next(draft)
    assert draft.overflow is None


def test_the_draft_survives_a_round_trip_and_a_foreign_shape_is_refused():
    draft = started()
    draft.topic = "安全"
    GRAPH.next(draft)
    again = TalkDraft.load(draft.dump())
    assert again == draft
    assert TalkDraft.load({"chat": "not a number"}) is None


def test_a_graph_with_an_edit_link_off_the_main_path_is_rejected():
    with pytest.raises(ValueError):
        FormGraph(order=("a", "confirm"), summary="confirm", edit_targets={"x": "nowhere"})


def test_report_form_needs_two_sections_before_the_hazards():
    draft = ReportDraft(token="t", chat=1, month="2026-11", summary="小结", self_did="登杆前检查安全带")
    REPORT_FORM.advance(draft, "protect_did")  # the last section, left empty: its example is skipped too
    redirect = REPORT_FORM.next(draft)
    assert redirect == Redirect("others_did", "too_few_sections", {"min": 2, "count": 1})
    assert draft.step == "others_did"
    draft.others_did = "吊装时清场"
    REPORT_FORM.advance(draft, "protect_did")
    assert REPORT_FORM.next(draft) is None and draft.step == "hazards"


def test_report_draft_reads_forms_saved_before_the_engine():
    saved = {"token": "t", "chat": 5, "step": "hz_place", "trail": ["month", "summary"], "month": "2026-11",
             "hazards": [], "violations": [], "draft": {"description": "拉线松动", "photos": []}}
    draft = ReportDraft.load(saved)
    assert draft.item == {"description": "拉线松动", "photos": []} and draft.step == "hz_place"

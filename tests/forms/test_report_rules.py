"""The report form's draft carries the rule found for a hazard: from the item being added to the hazard list,
through the FSM storage (a restart) and into what the report service reads."""
from __future__ import annotations

from bot.forms.report import REPORT_FORM, ReportDraft
from bot.services.item_rules import ItemRule
from bot.services.reports import ReportInput

RULE = ItemRule("电力安全工作规程（第3部分）", "20.3.1", "杆塔作业应使用工具袋")


def at_hazards() -> ReportDraft:
    draft = ReportDraft(token="t", chat=1, month="2026-11", summary="小结", self_did="检查安全带",
                        others_did="清场")
    REPORT_FORM.advance(draft, "hazards", push=False)
    return draft


def test_the_rule_of_a_new_hazard_joins_the_list_and_survives_a_restart():
    draft = at_hazards()
    REPORT_FORM.advance(draft, "hz_desc")
    draft.item = {"description": "扳手扔下来", "photos": [], "rule": RULE.as_dict()}
    REPORT_FORM.advance(draft, "hz_place")
    draft.item = {**draft.item, "place": "3号杆"}
    REPORT_FORM.advance(draft, "hz_photos")
    REPORT_FORM.advance(draft, "hz_urgency")
    draft.item = {**draft.item, "urgency": "一般"}
    REPORT_FORM.finish_item(draft, "hazards")
    assert draft.step == "hazards" and draft.item is None
    restored = ReportDraft.load(draft.dump())  # what the FSM storage keeps
    assert ItemRule.from_dict(restored.hazards[0]["rule"]) == RULE
    assert ReportInput.from_form(restored.answers()).hazards[0].rule == RULE


def test_a_draft_from_before_rules_loads_and_has_no_rule():
    draft = at_hazards()
    draft.hazards = [{"description": "拉线松动", "photos": [], "urgency": "一般"}]
    restored = ReportDraft.load(draft.dump())
    assert ReportInput.from_form(restored.answers()).hazards[0].rule is None


def test_the_rule_of_a_new_violation_joins_the_list_and_survives_a_restart():
    for photo in (True, False):  # with a photo, or skipping it
        draft = at_hazards()
        REPORT_FORM.advance(draft, "violations")
        REPORT_FORM.advance(draft, "vi_desc")
        draft.item = {"description": "未戴安全帽进入现场", "photos": [], "rule": RULE.as_dict()}
        REPORT_FORM.advance(draft, "vi_photo")
        if photo:
            draft.item = {**draft.item, "photos": [{"file_id": "f", "file_unique_id": "u", "local_path": None}]}
        REPORT_FORM.finish_item(draft, "violations")
        assert draft.step == "violations" and draft.item is None
        restored = ReportDraft.load(draft.dump())  # what the FSM storage keeps
        assert ItemRule.from_dict(restored.violations[0]["rule"]) == RULE
        parsed = ReportInput.from_form(restored.answers()).violations[0]
        assert parsed.rule == RULE and len(parsed.photos) == photo


def test_a_draft_from_before_violation_rules_loads_and_has_no_rule():
    draft = at_hazards()
    draft.violations = [{"description": "未戴安全帽", "photos": []}]
    restored = ReportDraft.load(draft.dump())
    assert ReportInput.from_form(restored.answers()).violations[0].rule is None

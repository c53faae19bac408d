"""English mode reads as English: no Chinese list commas, urgency labels or report button, and the member
list and report lines say what they mean."""
from __future__ import annotations

from handlers.reports import BTN_REPORT
from tests.reports.form_steps import add_hazard, fill_until_hazards, finish_after_hazards, press
from tests.reports.helpers import LI, SEC_A
from tests.test_handlers_join import join, make_invite


async def test_member_list_and_branch_counts_in_english(harness, app):
    await join(harness, app, 1001, "李海波", await make_invite(app))
    await harness.send(1, "/language")
    await harness.press(1, harness.button_data("English"))
    members = (await harness.send(1, "/members"))[0]
    assert "— admin — no branch" in members and "— —" not in members
    assert "— 1 member" in (await harness.send(1, "/branch"))[0]


async def test_report_screens_and_actions_in_english(harness, app, world):
    await fill_until_hazards(harness, LI)  # in Chinese; then both switch to English (the form waits)
    for user in (LI, SEC_A):
        await harness.send(user, "/language")
        await harness.press(user, harness.button_data("English"))
    await harness.send(LI, "/report")
    await press(harness, LI, "Continue")
    await press(harness, LI, "Add a hazard")
    await harness.send(LI, "拉线松动")
    await harness.send(LI, "余山村3号杆")
    await press(harness, LI, "No photos")
    listing = await press(harness, LI, "Serious")
    assert "[serious]" in listing[-1] and "no photos" in listing[-1] and "照片" not in listing[-1]
    await press(harness, LI, "Next")
    await press(harness, LI, "No violations")
    await press(harness, LI, "No suggestions")
    await press(harness, LI, "Submit")
    actions = (await harness.send(SEC_A, "/actions"))[0]
    assert "[serious]" in actions and "较大" not in actions
    with app.i18n.context(), app.i18n.use_locale("en"):
        assert str(BTN_REPORT) == "📝 Monthly safety report"


async def test_due_buttons_say_day_or_days(harness, app, world, monkeypatch):
    """「in 1 day」 but 「in 0 days」 and 「in 2 days」; Chinese keeps 「1天内」."""
    import handlers.review

    monkeypatch.setattr(handlers.review, "DUE_CHOICES", (0, 1, 2))
    await fill_until_hazards(harness, LI)
    await add_hazard(harness, LI, "拉线松动", photos=0)
    await finish_after_hazards(harness, LI)
    await press(harness, LI, "确认提交")

    def labels() -> list[str]:
        return [button.text for row in harness.last_keyboard().inline_keyboard for button in row]

    await harness.send(SEC_A, "/actions")
    await press(harness, SEC_A, "安排整改")
    await press(harness, SEC_A, "王强")
    assert labels() == ["0天内", "1天内", "2天内"]

    await harness.send(SEC_A, "/language")
    await harness.press(SEC_A, harness.button_data("English"))
    await harness.send(SEC_A, "/actions")
    await press(harness, SEC_A, "Assign")
    await press(harness, SEC_A, "王强")
    assert labels() == ["in 0 days", "in 1 day", "in 2 days"]

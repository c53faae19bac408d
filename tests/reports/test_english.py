"""English mode reads as English: no Chinese list commas, urgency labels or report button, and the member
list and report lines say what they mean."""
from __future__ import annotations

from handlers.reports import BTN_REPORT
from tests.reports.form_steps import fill_until_hazards, press
from tests.reports.helpers import LI, SEC_A
from tests.test_handlers_join import join, make_invite


async def test_member_list_and_branch_counts_in_english(harness, app):
    await join(harness, app, 1001, "李海波", await make_invite(app))
    await harness.send(1, "/language")
    await harness.press(1, harness.button_data("English"))
    members = (await harness.send(1, "/members"))[0]
    assert "— admin — no branch" in members and "— —" not in members
    assert "members: 1" in (await harness.send(1, "/branch"))[0]


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

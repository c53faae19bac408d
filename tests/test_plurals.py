"""Counted nouns: English says 「1 member」 and 「2 members」 (and 「0 members」), Chinese keeps its one form.

A handler reply (/branch), a digest line (a plural `Fact`), a reminder from a template whose number is
known only when it is sent; the due-date buttons are in tests/reports/test_english.py."""
from __future__ import annotations

import pytest

from bot.i18n import fill, plural_template
from bot.services.digest import Fact, plural_fact
from handlers.ui.digest_view import fact_text
from tests.test_handlers_join import ADMIN, join, make_invite


async def _language(harness, user, name):
    await harness.send(user, "/language")
    await harness.press(user, harness.button_data(name))


def _line(reply: str, branch: str) -> str:
    return next(line for line in reply.splitlines() if line.startswith(branch))


async def test_branch_list_counts_members_in_english_and_chinese(harness, app):
    await join(harness, app, 1001, "李海波", await make_invite(app))
    await harness.send(ADMIN, "/branch add 空支部")
    await _language(harness, ADMIN, "English")
    listing = (await harness.send(ADMIN, "/branch"))[0]
    assert _line(listing, "余山供电所") == "余山供电所 — 1 member"
    assert _line(listing, "空支部") == "空支部 — 0 members"
    await join(harness, app, 1002, "王强", await make_invite(app))
    assert _line((await harness.send(ADMIN, "/branch"))[0], "余山供电所") == "余山供电所 — 2 members"

    await _language(harness, ADMIN, "简体中文")
    listing = (await harness.send(ADMIN, "/branch"))[0]
    assert _line(listing, "余山供电所") == "余山供电所 — 2 名成员"
    assert _line(listing, "空支部") == "空支部 — 0 名成员"


WAITING = plural_fact("Waiting for review: {count} (oldest {days} day)",
                      "Waiting for review: {count} (oldest {days} days)", {"count": 2, "days": 1}, n="days")


@pytest.mark.parametrize(("days", "english", "chinese"), [
    (1, "Waiting for review: 2 (oldest 1 day)", "待审核：2 份（最久 1 天）"),
    (2, "Waiting for review: 2 (oldest 2 days)", "待审核：2 份（最久 2 天）"),
    (0, "Waiting for review: 2 (oldest 0 days)", "待审核：2 份（最久 0 天）"),
])
async def test_a_digest_line_takes_its_form_from_the_named_param(app, days, english, chinese):
    fact = Fact(WAITING.msgid, {"count": 2, "days": days}, plural=WAITING.plural, n="days")
    with app.i18n.context():
        with app.i18n.use_locale("en"):
            assert fact_text(fact) == english
        with app.i18n.use_locale("zh"):
            assert fact_text(fact) == chinese


@pytest.mark.parametrize(("count", "english", "chinese"), [(1, "1 member", "1 人"), (2, "2 members", "2 人"),
                                                           (0, "0 members", "0 人")])
async def test_the_digest_headline_counts_members(app, count, english, chinese):
    fact = plural_fact("{count} member", "{count} members", {"count": count})
    with app.i18n.context():
        with app.i18n.use_locale("en"):
            assert fact_text(fact) == english and fact_text(fact, html=False) == english
        with app.i18n.use_locale("zh"):
            assert fact_text(fact) == chinese


async def test_a_plural_template_picks_the_form_when_filled(app):
    from schedulers.forms import IDLE_FORMS

    reminder = IDLE_FORMS[1].reminder
    with app.i18n.context():
        with app.i18n.use_locale("en"):
            assert "kept for 1 day without" in fill(reminder, days=1)
            assert "kept for 7 days without" in fill(reminder, days=7)
        with app.i18n.use_locale("zh"):
            assert fill(reminder, days=1) == "您有一份未填完的谈话记录。发送 /talk 继续填写；超过1天未更新将被清除。"
        assert fill(plural_template("{n} x", "{n} xs", n="n"), n=3) == "3 xs"  # not in a catalog: English as written

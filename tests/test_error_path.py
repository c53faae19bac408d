"""Every failure ends in a localized apology (an answered callback for buttons) and one log line naming the
real cause: an unexpected exception inside a handler must not turn into a second, different error."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import update

from bot.services import membership, questions
from handlers.ui.callbacks import AskFeedback
from storage.models import Member
from tests.test_handlers_join import join, make_invite

MEMBER, SECRETARY = 1001, 2001


class Boom(RuntimeError):
    """The fault injected into a service for these tests."""


def _raise(*_args, **_kwargs):
    raise Boom("injected fault")


@pytest.fixture
async def people(harness, app):
    await join(harness, app, MEMBER, "甲成员", await make_invite(app, "甲所"))
    await join(harness, app, SECRETARY, "甲书记", await make_invite(app, "甲所", role="secretary"))


def failure_logs(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.exc_info]


async def test_a_crashing_command_gets_an_apology_and_the_real_cause_is_logged_once(harness, people, monkeypatch,
                                                                                   caplog):
    monkeypatch.setattr(membership, "list_members", _raise)
    with caplog.at_level(logging.ERROR):
        replies = await harness.send(SECRETARY, "/members")
    assert replies == ["抱歉，出了点问题，请稍后再试。"]
    logged = failure_logs(caplog)
    assert [type(record.exc_info[1]) for record in logged] == [Boom]


async def test_a_crashing_button_is_answered_in_the_users_language(harness, app, people, monkeypatch, caplog):
    async with app.sessionmaker() as session:
        await session.execute(update(Member).where(Member.telegram_id == MEMBER).values(locale="en"))
        await session.commit()
    monkeypatch.setattr(questions, "give_feedback", _raise)
    harness.bot.clear()
    with caplog.at_level(logging.ERROR):
        replies = await harness.press(MEMBER, AskFeedback(question_id=1, value=1).pack())
    answers = [call for call in harness.bot.session.calls if type(call).__name__ == "AnswerCallbackQuery"]
    assert len(answers) == 1 and answers[0].text == "Sorry, something went wrong. Please try again."
    assert replies == ["Sorry, something went wrong. Please try again."]
    assert [type(record.exc_info[1]) for record in failure_logs(caplog)] == [Boom]


async def test_a_button_that_crashes_after_answering_still_gets_an_apology_message(harness, people, monkeypatch,
                                                                                caplog):
    """Telegram refuses a second answer to one callback; the apology then arrives as a message."""
    from handlers.ui.callbacks import LanguageChoice
    from handlers.ui.menu import Menu

    monkeypatch.setattr(Menu, "help_text", _raise)  # language_chosen answers the button, then shows the help
    with caplog.at_level(logging.ERROR):
        replies = await harness.press(MEMBER, LanguageChoice(code="zh").pack())
    assert replies[-1] == "抱歉，出了点问题，请稍后再试。"
    assert [type(record.exc_info[1]) for record in failure_logs(caplog)] == [Boom]

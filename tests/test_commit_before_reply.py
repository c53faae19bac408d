"""What a reply announces is already committed when Telegram receives the reply: the user (or the member a
secretary just answered) may act on it at once, from another update and another database session."""
from __future__ import annotations

from sqlalchemy import select

from handlers.ui.callbacks import LanguageChoice
from storage.models import Member
from tests.test_handlers_join import join, make_invite

MEMBER = 1001


async def test_a_change_is_committed_before_the_bot_says_anything_about_it(harness, app):
    await join(harness, app, MEMBER, "甲成员", await make_invite(app, "甲所"))
    seen: list[tuple[str, str]] = []

    async def read_locale_from_another_session(method) -> None:
        async with app.sessionmaker() as other:
            locale = await other.scalar(select(Member.locale).where(Member.telegram_id == MEMBER))
        seen.append((type(method).__name__, locale))

    harness.bot.session.before_call = read_locale_from_another_session
    await harness.press(MEMBER, LanguageChoice(code="en").pack())
    assert seen, "the language button sent nothing"
    assert all(locale == "en" for _name, locale in seen), seen


async def test_a_failed_handler_still_rolls_back_what_it_had_not_announced(harness, app, monkeypatch):
    """Nothing was sent before the fault: the member's language stays as it was."""
    from bot.services import membership

    await join(harness, app, MEMBER, "甲成员", await make_invite(app, "甲所"))
    original = membership.set_locale

    async def set_then_fail(session, member, code):
        await original(session, member, code)
        raise RuntimeError("injected fault after the write")

    monkeypatch.setattr(membership, "set_locale", set_then_fail)
    replies = await harness.press(MEMBER, LanguageChoice(code="en").pack())
    assert replies == ["抱歉，出了点问题，请稍后再试。"]
    async with app.sessionmaker() as other:
        assert await other.scalar(select(Member.locale).where(Member.telegram_id == MEMBER)) != "en"

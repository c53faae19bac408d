"""Fuzzing the real dispatcher (every router and middleware, SQL FSM storage, SQLite) with generated updates.

Whatever arrives — any content type, edited messages, callback queries with random or replayed data, group
and private chats, unknown users, members of another branch, huge and empty texts — the bot must:

* never fail inside a handler (the error handler would log it at ERROR and apologise to the user);
* never show one branch's people or reports to a member, secretary or stranger outside that branch;
* only send what Telegram accepts: text ≤ 4096 characters after HTML parsing, captions ≤ 1024, valid HTML,
  callback data of 1–64 bytes, callback answers ≤ 200 characters.

State accumulates across examples (one database for the whole run), so later examples meet forms left half
filled by earlier ones. Replayed callback data is drawn from every inline keyboard the bot has sent so far,
to anyone: pressing another branch's review button must be refused, not obeyed.
"""
from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime, timezone
from typing import Any

import pytest
from aiogram.types import InlineKeyboardMarkup, Update
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.simulator.html import HTMLParseError, parse_html
from tests.support.mocked_bot import MockedBot

ADMIN = 1
A_MEMBER, A_SECRETARY = 2001, 2002
B_MEMBER, B_SECRETARY = 3001, 3002
B_NAMES = ("欧阳乙丙", "司马乙丁")  # members of branch B: nobody outside B (but admins) may see these
B_REPORT = "乙所机密隐患记录"  # text of B's filed report
B_MARKERS = B_NAMES + (B_REPORT,)
GROUP_ID = -100777

MAX_TEXT, MAX_CAPTION, MAX_CALLBACK_DATA, MAX_ALERT = 4096, 1024, 64, 200


# ---------------------------------------------------------------------------------------------- setup

async def _seed(app) -> None:
    from bot.services import membership, reports
    from bot.services.reports import HazardInput, ReportInput

    async with app.sessionmaker() as session:
        for branch_name, people in (("甲供电所", [(A_MEMBER, "李甲一", "member"), (A_SECRETARY, "张甲二", "secretary")]),
                                    ("乙供电所", [(B_MEMBER, B_NAMES[0], "member"), (B_SECRETARY, B_NAMES[1], "secretary")])):
            branch = await membership.add_branch(session, branch_name)
            for telegram_id, name, role in people:
                invite = await membership.create_invite(session, branch, role, uses=1)
                await membership.join(session, telegram_id, invite.code, name)
        await session.commit()
        member = await membership.member_by_telegram_id(session, B_MEMBER)
        month = reports.month_of(datetime.now(timezone.utc).date())
        data = ReportInput(month=month, summary=B_REPORT,
                           sections={"self": ("按规程作业", None), "others": ("提醒同事", None)},
                           hazards=[HazardInput(description=B_REPORT + "：拉线松动")])
        await reports.submit(session, member, data, form_token="fuzz-seed")
        await session.commit()


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Fuzzed:
    """The bot under test, on its own event loop for the whole module (hypothesis calls the test many times)."""

    def __init__(self, tmp_path) -> None:
        from bot.app import build_dispatcher, create_app
        from bot.config import load_settings

        self.runner = asyncio.Runner()
        settings_ = load_settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}",
                                  admin_ids=[ADMIN], knowledge_dir=tmp_path / "knowledge",
                                  index_dir=tmp_path / "index", media_dir=tmp_path / "media")
        self.app = self.runner.run(create_app(settings_))
        self.runner.run(_seed(self.app))
        self.dp = build_dispatcher(self.app, background=False)
        self.bot = MockedBot()
        self.seen_callback_data: list[str] = ["rv:approve:1", "lang:en"]
        self.message_ids = iter(range(10_000, 10**9))
        self.errors = _ErrorLog()
        logging.getLogger().addHandler(self.errors)

    def close(self) -> None:
        logging.getLogger().removeHandler(self.errors)
        self.runner.run(self.app.close())
        self.runner.close()

    def feed(self, raw: dict[str, Any]) -> list[Any]:
        """Feed one update; return the API calls the bot made while handling it."""
        before = len(self.bot.session.calls)
        update = Update.model_validate(raw, context={"bot": self.bot})
        self.runner.run(self.dp.feed_update(self.bot, update))
        return self.bot.session.calls[before:]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    bot = Fuzzed(tmp_path_factory.mktemp("fuzz"))
    yield bot
    bot.close()


# ------------------------------------------------------------------------------------------ strategies

COMMANDS = ["/start", "/help", "/language", "/cancel", "/ask", "/report", "/review", "/actions", "/members",
            "/member", "/invite", "/branch", "/gaps", "/today", "/acks", "/schedule", "/unknown"]
MENU = ["📝 四不伤害", "📘 今日学习", "❔ 帮助", "🌐 语言", "✅ 确认", "跳过", "返回"]
people = st.sampled_from([ADMIN, A_MEMBER, A_SECRETARY, B_MEMBER, B_SECRETARY]) | st.integers(10_000, 99_999)
args = st.sampled_from(["", " 乙供电所", " 甲供电所 member 5 7", " 3", " 乙供电所 07:20 workdays",
                        " add 新所", " <b>x</b>", " 1 secretary", " 2026-10-01..2026-10-07", " 99999999999999999999"])
texts = st.one_of(
    st.builds(lambda c, a: c + a, st.sampled_from(COMMANDS), args),
    st.sampled_from(MENU),
    st.text(max_size=60),
    st.sampled_from(["", " ", "\n", "<b>未闭合", "&amp;&lt;", "登杆前要检查哪些地方"]),
    st.builds(lambda n, ch: ch * n, st.integers(4000, 12_000), st.sampled_from(["隐", "a", "<", "😀"])),
)
PHOTO = [{"file_id": "P1", "file_unique_id": "u1", "width": 90, "height": 90},
         {"file_id": "P2", "file_unique_id": "u2", "width": 800, "height": 600}]
other_content = st.sampled_from([
    {"photo": PHOTO}, {"photo": PHOTO, "caption": "隐患照片"},
    {"document": {"file_id": "D1", "file_unique_id": "d1", "file_name": "规程.docx"}},
    {"sticker": {"file_id": "S1", "file_unique_id": "s1", "type": "regular", "width": 1, "height": 1,
                 "is_animated": False, "is_video": False}},
    {"location": {"latitude": 30.25, "longitude": 120.17}},
    {"contact": {"phone_number": "+8613800000000", "first_name": "某"}},
    {"voice": {"file_id": "V1", "file_unique_id": "v1", "duration": 2}},
    {"video_note": {"file_id": "N1", "file_unique_id": "n1", "length": 1, "duration": 1}},
    {"new_chat_members": [{"id": 4242, "is_bot": False, "first_name": "新人"}]},
])
content = st.builds(lambda t: {"text": t}, texts) | other_content
callback_data = st.one_of(
    st.builds(lambda i: ("replay", i), st.integers(0, 10_000)),  # an index into what the bot has sent so far
    st.text(min_size=1, max_size=80),
    st.builds(lambda p, s: p + s, st.sampled_from(["rf:", "rv:", "ac:", "mem:", "dly:", "ask:", "full:", "fb:",
                                                   "join:", "lang:"]),
              st.text(alphabet="0123456789:abcdefghijklmnopqrstuvwxyz-", max_size=30)),
)
events = st.one_of(
    st.tuples(st.just("message"), people, st.booleans(), content),
    st.tuples(st.just("edited_message"), people, st.booleans(), content),
    st.tuples(st.just("callback_query"), people, st.booleans(), callback_data),
)


def _user(user_id: int) -> dict:
    return {"id": user_id, "is_bot": False, "first_name": f"u{user_id}", "language_code": "zh-hans"}


def _raw_update(fuzzed: Fuzzed, update_id: int, event: tuple) -> dict[str, Any]:
    kind, user_id, in_group, payload = event
    chat = ({"id": GROUP_ID, "type": "supergroup", "title": "班组群"} if in_group
            else {"id": user_id, "type": "private", "first_name": f"u{user_id}"})
    now = int(datetime.now(timezone.utc).timestamp())
    message = {"message_id": next(fuzzed.message_ids), "date": now, "chat": chat, "from": _user(user_id)}
    if kind == "callback_query":
        data = payload
        if isinstance(payload, tuple):
            pool = fuzzed.seen_callback_data
            data = pool[payload[1] % len(pool)]
        bot_message = {**message, "from": {"id": 42, "is_bot": True, "first_name": "bot"}, "text": "…"}
        return {"update_id": update_id, "callback_query": {
            "id": str(update_id), "from": _user(user_id), "chat_instance": "fuzz", "data": data,
            "message": bot_message}}
    message.update(payload)
    if kind == "edited_message":
        message["edit_date"] = now
    return {"update_id": update_id, kind: message}


# ---------------------------------------------------------------------------------------------- checks

def _texts_of(call: Any) -> list[tuple[str, str | None, int]]:
    """(text, parse mode, limit) of what a call shows the user."""
    out = []
    parse_mode = getattr(call, "parse_mode", "HTML")
    parse_mode = parse_mode if isinstance(parse_mode, str) or parse_mode is None else "HTML"  # the bot's default
    if isinstance(getattr(call, "text", None), str):
        limit = MAX_ALERT if type(call).__name__ == "AnswerCallbackQuery" else MAX_TEXT
        out.append((call.text, None if limit == MAX_ALERT else parse_mode, limit))
    if isinstance(getattr(call, "caption", None), str):
        out.append((call.caption, parse_mode, MAX_CAPTION))
    for item in getattr(call, "media", None) or []:
        if isinstance(getattr(item, "caption", None), str):
            out.append((item.caption, "HTML", MAX_CAPTION))
    return out


def _buttons(call: Any) -> list[Any]:
    markup = getattr(call, "reply_markup", None)
    return [button for row in markup.inline_keyboard for button in row] if isinstance(markup, InlineKeyboardMarkup) else []


def _shown(call: Any) -> str:
    """Everything a call puts on the user's screen: texts, captions, alerts and inline button labels."""
    return "\n".join([text for text, _, _ in _texts_of(call)] + [button.text for button in _buttons(call)])


def check_call(fuzzed: Fuzzed, call: Any, actor: int) -> None:
    name = type(call).__name__
    for text, parse_mode, limit in _texts_of(call):
        plain = text
        if parse_mode and parse_mode.upper() == "HTML":
            try:
                plain = parse_html(text).text
            except HTMLParseError as exc:
                pytest.fail(f"{name} sent HTML Telegram would reject ({exc}): {text[:300]!r}")
        assert len(plain) <= limit, f"{name} sent {len(plain)} characters (limit {limit}): {plain[:200]!r}…"
        if name in ("SendMessage", "EditMessageText"):
            assert plain.strip(), f"{name} sent an empty text"
    if actor not in (ADMIN, B_MEMBER, B_SECRETARY):
        shown = _shown(call)
        leaked = [marker for marker in B_MARKERS if marker in shown]
        assert not leaked, f"user {actor} outside branch 乙 was shown {leaked} by {name}: {shown[:300]!r}"
    for button in _buttons(call):
        assert button.text, f"{name}: an inline button without text"
        if button.callback_data is not None:
            size = len(button.callback_data.encode())
            assert 1 <= size <= MAX_CALLBACK_DATA, f"{name}: callback data of {size} bytes: {button.callback_data!r}"
            if button.callback_data not in fuzzed.seen_callback_data:
                fuzzed.seen_callback_data.append(button.callback_data)


_update_ids = iter(range(1, 10**9))


@settings(max_examples=int(os.environ.get("FIELDMATE_FUZZ_EXAMPLES", "150")), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events, min_size=1, max_size=8))
def test_any_update_gets_a_safe_reply_within_telegram_limits(fuzzed, batch):
    for event in batch:
        raw = _raw_update(fuzzed, next(_update_ids), event)
        errors_before = len(fuzzed.errors.records)
        calls = fuzzed.feed(raw)
        failures = fuzzed.errors.records[errors_before:]
        assert not failures, f"handling {raw} logged: " + "; ".join(
            f"{r.getMessage()} ({r.exc_info[1]!r})" if r.exc_info else r.getMessage() for r in failures)
        for call in calls:
            check_call(fuzzed, call, actor=event[1])


def test_the_leak_check_can_fail_branch_data_is_shown_to_those_allowed(fuzzed):
    """The markers are real: an admin and B's secretary do see them (so their absence elsewhere means something)."""
    admin_view = fuzzed.feed(_raw_update(fuzzed, next(_update_ids), ("message", ADMIN, False, {"text": "/members 乙供电所"})))
    listing = fuzzed.feed(_raw_update(fuzzed, next(_update_ids), ("message", B_SECRETARY, False, {"text": "/review"})))
    open_first = next(b.callback_data for call in listing for b in _buttons(call) if B_NAMES[0] in b.text)
    report = fuzzed.feed(_raw_update(fuzzed, next(_update_ids), ("callback_query", B_SECRETARY, False, open_first)))
    assert B_NAMES[0] in "".join(_shown(call) for call in admin_view)
    assert B_REPORT in "".join(_shown(call) for call in report)

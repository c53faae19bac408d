"""Asking questions in chat: answers with citations, refusals, buttons, group addressing, the question log.

The engine here is a small stand-in with fixed clauses, so these tests specify the chat behaviour;
retrieval quality is specified in tests/knowledge/."""
from __future__ import annotations

import asyncio
from datetime import datetime

from aiogram.types import Chat, Message, User
from sqlalchemy import select

from bot.knowledge_engine.types import Answer, Source
from storage.models import Question
from tests.test_handlers_join import join, make_invite

CLAUSES = [
    Source(f"c{i}", "登高与杆塔作业安全", "一、登杆前检查", f"（一）{i}", f"登杆前应检查杆根、杆身和拉线，第{i}条。攀登时系好安全带。", 0.9 - i / 100, "a.md")
    for i in range(1, 8)
]


class StubEngine:
    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    async def aask(self, question: str, offset: int = 0, limit: int = 3) -> Answer:
        self.asked.append((question, offset))
        if "天气" in question or "股票" in question:
            return Answer(question, "", True, [], 0.1, 5.0, "refused", "off-topic", "offtopic")
        if question.isascii():
            return Answer(question, "", True, [], 0.1, 5.0, "refused", "not chinese", "offtopic")
        if "绝缘手套" in question:  # on the folder's subject, but no clause answers it
            return Answer(question, "", True, CLAUSES[offset:offset + limit], 0.3, 5.0, "refused", "weak", "related")
        return Answer(question, "", False, CLAUSES[offset:offset + limit], 0.9, 5.0)

    def get_chunk(self, chunk_id: str) -> Source | None:
        return next((c for c in CLAUSES if c.chunk_id == chunk_id), None)


async def member(harness, app, user_id=1001, name="李海波"):
    app.knowledge = app.knowledge or StubEngine()
    await join(harness, app, user_id, name, await make_invite(app))


async def test_an_answer_leads_with_the_answering_sentence_then_its_clause_with_one_citation_line(harness, app):
    await member(harness, app)
    replies = await harness.send(1001, "爬杆之前要查哪些地方")
    assert replies[0].startswith("📌 <b>登杆前应检查杆根、杆身和拉线")  # the clause's own words, first
    assert "<b>1. 《登高与杆塔作业安全》（一）1 登杆前检查</b>" in replies[0]  # title, clause, heading: once each
    assert "（一）2" not in replies[0]  # the other clauses wait behind 「更多」
    async with app.sessionmaker() as session:
        row = await session.scalar(select(Question))
    assert row.text == "爬杆之前要查哪些地方" and row.refused is False and row.source_ids == ["c1"]


async def test_more_shows_the_next_clauses_and_full_text_only_for_a_clause_cut_short(harness, app):
    await member(harness, app)
    await harness.send(1001, "爬杆之前要查哪些地方")
    assert not any("原文" in b.text for row in harness.last_keyboard().inline_keyboard for b in row)
    more = await harness.press(1001, harness.button_data("更多"))
    assert "2. " in more[0] and "（一）2" in more[0] and "（一）4" in more[0]
    CLAUSES[3].text = "登杆前应检查杆根。" * 100  # a long clause is shown cut, and 「原文」 shows it all
    try:
        await harness.press(1001, harness.button_data("更多"))  # 5–7
        await harness.send(1001, "爬杆之前要查哪些地方")
        more = await harness.press(1001, harness.button_data("更多"))
        assert "……" in more[0]
        full = await harness.press(1001, harness.button_data("原文4"))
        assert full[0].count("登杆前应检查杆根。") == 100
    finally:
        CLAUSES[3].text = "登杆前应检查杆根、杆身和拉线，第4条。攀登时系好安全带。"


async def test_off_topic_question_gets_a_short_reply_without_the_safety_wording_and_is_logged(harness, app):
    await member(harness, app)
    replies = await harness.send(1001, "明天天气怎么样")
    assert "不在我的回答范围内" in replies[0] and "安全员" not in replies[0] and "《" not in replies[0]
    gap_list = await harness.send(1, "/gaps")
    assert "明天天气怎么样" in gap_list[-1]


async def test_a_question_without_a_direct_rule_shows_related_clauses_marked_as_not_an_answer(harness, app):
    await member(harness, app)
    replies = await harness.send(1001, "绝缘手套多久送检")
    assert replies[0].startswith("<b>没有找到直接规定，以下条款可能相关") and "不是答案" in replies[0]
    assert "安全员" in replies[0] and "《登高与杆塔作业安全》" in replies[0]
    async with app.sessionmaker() as session:
        assert (await session.scalar(select(Question))).refused is True


async def test_an_english_question_is_told_the_knowledge_base_is_chinese(harness, app):
    await member(harness, app)
    replies = await harness.send(1001, "What must be checked before climbing a pole?")
    assert "知识库是中文的" in replies[0] and "请用中文提问" in replies[0]


async def test_feedback_belongs_to_the_asker(harness, app):
    await member(harness, app)
    await member(harness, app, 1002, "王强")
    await harness.send(1001, "爬杆之前要查哪些地方")
    thumbs_down = harness.button_data("👎")
    assert "没有权限" in (await harness.press(1002, thumbs_down))[0]
    assert "感谢" in (await harness.press(1001, thumbs_down))[0]
    async with app.sessionmaker() as session:
        assert (await session.scalar(select(Question))).feedback == -1


async def test_in_groups_only_mentions_replies_and_ask_are_answered(harness, app):
    await member(harness, app)
    engine = app.knowledge
    assert await harness.send(1001, "大家早上好", chat_id=-100, chat_type="group") == []
    assert await harness.send(1001, "@fieldmate_bot 登杆前查什么", chat_id=-100, chat_type="group")
    assert engine.asked[-1][0] == "登杆前查什么"
    assert await harness.send(1001, "/ask 接地线怎么装", chat_id=-100, chat_type="group")
    bot_message = Message(message_id=1, date=datetime.now(), chat=Chat(id=-100, type="group"),
                          from_user=User(id=42, is_bot=True, first_name="bot"), text="…")
    assert await harness.send(1001, "那验电呢", chat_id=-100, chat_type="group", reply_to_message=bot_message)
    assert [q for q, _ in engine.asked] == ["登杆前查什么", "接地线怎么装", "那验电呢"]


async def test_empty_ask_and_missing_engine_get_clear_messages(harness, app):
    await member(harness, app)
    assert "/ask 后面" in (await harness.send(1001, "/ask"))[0]
    app.knowledge = None
    assert "知识库还在准备" in (await harness.send(1001, "接地线怎么装"))[0]


async def test_unknown_user_questions_reach_no_engine(harness, app):
    app.knowledge = engine = StubEngine()
    replies = await harness.send(7777, "爬杆之前要查哪些地方")
    assert "邀请链接" in replies[0] and engine.asked == []


async def test_gaps_merge_repeats_of_one_question_with_a_count(harness, app):
    await member(harness, app)
    for text in ("明天天气怎么样", "明天天气怎么样？", "股票涨了吗"):
        await harness.send(1001, text)
    gap_list = (await harness.send(1, "/gaps"))[-1]
    assert gap_list.count("明天天气怎么样") == 1 and "×2" in gap_list and "股票涨了吗" in gap_list


async def test_more_on_someone_elses_answer_is_refused_and_changes_nothing(harness, app):
    await member(harness, app)
    await member(harness, app, 1002, "王强")
    await harness.send(1001, "爬杆之前要查哪些地方")
    async with app.sessionmaker() as session:
        before = await session.scalar(select(Question))
    more = harness.button_data("更多")
    refused = await harness.press(1002, more)
    assert len(refused) == 1 and "提问人" in refused[0]
    async with app.sessionmaker() as session:
        row = await session.scalar(select(Question))
    assert row.source_ids == before.source_ids and row.shown == before.shown


async def test_more_with_an_offset_past_what_was_shown_is_refused(harness, app):
    from handlers.ui.callbacks import AskMore

    await member(harness, app)
    await harness.send(1001, "爬杆之前要查哪些地方")
    async with app.sessionmaker() as session:
        row = await session.scalar(select(Question))
    replies = await harness.press(1001, AskMore(question_id=row.id, offset=len(row.source_ids) + 2).pack())
    assert len(replies) == 1 and "失效" in replies[0]
    assert "失效" in (await harness.press(1001, f"ask:{row.id}:-4"))[0]
    async with app.sessionmaker() as session:
        assert (await session.scalar(select(Question))).source_ids == row.source_ids


class BusyEngine(StubEngine):
    """An engine whose workers are all busy: every question waits until `free` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.free = asyncio.Event()
        self.waiting = 0

    async def aask(self, question: str, offset: int = 0, limit: int = 3) -> Answer:
        self.waiting += 1
        await self.free.wait()
        return await super().aask(question, offset, limit)

    async def queued(self, count: int) -> None:
        while self.waiting < count:
            await asyncio.sleep(0)


async def test_a_question_waiting_for_the_engine_holds_no_update_slot(app):
    """With one update worked on at a time, questions queued for a busy engine do not stop /help, joins or
    anything else: they step aside while they wait, and are answered when the engine frees up."""
    from bot.app import build_dispatcher
    from tests.support.harness import Harness
    from tests.support.mocked_bot import MockedBot

    app.settings = app.settings.model_copy(update={"max_updates_in_flight": 1})
    app.knowledge = engine = BusyEngine()
    harness = Harness(build_dispatcher(app, background=False), MockedBot())
    invite = await make_invite(app)
    await join(harness, app, 1001, "李海波", invite)
    await join(harness, app, 1002, "王小明", invite)
    await join(harness, app, 1003, "张三", invite)

    asking = [asyncio.create_task(harness.send(1001, "爬杆之前要查哪些地方")),
              asyncio.create_task(harness.send(1002, "验电器怎么用"))]
    try:
        await asyncio.wait_for(engine.queued(2), timeout=10)  # both questions wait in the engine's queue
        help_reply = await asyncio.wait_for(harness.send(1003, "/help"), timeout=10)  # a bound, not a timing:
        assert "我能为您做什么" in help_reply[0]                                     # without it, it would hang
        assert not any(task.done() for task in asking)
    finally:
        engine.free.set()
        await asyncio.gather(*asking)
    for chat in (1001, 1002):  # replies by chat: the harness's per-send lists mix replies sent concurrently
        sent = [call.text for call in harness.bot.session.calls if getattr(call, "chat_id", None) == chat
                and getattr(call, "text", None)]
        assert sent[-1].startswith("📌"), sent[-1]
    async with app.sessionmaker() as session:
        assert len((await session.scalars(select(Question))).all()) == 2  # both stored after the wait

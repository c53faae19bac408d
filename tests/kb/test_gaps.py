"""Closing the gaps: /gaps groups refused and 👎 questions by similarity; an admin answers a group (the answer
becomes a FAQ section in the knowledge folder, synced, so the same question is answered from it with
「管理员答复」) or marks it 「不在范围」 (it leaves the list). Non-admins' presses change nothing."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services import kb, questions
from bot.services.membership import Actor
from storage.models import AuditEntry, Question
from tests.test_handlers_ask import member

QUESTION = "绝缘手套多久做一次电气试验"
ANSWER = "绝缘手套每半年做一次交流耐压试验，试验合格后贴合格证方可使用。"


def admin_actor() -> Actor:
    return Actor(telegram_id=1, member=None, is_admin=True)


async def log(app, text: str, *, refused: bool = True, feedback: int | None = None, days_ago: float = 1,
              source_ids: list[str] | None = None) -> int:
    async with app.sessionmaker() as session, session.begin():
        row = Question(member_id=None, chat_id=1001, text=text, refused=refused, top_score=0.1, latency_ms=5.0,
                       source_ids=source_ids or [], shown=0, feedback=feedback,
                       asked_at=app.clock.utc_naive() - timedelta(days=days_ago))
        session.add(row)
    return row.id


def test_similarity_is_bigram_jaccard_on_the_matching_form():
    same = questions.similarity(questions.bigrams("室外接地故障点要离多少米？"), questions.bigrams("室外 接地故障點離多少米"))
    other = questions.similarity(questions.bigrams("室外接地故障点要离多少米"), questions.bigrams("绝缘手套多久试验一次"))
    assert same >= questions.SIMILAR > other
    assert questions.bigrams("ＡＢ") == {"ab"}  # width-folded and lower-cased


def test_question_words_do_not_make_two_different_questions_one_gap():
    """「由谁担任」 is how one asks, not what: two roles asked the same way stay apart, a retyping joins."""
    asked = ["工作票签发人由谁担任", "工作许可人由谁担任", "工作票签发人应该由谁来担任"]
    groups = questions.group_similar(asked, lambda text: text)
    assert groups == [["工作票签发人由谁担任", "工作票签发人应该由谁来担任"], ["工作许可人由谁担任"]]


async def test_gaps_group_rewordings_count_them_and_skip_old_answered_and_closed_ones(app):
    first = await log(app, "室外接地故障点要离多少米", source_ids=["c9"])
    await log(app, "室外接地时离故障点多少米？")
    await log(app, "绝缘手套多久试验一次", refused=False, feedback=-1)
    await log(app, "登杆前要检查什么", refused=False)  # answered and not disliked: no gap
    await log(app, "明天天气怎么样", days_ago=31)  # older than 30 days
    closed = await log(app, "股票涨了吗")
    async with app.sessionmaker() as session, session.begin():
        (await session.get(Question, closed)).gap_closed = "out_of_scope"
    async with app.sessionmaker() as session:
        found = await questions.gaps(session, admin_actor(), now=app.clock.utc_naive())
    assert [(gap.count, gap.source_id) for gap in found] == [(2, "c9"), (1, "")]
    assert first in [row.id for row in found[0].rows] and found[1].text == "绝缘手套多久试验一次"


async def test_a_group_marked_out_of_scope_leaves_the_list_and_is_audited(harness, app):
    await member(harness, app)
    for text in ("明天天气怎么样", "明天天气怎么样？", "股票涨了吗"):
        await harness.send(1001, text)
    listing = (await harness.send(1, "/gaps"))[-1]
    assert "1. " in listing and "×2" in listing and "最接近的条款" in listing
    replies = await harness.press(1, harness.button_data("不在范围 1"))
    assert "不在范围" in replies[-1] and "明天天气怎么样" in replies[-1]
    listing = (await harness.send(1, "/gaps"))[-1]
    assert "明天天气" not in listing and "股票涨了吗" in listing
    async with app.sessionmaker() as session:
        closed = (await session.scalars(select(Question.gap_closed).order_by(Question.id))).all()
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert closed == ["out_of_scope", "out_of_scope", None] and "gap.out_of_scope" in actions


async def test_a_non_admin_pressing_the_gap_buttons_changes_nothing(harness, app):
    await member(harness, app)
    await harness.send(1001, "明天天气怎么样")
    await harness.send(1, "/gaps")
    for label in ("不在范围 1", "答复 1"):
        replies = await harness.press(1001, harness.button_data(label))
        assert replies and "不在范围：" not in replies[-1] and "请输入" not in replies[-1]
    await harness.send(1001, "绝缘手套多久送检")  # no answer form was opened: this is a question to the engine
    assert app.knowledge.asked[-1][0] == "绝缘手套多久送检"
    async with app.sessionmaker() as session:
        assert (await session.scalars(select(Question.gap_closed))).all() == [None, None]
        assert not (await session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("gap.%")))).all()
    assert not (app.settings.knowledge_dir / kb.FAQ_FILE).exists()


async def test_a_gap_answered_is_then_the_answer_to_that_question(harness, app, kdir, make_engine, answer_everything):
    engine = make_engine(kdir)
    engine.sync()
    app.knowledge = engine
    await member(harness, app)
    await log(app, "绝缘手套多久做一次试验？", days_ago=2)
    await log(app, QUESTION)  # the latest wording names the group
    listing = (await harness.send(1, "/gaps"))[-1]
    assert QUESTION in listing and "×2" in listing
    prompt = await harness.press(1, harness.button_data("答复 1"))
    assert "请输入" in prompt[-1] and str(kb.MAX_FAQ_ANSWER) in prompt[-1]
    too_long = await harness.send(1, "长" * (kb.MAX_FAQ_ANSWER + 1))
    assert "请缩短" in too_long[-1] and not (kdir / kb.FAQ_FILE).exists()
    done = await harness.send(1, ANSWER)  # still in the form after the too-long try
    assert "已保存" in done[-1] and "已索引" in done[-1]
    faq = (kdir / kb.FAQ_FILE).read_text("utf-8")
    today = app.local_now().date().isoformat()
    assert f"## {QUESTION}" in faq and ANSWER in faq and f"管理员答复：用户，{today}" in faq

    answer = (await harness.send(1001, QUESTION))[0]
    assert "交流耐压试验" in answer and "管理员答复" in answer and "常见问题解答" in answer
    assert QUESTION not in (await harness.send(1, "/gaps"))[-1]  # the answered group left the list
    async with app.sessionmaker() as session:
        closed = (await session.scalars(select(Question.gap_closed).order_by(Question.id))).all()
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert closed[:2] == ["answered", "answered"] and "gap.answered" in actions


async def test_commands_pass_through_while_an_answer_is_awaited_and_cancel_ends_it(harness, app):
    await member(harness, app)
    await harness.send(1001, "明天天气怎么样")
    await harness.send(1, "/gaps")
    assert "请输入" in (await harness.press(1, harness.button_data("答复 1")))[-1]
    assert "明天天气怎么样" in (await harness.send(1, "/gaps"))[-1]  # a command is a command, not the answer
    await harness.send(1, "/cancel")
    await harness.send(1, "绝缘手套多久送检")  # after /cancel, text is a question again
    assert app.knowledge.asked[-1][0] == "绝缘手套多久送检"
    async with app.sessionmaker() as session:
        assert (await session.scalars(select(Question.gap_closed))).all() == [None, None]

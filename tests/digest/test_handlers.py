"""/digest, /export and /me in chat: who may see what, in private chats only, with the numbers of the world."""
from __future__ import annotations

import io

from openpyxl import load_workbook

from tests.digest.world import NOW, make_world


def _calls(harness, name: str):
    return [c for c in harness.bot.session.calls if type(c).__name__ == name]


async def test_secretary_gets_the_digest_with_its_chart_and_the_month_as_excel(harness, app, session):
    world = await make_world(session)
    app.clock.set(NOW)
    replies = await harness.send(world.chen.telegram_id, "/digest 上周")
    assert "周报 · 余山供电所" in replies[0] and "已学习：9/20（45%）" in replies[0]
    (photo,) = _calls(harness, "SendPhoto")
    assert photo.caption.startswith("📈") and photo.photo.data.startswith(b"\x89PNG")

    await harness.send(world.chen.telegram_id, "/export 2026-11")
    (document,) = _calls(harness, "SendDocument")
    assert document.document.filename == "余山供电所_2026-11.xlsx"
    assert load_workbook(io.BytesIO(document.document.data)).sheetnames[0] == "汇总"


async def test_members_see_their_points_but_no_digest(harness, app, session):
    world = await make_world(session)
    app.clock.set(NOW)
    assert await harness.send(world.li.telegram_id, "/digest") == ["抱歉，您没有权限进行此操作。"]
    (me,) = await harness.send(world.li.telegram_id, "/me")
    # November: 6 daily acks + 5 on time + 2 hazards × 2 = 15; first of 4; 10 workdays in a row
    assert "本月：15 分（支部排名 1/4）" in me and "连续学习：10 个工作日" in me and "按时报告: +5" in me


async def test_digests_stay_out_of_groups_and_other_branches(harness, app, session):
    world = await make_world(session)
    app.clock.set(NOW)
    group = await harness.send(world.chen.telegram_id, "/digest", chat_id=-100, chat_type="group")
    assert group == ["请私聊我：这类信息只在私聊中显示。"]
    assert await harness.send(world.zhou.telegram_id, "/digest 余山供电所 上周") == ["抱歉，您没有权限进行此操作。"]
    (bad,) = await harness.send(world.chen.telegram_id, "/digest 2026-13")
    assert "不是有效的时段" in bad


async def test_admin_gets_all_branches_worst_first_and_sets_digest_times(harness, app, session):
    await make_world(session)
    app.clock.set(NOW)
    (everyone,) = await harness.send(1, "/digest 上周")
    assert "全部支部" in everyone and everyone.index("余山供电所") < everyone.index("城关供电所")
    (plan,) = await harness.send(1, "/digest schedule 余山供电所 周报 周五 17:00")
    assert plan == "<b>余山供电所</b> 简报时间：周报：周五 17:00；月报：每月 1 日 09:00"
    (off,) = await harness.send(1, "/digest schedule 余山供电所 月报 关闭")
    assert "月报：关闭" in off
    (bad,) = await harness.send(1, "/digest schedule 余山供电所 周报 周八")
    assert "不是有效的日子" in bad

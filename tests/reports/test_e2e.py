"""End to end over real long polling against the fake Telegram server, with the real delivery sender:
a report with two hazards and three photos, a bot restart in the middle of the form, a double confirm,
return with a comment, edit and resubmit, approval, and the history that results."""
from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import select

from aiogram.fsm.storage.memory import SimpleEventIsolation

from bot.app import build_bot, build_dispatcher
from bot.delivery import start_delivery
from bot.simulator.driver import SimDriver
from bot.simulator.fake_api import FakeTelegramServer, SimUser
from bot.simulator.harness import polling
from storage.models import Report, ReportPhoto, ReportStatusChange
from tests.reports.helpers import LI, SEC_A, SEC_B, WANG

JPEG = b"\xff\xd8\xff\xe0" + b"fieldmate-photo" * 20 + b"\xff\xd9"
li = SimUser(id=LI, first_name="海波", last_name="李")
secretary = SimUser(id=SEC_A, first_name="书记", last_name="陈")


@contextlib.asynccontextmanager
async def running_bot(app, server):
    """One bot process: a fresh Dispatcher and Bot on the same database, plus the delivery sender."""
    bot = build_bot(app.settings, server.base_url)
    dp = build_dispatcher(app, background=False)
    # Updates of one chat must be handled one after another *including the commit*, or a quick second
    # message (or a photo album) reads the form before the first answer is committed. The FSM middleware's
    # event isolation does that (it wraps the session middleware); build_dispatcher passes None today —
    # reported to the lead, see test_album_photos_are_all_kept in test_form.py.
    dp.fsm.events_isolation = SimpleEventIsolation()
    async with polling(server, dp, bot):
        sender = start_delivery(app, bot)
        try:
            yield
        finally:
            await sender.stop()
            app.extras.pop("delivery", None)


async def start_form_and_first_hazard(driver):
    await driver.send(li, "/report")
    await driver.send(li, "本月巡视线路8次，完成2次停电检修")
    await driver.send(li, "登杆前检查安全带和脚扣")
    await driver.send(li, "11月3日发现安全带磨损，当场更换")
    await driver.send(li, "吊装作业时设置围栏并清场")
    await driver.press(li, "没有例子")
    await driver.press(li, "跳过此项")
    await driver.press(li, "跳过此项")
    await driver.press(li, "添加隐患")
    await driver.send(li, "10kV余山线3号杆拉线松动")
    await driver.location(li, 30.25, 120.17)
    await driver.photo(li, JPEG)
    await driver.photo(li, JPEG + b"2")
    await driver.press(li, "完成")
    return await driver.press(li, "较大")


async def finish_form(driver):
    await driver.press(li, "添加隐患")
    await driver.send(li, "台区配电箱门锁损坏")
    await driver.send(li, "余山村委会旁")
    await driver.photo(li, JPEG + b"3")
    await driver.press(li, "完成")
    await driver.press(li, "一般")
    await driver.press(li, "下一步")
    await driver.press(li, "没有违章")
    return await driver.send(li, "建议配发轻便验电器")


async def test_report_restart_return_resubmit_approve(app, world, tmp_path):
    async with FakeTelegramServer() as server:
        driver = SimDriver(server, quiet=0.05, timeout=15)
        for user in (li, secretary, WANG, SEC_B):
            driver.user(user)  # the people exist on "Telegram" before the bot writes to them
        async with running_bot(app, server):
            listing = await start_form_and_first_hazard(driver)
            assert "拉线松动" in listing[-1].text and "照片2张" in listing[-1].text

        async with running_bot(app, server):  # restarted: the half-filled form is still there
            summary = await finish_form(driver)
            assert "第6/6步" in summary[-1].text and "配电箱门锁" in summary[-1].text and "照片2张" in summary[-1].text
            confirm_msg, confirm = driver.find_button(LI, "确认提交")
            first = server.push_callback(li, confirm_msg.message_id, confirm.data)  # a double tap
            second = server.push_callback(li, confirm_msg.message_id, confirm.data)
            await driver.settle(second)
            await driver.settle(first)
            await driver.wait_for(LI, "提交成功")

            async with app.sessionmaker() as session:
                reports = (await session.scalars(select(Report))).all()
                assert len(reports) == 1
                report = reports[0]
                assert [len(h.photos) for h in report.hazards] == [2, 1]
                paths = (await session.scalars(select(ReportPhoto.local_path))).all()
            assert len(paths) == 3 and all((app.settings.media_dir / p).read_bytes().startswith(b"\xff\xd8") for p in paths)

            await driver.wait_for(SEC_A, "李海波提交了")  # the secretary's notice, through the sender
            await driver.send(secretary, "/review")
            shown = await driver.press(secretary, "李海波")
            assert any("填报人：李海波" in m.text for m in shown)
            assert sum(len(m.photo and [1] or []) for m in shown if m.kind == "photo") == 3

            own_message = (await driver.send(WANG, "/help"))[-1]
            forged = await driver.press_data(WANG, own_message.message_id, f"rv:open:{report.id}:0:0")
            assert not any("李海波" in m.text for m in forged)
            assert "无权查看" in driver.callback_answer()["text"]
            assert "没有待审核" in (await driver.send(SEC_B, "/review"))[-1].text

            await driver.press(secretary, "退回")
            await driver.send(secretary, "请补充第二处隐患的整改建议")
            await driver.wait_for(LI, "被退回")
            revise = await driver.press(li, "修改并重新提交")
            assert "第6/6步" in revise[-1].text
            await driver.press(li, "✏️ 工作小结")
            await driver.send(li, "本月巡视8次；配电箱门锁已报修")
            await driver.press(li, "确认提交")
            await driver.wait_for(SEC_A, "第2版")
            await driver.press(secretary, "查看")
            await driver.press(secretary, "通过")
            await driver.wait_for(LI, "审核通过")

        async with app.sessionmaker() as session:
            final = (await session.scalars(select(Report))).all()
            history = (await session.scalars(select(ReportStatusChange).order_by(ReportStatusChange.id))).all()
        assert len(final) == 1 and final[0].id == report.id and final[0].version == 2
        assert final[0].status == "approved" and final[0].summary == "本月巡视8次；配电箱门锁已报修"
        assert [(h.actor_label, h.from_status, h.to_status, h.version, h.comment) for h in history] == [
            ("李海波", None, "submitted", 1, None),
            ("陈书记", "submitted", "returned", 1, "请补充第二处隐患的整改建议"),
            ("李海波", "returned", "submitted", 2, None),
            ("陈书记", "submitted", "approved", 2, None),
        ]

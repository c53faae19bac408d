"""End to end over long polling against the fake Telegram server, with the real delivery sender and a real
(small) knowledge engine: an admin uploads a regulation, a member is answered from it, the file is edited on
disk and the folder scan syncs it (the admin gets the change summary), the answer follows the edit, the
document is removed (its answer is gone) and restored. A member's upload is refused and nothing is written.
A member's 👎 becomes a /gaps entry that the admin answers in chat; the same question then gets that answer."""
from __future__ import annotations

from sqlalchemy import select

from bot.simulator.driver import SimDriver
from bot.simulator.fake_api import FakeTelegramServer, SimUser
from schedulers.kb import scan_folder
from storage.models import AuditEntry
from tests.kb.files import EXE, REGULATION_MD
from tests.reports.helpers import ADMIN, LI
from tests.reports.test_e2e import running_bot, step
from tests.support.waiting import wait_until

admin = SimUser(id=ADMIN, first_name="管理员", last_name="周")
li = SimUser(id=LI, first_name="海波", last_name="李")
QUESTION = "高压设备接地时室外不得接近故障点多少米"
NAME = "变电站巡视规定.md"


async def test_upload_answer_edit_on_disk_remove_restore(app, world, kdir, make_engine, answer_everything):
    engine = make_engine(kdir)
    engine.sync()
    app.knowledge = engine
    files_before = sorted(p.name for p in kdir.rglob("*"))
    async with FakeTelegramServer() as server:
        driver = SimDriver(server, quiet=0.05, timeout=20)
        for user in (admin, li):
            driver.user(user)
        async with running_bot(app, server):
            await step(driver, LI, driver.document(li, REGULATION_MD.encode(), file_name=NAME), "只有管理员")
            await step(driver, ADMIN, driver.document(admin, EXE, file_name="规程.pdf"), "不是")
            assert sorted(p.name for p in kdir.rglob("*")) == files_before  # nothing written by either

            reply = await step(driver, ADMIN, driver.document(admin, REGULATION_MD.encode(), file_name="../../" + NAME),
                               "新增 4 段")
            assert "《变电站巡视规定》" in reply.text and "第一条" in reply.text and "第三条" in reply.text
            assert (kdir / NAME).is_file()
            answer = await step(driver, LI, driver.send(li, QUESTION), "故障点")
            assert "8米" in answer.text

            (kdir / NAME).write_text(REGULATION_MD.replace("8米", "10米"), "utf-8")  # an edit on disk
            assert await scan_folder(app) is None  # the first scan sees it; the second (settled) syncs it
            report = await scan_folder(app)
            assert report.changed == [NAME]
            summary = await driver.wait_for(ADMIN, "同步")
            assert "修改" in summary.text and NAME in summary.text
            answer = await step(driver, LI, driver.send(li, QUESTION), "故障点")
            assert "10米" in answer.text and "8米" not in answer.text

            await step(driver, ADMIN, driver.send(admin, f"/kb remove {NAME}"), "回收站")
            await step(driver, ADMIN, driver.press(admin, "移除"), "已移到回收站")
            answer = await step(driver, LI, driver.send(li, QUESTION), "")
            assert "故障点" not in answer.text
            listing = await step(driver, ADMIN, driver.send(admin, "/kb"), "知识库")
            assert NAME not in listing.text.split("回收站")[0] and "回收站：1" in listing.text

            await step(driver, ADMIN, driver.send(admin, "/kb restore"), "恢复")
            await step(driver, ADMIN, driver.press(admin, NAME), "新增 4 段")
            answer = await step(driver, LI, driver.send(li, QUESTION), "故障点")
            assert "10米" in answer.text

    async with app.sessionmaker() as session:
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert [a for a in actions if a.startswith("kb.")] == ["kb.upload", "kb.remove", "kb.restore"]


async def test_a_gap_answered_in_chat_is_the_answer_from_then_on(app, world, kdir, make_engine, answer_everything):
    """A member marks an answer 👎; the admin sees it in /gaps, answers it in chat; the member asks the same
    question again and gets the admin's answer, marked 「管理员答复」 with the admin's name and the date."""
    engine = make_engine(kdir)
    engine.sync()
    app.knowledge = engine
    gap_question = "绝缘手套多久做一次电气试验"
    admin_answer = "绝缘手套每半年做一次交流耐压试验，试验合格后贴合格证方可使用。"
    async with FakeTelegramServer() as server:
        driver = SimDriver(server, quiet=0.05, timeout=20)
        for user in (admin, li):
            driver.user(user)
        async with running_bot(app, server):
            first = await step(driver, LI, driver.send(li, gap_question), "")
            assert admin_answer not in first.text
            await driver.press(li, "👎")
            await wait_until(lambda: driver.callback_answer() is not None, 15, message="👎 was never answered")
            listing = await step(driver, ADMIN, driver.send(admin, "/gaps"), gap_question)
            assert "👎" in listing.text
            await step(driver, ADMIN, driver.press(admin, "答复 1"), "请输入")
            await step(driver, ADMIN, driver.send(admin, admin_answer), "已索引")

            again = await step(driver, LI, driver.send(li, gap_question), "管理员答复")
            assert "交流耐压试验" in again.text and app.local_now().date().isoformat() in again.text
            assert "管理员" in again.text
            listing = await step(driver, ADMIN, driver.send(admin, "/gaps"), "")
            assert gap_question not in listing.text  # the answered group left the list

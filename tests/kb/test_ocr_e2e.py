"""End to end through the fake Telegram server with real OCR: an admin uploads a scanned PDF (two image-only
pages drawn from a known regulation), sees the progress message edited in place (「正在识别 第1/2页」), gets
the reply with the recognition confidence and the clauses found, and a member's question is answered with
the clause number. A photo of a notice sent as a photo is saved under its caption and answered the same way."""
from __future__ import annotations

import threading

import pytest

from bot.knowledge_engine import ocr
from bot.simulator.driver import SimDriver
from bot.simulator.fake_api import FakeTelegramServer, SimUser
from tests.kb import scans
from tests.kb.files import pdf_bytes
from tests.reports.helpers import ADMIN, LI
from tests.reports.test_e2e import running_bot, step

pytestmark = pytest.mark.skipif(not ocr.available(), reason="rapidocr-onnxruntime is not installed (Python 3.13)")

admin = SimUser(id=ADMIN, first_name="管理员", last_name="周")
li = SimUser(id=LI, first_name="海波", last_name="李")
SCANNED = ["变电站巡视规定", "5 巡视",
           "5.1 巡视变电站应当两人进行，不得单独移开或者越过遮栏。",
           "5.2 雷雨天气巡视室外高压设备时，应当穿绝缘靴，不得靠近避雷器和避雷针。",
           "5.3 高压设备发生接地时，室内人员不得接近故障点4米以内，室外不得接近故障点8米以内。",
           "5.4 巡视中发现缺陷应当记入缺陷记录，重大缺陷立即报告值班负责人。"]
NOTICE = ["关于电缆井作业的通知", "进入电缆井作业前必须先通风，再检测氧气和有害气体，合格后方可进入，井口设专人监护。"]
OCR_SECONDS = 180  # one page takes 5–30 s on a loaded 2-core runner


def pdf_of_two_pages() -> bytes:
    first = scans.render_pages(SCANNED[:4])
    second = scans.render_pages(SCANNED[4:])
    return scans.scanned_pdf(first + second)


async def test_a_scanned_pdf_is_ocred_with_progress_and_answered_with_its_clause_number(
        app, world, kdir, make_engine, answer_everything, monkeypatch):
    engine = make_engine(kdir)
    engine.sync()
    app.knowledge = engine
    seen_progress = threading.Event()
    recognise = ocr.recognise

    def recognise_after_progress_is_shown(image):
        assert seen_progress.wait(OCR_SECONDS), "the progress message never came"  # page 1 waits for the test
        return recognise(image)

    monkeypatch.setattr(ocr, "recognise", recognise_after_progress_is_shown)
    async with FakeTelegramServer() as server:
        driver = SimDriver(server, quiet=0.05, timeout=OCR_SECONDS)
        for user in (admin, li):
            driver.user(user)
        async with running_bot(app, server):
            since = driver.mark()
            await driver.document(admin, pdf_of_two_pages(), file_name="变电站巡视规定-扫描件.pdf", timeout=5)
            progress = await driver.wait_for(ADMIN, "正在识别 第1/2页", since=since)
            seen_progress.set()
            reply = await driver.wait_for(ADMIN, "置信度", since=since)
            assert reply.message_id == progress.message_id  # the progress message, edited in place
            assert "文字识别（OCR）：2 页" in reply.text and "《变电站巡视规定》" in reply.text
            assert "5.1" in reply.text and "5.2" in reply.text and "偏低" not in reply.text
            assert (kdir / "变电站巡视规定-扫描件.pdf").is_file()  # the original is what the folder keeps

            answer = await step(driver, LI, driver.send(li, "高压设备接地时室外不得接近故障点多少米"), "故障点")
            assert "5.3" in answer.text and "8米" in answer.text

            monkeypatch.setattr(app.settings, "kb_ocr_min_confidence", 0.9999)  # this photo reads at ~0.99
            reply = await step(driver, ADMIN, driver.photo(admin, scans.photo(scans.render_pages(NOTICE)[0]),
                                                           caption="电缆井通知"), "置信度")
            assert "电缆井通知.jpg" in reply.text and "文字识别（OCR）：1 页" in reply.text
            assert "识别置信度偏低（低于 100%）" in reply.text  # the warning, the photo still indexed
            assert (kdir / "电缆井通知.jpg").is_file()
            answer = await step(driver, LI, driver.send(li, "进入电缆井前要做什么"), "通风")
            assert "有害气体" in answer.text


async def test_a_scan_with_no_readable_text_ends_in_the_reason_in_place_of_the_progress(
        app, world, kdir, make_engine, monkeypatch):
    engine = make_engine(kdir)
    engine.sync()
    app.knowledge = engine
    files_before = sorted(p.name for p in kdir.rglob("*"))
    seen_progress = threading.Event()

    def nothing_found_after_progress_is_shown(image):
        assert seen_progress.wait(OCR_SECONDS), "the progress message never came"
        return []  # no text box on the page

    monkeypatch.setattr(ocr, "recognise", nothing_found_after_progress_is_shown)
    async with FakeTelegramServer() as server:
        driver = SimDriver(server, quiet=0.05, timeout=OCR_SECONDS)
        driver.user(admin)
        async with running_bot(app, server):
            since = driver.mark()
            await driver.document(admin, pdf_bytes(pages=2), file_name="空白扫描件.pdf", timeout=5)
            progress = await driver.wait_for(ADMIN, "正在识别", since=since)
            seen_progress.set()
            reply = await driver.wait_for(ADMIN, "没有识别出文字", since=since)
            assert reply.message_id == progress.message_id and "未保存" in reply.text
    assert sorted(p.name for p in kdir.rglob("*")) == files_before  # nothing written

"""Incremental sync through the record manager; bad files never block the rest."""
from __future__ import annotations

import os
import time
from pathlib import Path

import docx

from bot.knowledge_engine.engine import KnowledgeEngine

RULES = "配电作业安全规定.md"


def _clauses(engine, question: str) -> list[str]:
    # the fake embedding's cosines are low, so use ranking without refusal here
    return [s.clause for s in engine.search(question)]


def test_first_sync_then_nothing_to_do(kdir, make_engine, fake_emb):
    engine = make_engine(kdir)
    rep = engine.sync()
    assert sorted(rep.added) == sorted(p.name for p in kdir.iterdir())
    assert rep.failed == [] and rep.chunks > 10
    assert fake_emb.docs_embedded == rep.chunks == rep.embedded
    # prose-only file is indexed, with a warning
    assert any(name == "班组安全文化随笔.txt" for name, _ in rep.warnings)

    before = fake_emb.docs_embedded
    t0 = time.perf_counter()
    rep2 = engine.sync()
    assert time.perf_counter() - t0 < 2
    assert rep2.added == rep2.changed == rep2.removed == [] and rep2.failed == []
    assert fake_emb.docs_embedded == before  # nothing re-embedded
    assert rep2.chunks == rep.chunks


def test_touched_but_identical_file_is_not_reembedded(kdir, make_engine, fake_emb):
    engine = make_engine(kdir)
    engine.sync()
    before = fake_emb.docs_embedded
    path = kdir / RULES
    os.utime(path, (time.time() + 5, time.time() + 5))
    rep = engine.sync()
    assert rep.changed == [] and RULES in rep.unchanged
    assert fake_emb.docs_embedded == before


def test_changed_file_replaces_only_changed_clauses(kdir, make_engine, fake_emb):
    engine = make_engine(kdir)
    first = engine.sync()
    before = fake_emb.docs_embedded
    path = kdir / RULES
    text = path.read_text("utf-8")
    path.write_text(text.replace("六级以上大风", "五级以上大风"), "utf-8")
    rep = engine.sync()
    assert rep.changed == [RULES]
    assert fake_emb.docs_embedded - before == 1  # only 第五条 re-embedded
    assert rep.chunks == first.chunks
    texts = [s.text for s in engine.search("大风天气还能登杆吗")]
    assert any("五级以上大风" in t for t in texts)
    assert not any("六级以上大风" in t for t in texts)  # old version gone


def test_deleted_file_disappears(kdir, make_engine):
    engine = make_engine(kdir)
    engine.sync()
    assert "2.1.2" in _clauses(engine, "绝缘手套怎么存放")
    (kdir / "工器具检查细则.txt").unlink()
    rep = engine.sync()
    assert rep.removed == ["工器具检查细则.txt"]
    assert not any(s.file == "工器具检查细则.txt" for s in engine.search("绝缘手套怎么存放"))
    assert engine.records.list_keys(group_ids=["工器具检查细则.txt"]) == []


def test_reopen_from_index_folder_embeds_nothing(kdir, make_engine, fake_emb, tmp_path):
    make_engine(kdir).sync()
    docs_before = fake_emb.docs_embedded
    again = KnowledgeEngine(kdir, tmp_path / "index", fake_emb)
    assert fake_emb.docs_embedded == docs_before  # opening is lazy
    assert "第三条" in _clauses(again, "登杆前要检查什么")
    assert (tmp_path / "index" / "records.sqlite").exists()
    assert fake_emb.docs_embedded == docs_before


def test_failing_file_keeps_its_old_chunks(kdir, make_engine):
    engine = make_engine(kdir)
    engine.sync()
    path = kdir / "工器具检查细则.txt"
    path.write_bytes(b"\x00\xff\xfe garbage \x81\x00" * 50)
    rep = engine.sync()
    assert [name for name, _ in rep.failed] == ["工器具检查细则.txt"]
    assert "previous version kept" in rep.failed[0][1]
    assert "2.1.2" in _clauses(engine, "绝缘手套怎么存放")


def _write_gbk(path: Path) -> None:
    path.write_bytes("班组用电规定\n\n第一条 临时电源箱必须装设漏电保护器，每月试跳一次。\n".encode("gbk"))


def _write_empty_docx(path: Path) -> None:
    docx.Document().save(str(path))


def _write_docx(path: Path) -> None:
    d = docx.Document()
    d.add_heading("接地线管理办法", level=1)
    d.add_paragraph("第一条 接地线应当编号并存放在固定位置。")
    d.add_paragraph("第二条 装设接地线应当先接接地端，后接导体端。")
    d.save(str(path))


def test_bad_files_reported_and_others_ingested(kdir, make_engine):
    (kdir / "损坏.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\nthis is not really a pdf\n%%EOF")
    _write_gbk(kdir / "用电规定_gbk.txt")
    _write_empty_docx(kdir / "空白.docx")
    _write_docx(kdir / "接地线管理办法.docx")
    (kdir / "只有符号.txt").write_text("——\n……\n", "utf-8")
    with open(kdir / "超大文件.txt", "wb") as fh:  # sparse 60 MB file
        fh.truncate(60 * 1024 * 1024)
    (kdir / "乱码.txt").write_bytes(bytes(range(256)) * 8)
    (kdir / "page.html").write_text(
        "<html><head><title>防汛值班规定</title></head><body><h1>防汛值班规定</h1>"
        "<p>第一条 汛期值班人员应当二十四小时在岗。</p><script>var x=1;</script></body></html>",
        "utf-8",
    )
    engine = make_engine(kdir)
    rep = engine.sync()
    failed = dict(rep.failed)
    assert set(failed) == {"损坏.pdf", "空白.docx", "只有符号.txt", "超大文件.txt", "乱码.txt"}
    assert "PDF" in failed["损坏.pdf"]
    assert "50 MB" in failed["超大文件.txt"]
    assert "no text" in failed["空白.docx"] or "no clauses" in failed["空白.docx"]
    assert "decode" in failed["乱码.txt"] or "binary" in failed["乱码.txt"]
    for good in ("用电规定_gbk.txt", "接地线管理办法.docx", "page.html", RULES):
        assert good in rep.added
    gbk = engine.search("临时电源箱要装什么", 5)
    assert any("漏电保护器" in s.text for s in gbk)
    doc = [s for s in engine.search("装设接地线先接哪一端", 5) if s.file == "接地线管理办法.docx"]
    assert doc and doc[0].title == "接地线管理办法" and doc[0].clause in ("第一条", "第二条")
    html = [s for s in engine.search("汛期值班", 5) if s.file == "page.html"]
    assert html and html[0].title == "防汛值班规定" and "var x" not in html[0].text


def test_progress_callback_and_skipped_names(kdir, make_engine):
    (kdir / ".hidden.md").write_text("第一条 不应被索引。", "utf-8")
    (kdir / "daily").mkdir()
    (kdir / "daily" / "items.md").write_text("第一条 每日一题。", "utf-8")
    calls = []
    rep = make_engine(kdir).sync(progress=lambda done, total, name: calls.append((done, total, name)))
    assert ".hidden.md" not in rep.added and "daily/items.md" not in rep.added
    assert dict(rep.skipped).keys() == {".hidden.md", "daily/"}
    assert calls[-1][0] == calls[-1][1]  # the last call says: all done
    assert {name for _, _, name in calls} >= set(rep.added)  # each file read is named as it is read


def test_embedding_change_rebuilds_index(kdir, make_engine, fake_emb):
    from tests.knowledge.conftest import HashEmbeddings

    make_engine(kdir).sync()
    other = HashEmbeddings(dim=128)
    other.fingerprint = "hash-bigrams-128"
    rep = make_engine(kdir, emb=other).sync()
    assert other.docs_embedded == rep.chunks  # everything re-embedded in the new space
    assert "第三条" in _clauses(make_engine(kdir, emb=other), "登杆前要检查什么")


def _write_text_pdf(path: Path, lines: list[str]) -> None:
    """A minimal valid one-page PDF with a text layer (Helvetica, ASCII)."""
    ops = b"BT /F1 12 Tf 10 120 Td " + b" 0 -20 Td ".join(b"(%s) Tj" % ln.encode() for ln in lines) + b" ET"
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 144] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(ops) + ops + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(out)


def test_pdf_text_layer_ingested(tmp_path, make_engine):
    knowledge = tmp_path / "k"
    knowledge.mkdir()
    _write_text_pdf(knowledge / "site_rules.pdf", ["1.1 Wear a helmet on every site visit.", "1.2 Check the ladder before climbing."])
    engine = make_engine(knowledge)
    rep = engine.sync()
    assert rep.added == ["site_rules.pdf"] and rep.chunks == 2
    top = engine.search("ladder climbing", 2)[0]
    assert top.clause == "1.2" and top.text == "1.2 Check the ladder before climbing."


def test_questions_answered_while_a_sync_runs(kdir, make_engine):
    engine = make_engine(kdir)
    engine.sync()
    (kdir / "新增规定.md").write_text("# 新增规定\n\n第一条 夜间抢修应当两人以上同行。\n", "utf-8")
    seen = []

    def progress(done, total, name):  # runs inside sync(); must not deadlock
        seen.append([s.clause for s in engine.search("绝缘手套怎么存放", 3)])

    engine.sync(progress=progress)
    assert seen and all("2.1.2" in clauses for clauses in seen)

"""Uploading into the knowledge folder: every bad input is refused with a reason before anything is written;
a good file lands atomically, a clash is never overwritten silently, and the sync says what changed."""
from __future__ import annotations

import asyncio

import pytest

from bot.knowledge_engine import ocr
from bot.services import kb
from bot.services.errors import DomainError
from tests.kb.files import EXE, REGULATION_MD, docx_bytes, pdf_bytes, zip_bomb_docx

LIMITS = kb.Limits(max_bytes=20 * 1024 * 1024, max_pdf_pages=300)


def refused(name: str, data: bytes) -> str:
    with pytest.raises(DomainError) as caught:
        kb.check_content(kb.safe_name(name), data, LIMITS)
    return caught.value.code


@pytest.mark.parametrize("raw, safe", [
    ("../../etc/passwd.md", "passwd.md"),
    ("..\\..\\windows\\规程.md", "规程.md"),
    (".bashrc.md", "bashrc.md"),
    ("~$锁文件.docx", "锁文件.docx"),
    ("a..b....md", "a.b.md"),
    ("安全\x00规程.MD", "安全_规程.md"),
    ("e\u0301.txt", "\u00e9.txt"),  # NFC
])
def test_a_name_can_only_land_directly_in_the_folder(raw, safe):
    assert kb.safe_name(raw) == safe


def test_a_300_character_name_is_cut_and_a_name_of_dots_is_refused():
    assert len(kb.safe_name("规" * 300 + ".md")) == kb.MAX_NAME_CHARS + 3
    for bad in ("..", "../", ". . .", ""):
        with pytest.raises(DomainError):
            kb.safe_name(bad)


def test_bad_content_is_refused_by_what_it_is_not_by_its_name():
    assert refused("规程.pdf", EXE) == "kb_not_what_it_says"
    assert refused("规程.md", EXE) == "kb_not_what_it_says"
    assert refused("规程.docx", EXE) == "kb_not_what_it_says"
    assert refused("规程.md", b"") == "kb_empty"
    assert refused("规程.pdf", pdf_bytes(password="secret")) == "kb_pdf_encrypted"
    assert refused("规程.pdf", pdf_bytes(pages=500)) == "kb_pdf_too_many_pages"
    assert refused("规程.doc", b"\xd0\xcf\x11\xe0" + b"\x00" * 100) == "kb_legacy_format"
    assert refused("规程.wps", b"\xd0\xcf\x11\xe0" + b"\x00" * 100) == "kb_legacy_format"
    assert refused("规程.exe", EXE) == "kb_bad_type"
    assert refused("规程.md", b"x" * (50 * 1024 * 1024)) == "kb_too_large"


def test_a_zip_bomb_docx_is_refused_from_its_directory_without_inflating_it():
    bomb = zip_bomb_docx()
    assert len(bomb) < 1024 * 1024
    assert refused("规程.docx", bomb) == "kb_zip_bomb"


def test_good_files_pass():
    kb.check_content("规程.md", REGULATION_MD.encode(), LIMITS)
    kb.check_content("规程.txt", REGULATION_MD.encode("gb18030"), LIMITS)
    kb.check_content("规程.docx", docx_bytes(REGULATION_MD.splitlines()), LIMITS)
    kb.check_content("规程.pdf", pdf_bytes(pages=3), LIMITS)


def test_a_clash_is_never_overwritten_without_asking(tmp_path):
    folder = tmp_path / "knowledge"
    kb.save(folder, "规程.md", b"old")
    with pytest.raises(DomainError) as caught:
        kb.save(folder, "规程.md", b"new")
    assert caught.value.code == "kb_clash" and (folder / "规程.md").read_bytes() == b"old"
    assert kb.save_keeping_both(folder, "规程.md", b"new").name == "规程 (2).md"
    assert kb.save(folder, "规程.md", b"newer", replace=True).replaced
    assert (folder / "规程.md").read_bytes() == b"newer"
    assert sorted(p.name for p in folder.iterdir()) == ["规程 (2).md", "规程.md"]  # no temp file left


async def test_two_uploads_of_the_same_name_at_once_save_one_and_ask_about_the_other(tmp_path):
    folder = tmp_path / "knowledge"
    results = await asyncio.gather(*(asyncio.to_thread(kb.save, folder, "规程.md", f"v{i}".encode()) for i in range(8)),
                                   return_exceptions=True)
    saved = [r for r in results if isinstance(r, kb.Saved)]
    assert len(saved) == 1
    assert all(isinstance(r, DomainError) and r.code == "kb_clash" for r in results if r not in saved)
    assert [p.name for p in folder.iterdir()] == ["规程.md"]


def test_an_unreadable_upload_is_found_before_it_is_saved(kdir, make_engine):
    engine = make_engine(kdir)
    before = sorted(p.name for p in kdir.iterdir())
    with pytest.raises(DomainError) as caught:
        kb.read_as_sync_would(engine, "规程.pdf", pdf_bytes(pages=2))  # no text layer, and blank pages for OCR
    if ocr.available():
        assert caught.value.code == "kb_ocr_no_text"
    else:  # Python 3.13: rapidocr-onnxruntime is not installed
        assert caught.value.code == "kb_ocr_unavailable"
    assert sorted(p.name for p in kdir.iterdir()) == before


def test_upload_sync_reports_chunks_added_and_removed_and_previews_clauses(kdir, make_engine):
    engine = make_engine(kdir)
    kb.sync(engine, None)
    kb.save(kdir, "变电站巡视规定.md", REGULATION_MD.encode())
    change = kb.describe(engine, "变电站巡视规定.md", set(), kb.sync(engine, None))
    assert (change.title, change.added, change.removed, change.clauses) == ("变电站巡视规定", 4, 0, 4)
    assert [c.clause for c in change.preview] == ["第一条", "第二条", "第三条"]
    before = engine.file_keys("变电站巡视规定.md")
    kb.save(kdir, "变电站巡视规定.md", REGULATION_MD.replace("4米", "5米").encode(), replace=True)
    change = kb.describe(engine, "变电站巡视规定.md", before, kb.sync(engine, None))
    assert (change.added, change.removed, change.chunks) == (1, 1, 4)


def test_removed_documents_go_to_a_trash_folder_the_sync_ignores_and_come_back(kdir, make_engine):
    engine = make_engine(kdir)
    kb.sync(engine, None)
    name = "配电作业安全规定.md"
    kb.remove(kdir, name)
    report = kb.sync(engine, None)
    assert report.removed == [name] and name not in [d.file for d in engine.documents()]
    assert kb.trashed(kdir) == [name]
    assert kb.restore(kdir, name) == name
    assert kb.sync(engine, None).added == [name]
    with pytest.raises(DomainError):
        kb.remove(kdir, "../outside.md")


def test_a_file_deleted_while_the_sync_reads_it_is_reported_and_the_index_stays_whole(kdir, make_engine):
    engine = make_engine(kdir)
    kb.sync(engine, None)
    chunks = engine.stats()["chunks"]
    kb.save(kdir, "变电站巡视规定.md", REGULATION_MD.encode())

    def delete_when_reached(done, total, what):
        if what == "变电站巡视规定.md":
            (kdir / what).unlink(missing_ok=True)

    report = kb.sync(engine, None, delete_when_reached)
    assert [name for name, _ in report.failed] == ["变电站巡视规定.md"]
    assert engine.stats()["chunks"] == chunks
    assert kb.sync(engine, None).failed == []  # gone from the folder: nothing left to report


def test_photos_are_checked_by_content_and_size_before_ocr():
    import io

    from PIL import Image

    def image(kind: str, size=(400, 300)) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", size, "white").save(out, kind)
        return out.getvalue()

    if ocr.available():
        kb.check_content("通知.jpg", image("JPEG"), LIMITS)
        kb.check_content("通知.png", image("PNG"), LIMITS)
    assert refused("通知.png", image("JPEG")) == "kb_not_what_it_says"  # named png, is a jpeg
    assert refused("通知.jpg", EXE) == "kb_not_what_it_says"
    assert refused("巨幅.png", image("PNG", (8000, 7000))) == "kb_image_too_large"  # 56 megapixels, header only


def test_a_photo_sent_as_a_photo_is_named_after_its_caption():
    from datetime import datetime

    at = datetime(2026, 12, 1, 9, 30, 5)
    assert kb.photo_name("关于电缆井作业的通知", at) == "关于电缆井作业的通知.jpg"
    assert kb.photo_name("../../etc/通知", at) == "通知.jpg"
    assert kb.photo_name(None, at) == kb.photo_name("  ", at) == "通知照片-20261201-093005.jpg"

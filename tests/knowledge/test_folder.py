"""What the sync reads from the knowledge folder: nothing outside it, and a line for every file."""
from __future__ import annotations

import os
from pathlib import Path

SECRET = "第一条 服务器口令为 hunter2，严禁外传。"


def _outside_file(tmp_path: Path) -> Path:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = outside / "口令.md"
    secret.write_text("# 服务器口令\n\n" + SECRET + "\n", "utf-8")
    return secret


def test_link_to_a_file_outside_the_folder_is_never_read(kdir, make_engine, tmp_path):
    secret = _outside_file(tmp_path)
    (kdir / "口令链接.md").symlink_to(secret)
    (kdir / "上级目录.md").symlink_to(Path("..") / "elsewhere" / "口令.md")  # a relative link climbing out
    engine = make_engine(kdir)
    rep = engine.sync()
    skipped = dict(rep.skipped)
    assert "outside the knowledge folder" in skipped["口令链接.md"]
    assert "outside the knowledge folder" in skipped["上级目录.md"]
    assert not any("hunter2" in s.text for s in engine.search("服务器口令是什么", 10))


def test_link_to_a_folder_is_not_followed(kdir, make_engine, tmp_path):
    _outside_file(tmp_path)
    (kdir / "外部目录").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    engine = make_engine(kdir)
    rep = engine.sync()
    assert "外部目录/" in dict(rep.skipped)
    assert not any("hunter2" in s.text for s in engine.search("服务器口令是什么", 10))


def test_link_inside_the_folder_is_indexed(kdir, make_engine):
    (kdir / "安全规定链接.md").symlink_to(kdir / "配电作业安全规定.md")
    rep = make_engine(kdir).sync()
    assert "安全规定链接.md" in rep.added


def test_every_file_gets_a_line_in_the_report(kdir, make_engine):
    (kdir / "旧版规程.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    (kdir / ".隐藏说明.md").write_text("第一条 隐藏文件。", "utf-8")
    (kdir / "~$打开中.docx").write_bytes(b"lock")
    (kdir / "照片.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    (kdir / "损坏.md").write_bytes("# 损坏\n\n第一条 前半段正常。".encode() + b"\x00\x00\x00" * 10 + "第二条 后半段。".encode())
    (kdir / ".git").mkdir()
    (kdir / ".git" / "config").write_text("[core]", "utf-8")
    rep = make_engine(kdir).sync()
    lines = {name: (status, why) for name, status, why in rep.file_lines()}
    on_disk = {p.name for p in kdir.iterdir()} - {".git"} | {".git/"}
    assert set(lines) == on_disk
    assert lines["旧版规程.doc"][0] == "skipped" and ".docx" in lines["旧版规程.doc"][1]
    assert lines[".隐藏说明.md"] == ("skipped", "hidden file (name starts with a dot)")
    assert lines["~$打开中.docx"][0] == "skipped"
    # photos are read by OCR: a truncated jpg fails with its reason (or OCR's absence on Python 3.13)
    assert lines["照片.jpg"][0] == "failed" and ("cannot read the image" in lines["照片.jpg"][1]
                                                 or "not installed" in lines["照片.jpg"][1])
    assert lines[".git/"][0] == "skipped"
    assert lines["损坏.md"][0] == "failed" and "NUL" in lines["损坏.md"][1]
    assert lines["配电作业安全规定.md"] == ("added", "")


def test_a_failed_file_is_not_read_again_until_it_changes(kdir, make_engine, monkeypatch):
    (kdir / "损坏.md").write_bytes(b"\x00" * 100)
    engine = make_engine(kdir)
    first = engine.sync()
    assert [name for name, _ in first.failed] == ["损坏.md"]
    assert engine.pending_changes() == []  # nothing to index at the next start

    def no_reading(path):
        raise AssertionError(f"{path} read again")

    monkeypatch.setattr("bot.knowledge_engine.indexing.load_file", no_reading)
    again = engine.sync()
    assert again.failed == first.failed  # still reported, from the manifest
    monkeypatch.undo()
    (kdir / "损坏.md").write_text("# 修好了\n\n第一条 文件已修复。\n", "utf-8")
    os.utime(kdir / "损坏.md", ns=(1, 1))
    assert engine.pending_changes() == ["损坏.md"]
    assert engine.sync().added == ["损坏.md"]


def test_term_file_linked_from_outside_is_not_read(kdir, make_engine, tmp_path):
    outside = tmp_path / "elsewhere-terms.yaml"
    outside.write_text("动作:\n  爬杆: 登杆\n", "utf-8")
    (kdir / "术语.yaml").symlink_to(outside)
    engine = make_engine(kdir)
    rep = engine.sync()
    assert "outside the knowledge folder" in dict(rep.skipped)["术语.yaml"]
    assert engine.terms.mapping == {}


def test_term_file_gets_one_line(kdir, make_engine):
    (kdir / "术语.yaml").write_text("动作:\n  爬杆: 登杆\n", "utf-8")
    engine = make_engine(kdir)
    assert [line[:2] for line in engine.sync().file_lines() if line[0] == "术语.yaml"] == [("术语.yaml", "skipped")]
    (kdir / "术语.yaml").write_text("动作:\n  爬杆: 登杆\n  爬杆: 攀登\n", "utf-8")
    assert [line[:2] for line in engine.sync().file_lines() if line[0] == "术语.yaml"] == [("术语.yaml", "failed")]

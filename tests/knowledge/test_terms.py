"""The term file (knowledge/术语.yaml): parsing, validation with the line at fault, use at sync."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.knowledge_engine.normalize import match_form
from bot.knowledge_engine.terms import TermFileError, load_terms, parse_terms

SHIPPED = Path(__file__).resolve().parents[2] / "knowledge"


def test_groups_of_colloquial_words_expand_to_one_or_several_terms():
    terms = parse_terms("设备:\n  火线: 相线\n  零线: [中性线, 零线]\n动作:\n  爬杆: 登杆 攀登\n")
    assert sorted(terms.expand(match_form("爬杆拆火线"))) == sorted(["登杆", "攀登", "相线"])
    assert terms.expand(match_form("零线")) == ["中性线"]  # a term the question already has is not added
    assert terms.knows("火线头") and not terms.knows("接地")


def test_a_longer_colloquial_word_wins_over_the_one_inside_it():
    terms = parse_terms("a:\n  地线: 接地线\n  挂地线: 装设接地线\n")
    assert terms.expand(match_form("挂地线")) == ["装设接地线"]


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("设备:\n  火线: [相线\n", "第 3 行", "不是有效的 YAML"),
        ("设备:\n  火线\n", "第 1 行", "各占一行"),
        ("设备:\n  火线: 相线\n  火线: 中性线\n", "第 3 行", "重复"),
        ("设备:\n  火线: \n", "第 2 行", "为空"),
        ("设备:\n  这是一句话而不是一个词语真的: 相线\n", "第 2 行", "应是一个词"),
        ("设备:\n  火线: {a: b}\n", "第 2 行", "文字或文字列表"),
    ],
)
def test_a_broken_file_is_rejected_with_the_line_at_fault(text, line, words):
    with pytest.raises(TermFileError) as err:
        parse_terms(text)
    assert str(err.value).startswith("术语.yaml " + line) and words in str(err.value)


def test_the_shipped_file_is_valid():
    terms = load_terms(SHIPPED)
    assert terms.expand(match_form("喝了酒能爬杆吗")) == ["饮酒", "登杆"]


def test_the_shipped_guards_keep_liubian_and_yabian_for_the_transformers():
    terms = load_terms(SHIPPED)
    assert terms.expand(match_form("校验流变、压变要停电吗")) == ["电流互感器", "电压互感器"]
    # 电流变大 / 高压变电站 / 低压变压器 are no current or voltage transformers
    for question in ("电流变大了怎么办", "电压变低了", "进高压变电站", "低压变压器着火"):
        assert not {"电流互感器", "电压互感器"} & set(terms.expand(match_form(question))), question


def test_sync_reads_the_term_file_and_keeps_the_previous_one_when_it_breaks(kdir, make_engine):
    (kdir / "术语.yaml").write_text("动作:\n  爬杆: 登杆\n", "utf-8")
    engine = make_engine(kdir)
    report = engine.sync()
    assert report.failed == [] and engine.terms.expand("爬杆") == ["登杆"]
    (kdir / "术语.yaml").write_text("动作:\n  爬杆: 登杆\n  爬杆: 攀登\n", "utf-8")
    report = engine.sync()
    assert report.failed == [("术语.yaml", "术语.yaml 第 3 行：口语词「爬杆」重复出现; previous version kept")]
    assert engine.terms.expand("爬杆") == ["登杆"]


def test_a_folder_without_a_term_file_has_no_expansion(kdir, make_engine):
    engine = make_engine(kdir)
    assert engine.sync().failed == [] and engine.terms.expand("爬杆") == []

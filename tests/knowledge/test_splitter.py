"""Structure-aware splitting: one clause per chunk, heading paths, tables whole."""
from __future__ import annotations

from bot.knowledge_engine.normalize import clean_display, match_form
from bot.knowledge_engine.splitter import detect_numbering, split_text


def by_clause(chunks):
    return {c.clause: c for c in chunks}


def test_articles_under_chapters_keep_their_items():
    text = """# 规定
## 第一章 总则
第一条 为了安全，制定本规定。
第二条 作业人员应当遵守下列要求：
（一）参加班前会；
（二）佩戴安全帽。
## 第二章 登杆
第三条 登杆前检查杆根。
"""
    chunks = split_text(text)
    c = by_clause(chunks)
    assert list(c) == ["第一条", "第二条", "第三条"]
    assert "（二）佩戴安全帽" in c["第二条"].text  # sub-items stay in their article
    assert c["第一条"].section.endswith("第一章 总则")
    assert c["第三条"].section.endswith("第二章 登杆")
    assert c["第一条"].text.startswith("第一条 为了安全")


def test_decimal_clauses_headings_and_list_items():
    text = """6 保证安全的组织措施
6.9 工作变更和延期
6.9.5 工作期间，工作负责人因故暂时离开工作现场时，应暂停工作。
6.9.6 以下情况应办理变更手续：
a）专责监护人离开；
b）工作班成员变更。
6.10 工作终结
6.10.1 工作终结是指工作票的终结。
"""
    c = by_clause(split_text(text))
    assert set(c) == {"6.9.5", "6.9.6", "6.10.1"}
    assert c["6.9.5"].section == "6 保证安全的组织措施 > 6.9 工作变更和延期"
    assert "b）工作班成员变更" in c["6.9.6"].text
    assert c["6.10.1"].section.endswith("6.10 工作终结")


def test_parent_clause_with_text_heads_its_children():
    text = """10.4 线路融冰作业
10.4.1 融冰作业组织模式，应采用工作组指挥模式。
10.4.1.1 工作组指挥模式：由工作组统一指挥。
10.4.2 融冰作业的组织措施。
"""
    chunks = split_text(text)
    c = by_clause(chunks)
    assert set(c) == {"10.4.1", "10.4.1.1", "10.4.2"}
    assert "10.4.1 融冰作业组织模式" in c["10.4.1.1"].section
    assert "10.4.1 " not in c["10.4.2"].section  # sibling leaves the parent's block


def test_chinese_list_styles_policy():
    text = """一、总则
（一）支部书记每季度至少谈话一次。
（二）党员之间经常谈心。
二、谈话内容
（一）围绕安全生产进行。
1. 了解思想情况；
2. 了解家庭困难。
"""
    chunks = split_text(text)
    assert [c.clause for c in chunks] == ["（一）", "（二）", "（一）"]
    assert chunks[0].section == "一、总则"
    assert chunks[2].section == "二、谈话内容"
    assert "2. 了解家庭困难" in chunks[2].text


def test_numbering_detection():
    assert detect_numbering("第十二条 党支部委员会").label == "第十二条"
    assert detect_numbering("6.9.5 工作期间").label == "6.9.5"
    assert detect_numbering("（三）正确佩戴").label == "（三）"
    assert detect_numbering("三、谈话内容").label == "三、"
    assert detect_numbering("a）表面有划痕").label == "a)"
    assert detect_numbering("1. 了解").label == "1."
    assert detect_numbering("0.7m 、20kV 大于") is None


def test_table_kept_whole_with_caption_and_clause():
    rows = "\n".join(f"| {kv}千伏 | {d}米 |" for kv, d in [(10, 0.7), (35, 1.0), (110, 1.5), (220, 3.0)])
    text = f"""6.3.3 安全距离应满足表1。
表1 人员与带电设备的安全距离
| 电压等级 | 距离 |
| --- | --- |
{rows}
6.3.4 其他要求。
"""
    chunks = split_text(text)
    tables = [c for c in chunks if c.kind == "table"]
    assert len(tables) == 1
    t = tables[0]
    assert t.text.startswith("表1 人员与带电设备的安全距离")
    assert "| 220千伏 | 3.0米 |" in t.text and "| 10千伏 | 0.7米 |" in t.text
    assert t.clause == "6.3.3"
    assert by_clause([c for c in chunks if c.kind == "clause"])["6.3.4"].text == "6.3.4 其他要求。"


def test_multiline_table_cells_stay_in_one_row():
    text = "表 2 参数\n| 电压等级\nkV | 距离\nm |\n| --- | --- |\n| 10 | 0.7 |\n"
    (t,) = [c for c in split_text(text) if c.kind == "table"]
    assert "| 电压等级 kV | 距离 m |" in t.text


def test_long_clause_split_at_sentence_ends():
    sentences = "".join(f"第{i}句要求验电器每半年试验一次并登记保管情况。" for i in range(1, 15))
    text = f"2.2.1 {sentences}\n2.2.2 短条款。"
    chunks = split_text(text, max_chars=120)
    parts = [c for c in chunks if c.clause == "2.2.1"]
    assert len(parts) >= 3
    assert all(len(p.text) <= 120 for p in parts)
    assert all(p.text.endswith("。") for p in parts)
    assert [p.part for p in parts] == list(range(len(parts)))
    assert parts[1].lead.startswith("2.2.1")
    assert "".join(p.text for p in parts) == f"2.2.1 {sentences}"


def test_prose_without_numbering_grouped_by_paragraph():
    paras = [f"第{i}段。安全不是口号，而是每一次出工前的认真检查，宁可多看一眼。" * 2 for i in range(8)]
    chunks = split_text("\n\n".join(paras), max_chars=360, prose_chars=300)
    assert all(c.kind == "prose" for c in chunks)
    assert 2 <= len(chunks) <= 6
    assert all(len(c.text) <= 360 for c in chunks)
    joined = "\n".join(c.text for c in chunks)
    assert all(p in joined for p in paras)


def test_pdf_noise_normalised():
    assert clean_display("工 作 票 应 在 批准期限前 2h") == "工作票应在批准期限前 2h"
    assert clean_display("第一条　为了安全") == "第一条 为了安全"
    assert match_form("ＳＦ６ 氣體洩漏") == "sf6 气体泄漏"
    text = "5.3.9 经常有人工作的场所宜配备急救箱，存放急救用\n品，并指定专人定期检查。"
    (c,) = split_text(text)
    assert c.text == "5.3.9 经常有人工作的场所宜配备急救箱，存放急救用品，并指定专人定期检查。"


def test_number_continuation_is_not_a_clause():
    text = "6.3.3.3 人员与带电设备距离，10kV 及以下大于 0.35m 小于\n0.7m 、20kV 大于 0.6m 小于 1.0m。\n6.3.3.4 下一条。"
    c = by_clause(split_text(text))
    assert set(c) == {"6.3.3.3", "6.3.3.4"}
    assert "0.7m" in c["6.3.3.3"].text


def test_separator_lines_and_bracketed_excerpts():
    text = """[1] 《某制度》摘录（第一条至第二条）
----------
一、不准无票作业。
二、不准擅自扩大工作范围。
==========
[2] 另一篇摘录
1、严禁酒后作业。
"""
    chunks = split_text(text)
    assert [c.clause for c in chunks] == ["一、", "二、", "1."]
    assert chunks[0].section.startswith("[1] 《某制度》")
    assert chunks[2].section == "[2] 另一篇摘录"
    assert "=====" not in chunks[1].text

"""Phone-first answers: a clean citation line, tables as lines, and the one sentence that answers."""
from __future__ import annotations

from bot.knowledge_engine.present import citation, lead_sentence, phone_text
from bot.knowledge_engine.types import Source


def source(text="", title="登高与杆塔作业安全", section="", clause="") -> Source:
    return Source("c1", title, section, clause, text, 0.9, "f.md")


def test_citation_names_the_document_the_clause_and_the_nearest_heading_once():
    s = source(section="登高与杆塔作业安全 > 二、登杆前检查 > （二）杆根和杆身", clause="二、（二）")
    assert citation(s) == "《登高与杆塔作业安全》二、（二）杆根和杆身"
    assert citation(source(section="登高与杆塔作业安全", clause="6.9.5")) == "《登高与杆塔作业安全》6.9.5"
    assert citation(source(section="总则 > 适用范围")) == "《登高与杆塔作业安全》适用范围"
    assert citation(source(section="9 高处作业 > 9.2 脚手架", clause="9.2.3")) == "《登高与杆塔作业安全》9.2.3 脚手架"


def test_a_markdown_table_becomes_one_line_per_row():
    text = "表1 试验周期\n| 工器具名称 | 主要试验项目 | 周期 |\n|---|---|---|\n| 安全带 | 静负荷试验 | 1年 |\n| 绝缘手套 | 工频耐压 | 半年 |\n说明：到期停用。"
    assert phone_text(text) == ("表1 试验周期\n工器具名称：安全带；主要试验项目：静负荷试验；周期：1年\n"
                                "工器具名称：绝缘手套；主要试验项目：工频耐压；周期：半年\n说明：到期停用。")


def test_the_lead_is_the_clause_sentence_that_shares_most_with_the_question():
    s = source("6.2.1 登杆前应检查杆根、杆身有无裂纹。严禁酒后登杆作业。攀登时应使用防坠装置。")
    assert lead_sentence("喝了酒能不能登杆", s) == "严禁酒后登杆作业。"
    assert lead_sentence("天气", s) == "登杆前应检查杆根、杆身有无裂纹。"  # nothing shared: the first sentence


def test_no_lead_for_a_clause_of_one_sentence_and_no_stray_numbering():
    assert lead_sentence("登杆前查什么", source("（一）1. 登杆前应核对杆号。")) == ""
    assert lead_sentence("杆号", source("（一）1. 登杆前应核对杆号。攀登时系好安全带。")) == "登杆前应核对杆号。"

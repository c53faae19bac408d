"""The chart's Chinese labels are all in the bundled CJK font; the Excel file opens with openpyxl with the
expected sheets, rows, frozen headers, real dates and fitted widths."""
from __future__ import annotations

import io
import warnings
from datetime import date, datetime
from pathlib import Path

import matplotlib
from fontTools.ttLib import TTFont
from openpyxl import load_workbook

from bot.services.digest import Scope, build_digest, month_period, week_of
from bot.services.digest_chart import build_figure, cjk_font_path, figure_texts, render_chart
from bot.services.digest_excel import text_width
from handlers.ui.digest_view import chart_spec, workbook_bytes
from handlers.ui.report_text import in_locale
from tests.digest.world import NOW, TZ, make_world

RULES = {"daily_ack": 1, "report_on_time": 5, "hazard": 2, "talk_logged": 3, "talk_follow_up": 2}


def glyphs(font_file: Path) -> set[int]:
    with TTFont(str(font_file), fontNumber=0, lazy=True) as font:
        return set(font.getBestCmap())


def missing_glyphs(texts: list[str], font_file: Path) -> set[str]:
    have = glyphs(font_file)
    return {ch for text in texts for ch in text if not ch.isspace() and ord(ch) not in have}


async def test_every_glyph_of_the_monthly_chart_is_in_the_cjk_font(session, app):
    world = await make_world(session)
    digest = await build_digest(session, Scope(world.a.id, month_period("2026-11"), TZ, NOW, rules=RULES),
                                app.digest_sections)
    with in_locale(app, "zh"):
        spec = chart_spec(digest)
    figure = build_figure(spec)
    texts = figure_texts(figure)
    assert any("先锋指数" in t for t in texts) and any("李海波" in t for t in texts) and "每日学习" in texts
    assert cjk_font_path().name == "NotoSansCJKsc-Regular.otf"  # the OFL font, never SimHei
    assert missing_glyphs(texts, cjk_font_path()) == set()
    # the check can fail: matplotlib's own default font has none of these characters
    default_font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    assert {"月", "先", "锋"} <= missing_glyphs(texts, default_font)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)" for tofu boxes
        png = render_chart(spec)
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


async def test_monthly_excel_file_has_the_expected_sheets_and_rows(session, app):
    world = await make_world(session)
    scope = Scope(world.a.id, month_period("2026-11"), TZ, NOW, rules=RULES)
    digest = await build_digest(session, scope, app.digest_sections)
    with in_locale(app, "zh"):
        data = await workbook_bytes(session, app, digest)
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["汇总", "四不伤害报告", "隐患与整改", "每日学习", "积分", "提问"]
    rows = {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}
    assert ("成员", "2026-11 报告：已提交 2/4（50%）") not in rows["汇总"]  # summary: section title, plain text
    assert ("四不伤害报告与隐患", "2026-11 报告：已提交 2/4（50%）") in rows["汇总"]
    # a header row, then: 3 reports of branch A in 2026-11; 4 hazards (2+1+1); 4 members in the register and
    # on the points sheet (the admin aside); 5 questions — nothing of branch B
    assert {name: len(r) - 1 for name, r in rows.items() if name != "汇总"} == {
        "四不伤害报告": 3, "隐患与整改": 4, "每日学习": 4, "积分": 4, "提问": 5}
    register = book["每日学习"]
    assert register.freeze_panes == "A2"
    header = rows["每日学习"][0]
    assert header[:4] == ("成员", "已学习", "应学习", "学习率")
    assert isinstance(header[4], datetime) and header[4].date() == date(2026, 11, 9)  # the days: real dates
    assert len(header) == 4 + 10  # the 10 workdays with an item
    li = next(r for r in rows["每日学习"][1:] if r[0] == "李海波")
    assert li[1:4] == (10, 10, 1) and li[4 + 5 + 3] == "迟"  # the 19th studied on the 20th
    wang = next(r for r in rows["每日学习"][1:] if r[0] == "王强")
    assert wang[4 + 5:] == ("✓", "✗", "✗", "✗", "✗")
    assert register["D2"].number_format == "0%"
    assert rows["积分"][0] == ("排名", "成员", "合计", "每日学习", "按时报告", "发现隐患", "谈心谈话", "跟进落实")
    assert rows["积分"][1] == (1, "李海波", 15, 6, 5, 4, 0, 0)
    questions = rows["提问"][1]
    assert questions[0] == datetime(2026, 11, 10, 9, 0) and book["提问"]["A2"].number_format.startswith("yyyy-mm-dd")
    statuses = {row[2] for row in rows["四不伤害报告"][1:]}
    assert statuses == {"已通过", "待审核", "已退回"}
    hazard_row = next(r for r in rows["隐患与整改"][1:] if r[5] == "王强")
    assert hazard_row[6] == datetime(2026, 11, 20) and hazard_row[7] == "未完成"
    width = book["隐患与整改"].column_dimensions["C"].width  # 「李海波发现的隐患1」: 8 CJK + 1 digit
    assert width >= text_width("李海波发现的隐患1") == 17


def test_text_width_counts_chinese_characters_double():
    assert text_width("abc") == 3 and text_width("余山供电所") == 10 and text_width(date(2026, 11, 1)) == 10


def test_week_of_is_monday_to_sunday():
    week = week_of(date(2026, 11, 22))
    assert (week.start, week.end, week.label) == (date(2026, 11, 16), date(2026, 11, 23), "2026-W47")

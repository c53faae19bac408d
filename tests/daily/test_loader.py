"""Loading knowledge/daily/*.yaml: good items load, bad ones are reported with file and line."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.services.daily_items import KINDS, load_items, sync_items
from storage.models import DailyItem

REPO_DAILY = Path(__file__).resolve().parents[2] / "knowledge" / "daily"

GOOD = """\
- id: jl-001
  kind: 禁令
  text: |-
    严禁约时停电、约时送电。
  source: 《配电线路作业安全要点》2.2.2
  quiz:
    question: 约时停送电是否允许？
    options: ["允许", "不允许", "抢修时允许"]
    answer: b
    explanation: 任何情况下都禁止。

- id: ag-001
  kind: 安规
  text: 验电前先在有电设备上试验验电器。
"""

BAD = """\
- id: ok-1
  kind: 提示
  text: 这条是好的。

- id: bad-kind
  kind: 口号
  text: 类型不对。

- id: no-text
  kind: 禁令

- id: bad-quiz
  kind: 案例
  text: 选项太少。
  quiz:
    question: 对吗？
    options: ["对"]
    answer: A

- id: wrong-letter
  kind: 案例
  text: 答案字母越界。
  quiz:
    question: 对吗？
    options: ["对", "错"]
    answer: C

- just a string
- id: ok-2
  kind: 安规
  text: 这条也是好的。
  sourse: 拼写错误的字段
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_items_load_with_normalised_quiz(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    result = load_items(tmp_path)
    assert result.problems == []
    first, second = result.items
    assert (first.id, first.kind, first.text, first.source) == ("jl-001", "禁令", "严禁约时停电、约时送电。", "《配电线路作业安全要点》2.2.2")
    assert first.quiz == {"question": "约时停送电是否允许？", "options": ["允许", "不允许", "抢修时允许"],
                          "answer": "B", "explanation": "任何情况下都禁止。"}
    assert second.quiz is None and second.source is None


def test_bad_entries_are_reported_with_file_and_line_and_the_rest_load(tmp_path):
    write(tmp_path, "bad.yaml", BAD)
    result = load_items(tmp_path)
    assert [item.id for item in result.items] == ["ok-1", "ok-2"]
    problems = {(p.file, p.line, p.skipped): p.message for p in result.problems}
    assert any(line == 6 and "kind" in msg for (_, line, _s), msg in problems.items())  # the kind: line
    assert any(line == 9 and "text" in msg for (_, line, _s), msg in problems.items())  # no-text item starts at 9
    assert any(line == 17 and "options" in msg for (_, line, _s), msg in problems.items())  # the options: line
    assert any(line == 26 and "letters A, B" in msg for (_, line, _s), msg in problems.items())  # answer: C
    assert any(line == 28 and "mapping" in msg for (_, line, _s), msg in problems.items())  # "- just a string"
    warning = next(p for p in result.problems if not p.skipped)
    assert warning.line == 32 and "sourse" in warning.message and str(warning).startswith("bad.yaml:32:")
    assert all(p.file == "bad.yaml" for p in result.problems)


def test_a_broken_file_is_reported_and_other_files_still_load(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", "- id: x-1\n  kind: 禁令\n  text: [unclosed\n- id: x-2\n")
    result = load_items(tmp_path)
    assert [item.id for item in result.items] == ["jl-001", "ag-001"]
    (problem,) = result.problems
    assert problem.file == "b.yaml" and problem.line >= 3 and "YAML" in problem.message


def test_too_long_item_is_rejected_with_the_reason(tmp_path):
    long_text = "严" * 4097
    write(tmp_path, "long.yaml", f"- id: long-1\n  kind: 提示\n  text: {long_text}\n- id: near-limit\n  kind: 提示\n"
                                 f"  text: {'严' * 4050}\n- id: fine\n  kind: 提示\n  text: 短\n")
    result = load_items(tmp_path)
    assert [item.id for item in result.items] == ["fine"]
    messages = [p.message for p in result.problems]
    assert "4097 characters" in messages[0] and "4096" in messages[0] and result.problems[0].line == 3
    assert "would be about" in messages[1]  # fits alone, but not with the heading


def test_duplicate_ids_across_files_keep_the_first(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", "- id: jl-001\n  kind: 提示\n  text: 重复\n")
    result = load_items(tmp_path)
    assert [item.id for item in result.items] == ["jl-001", "ag-001"]
    assert "duplicate id 'jl-001'" in result.problems[0].message and "a.yaml:1" in result.problems[0].message


def test_shipped_item_files_are_valid_and_cover_every_kind():
    result = load_items(REPO_DAILY)
    assert result.problems == [], [str(p) for p in result.problems]
    assert len(result.items) >= 60
    assert {item.kind for item in result.items} == set(KINDS)


async def test_sync_adds_updates_and_retires_by_stable_id(session, tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    report = await sync_items(session, load_items(tmp_path).items)
    assert sorted(report.added) == ["ag-001", "jl-001"]
    write(tmp_path, "a.yaml", GOOD.replace("验电前先在有电设备上试验验电器。", "验电器先在有电设备上试验良好。").split("- id: jl-001")[0]
          + "- id: ag-001\n  kind: 安规\n  text: 验电器先在有电设备上试验良好。\n")
    report = await sync_items(session, load_items(tmp_path).items)
    assert (report.added, report.updated, report.retired) == ([], ["ag-001"], ["jl-001"])
    rows = {row.id: row for row in (await session.scalars(select(DailyItem))).all()}
    assert rows["jl-001"].active is False and rows["ag-001"].text == "验电器先在有电设备上试验良好。"

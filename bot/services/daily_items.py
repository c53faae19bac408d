"""Daily safety items: load and validate knowledge/daily/*.yaml, sync them into `daily_items`.

A file is a YAML list of items::

    - id: jl-001            # unique across files, stable (history refers to it)
      kind: 禁令            # 禁令 / 安规 / 案例 / 提示
      text: |-
        ……
      source: 《配电线路作业安全要点》3.2.1   # optional
      quiz:                                 # optional
        question: ……？
        options: ["……", "……", "……"]         # 2–4
        answer: B                           # letter of the correct option
        explanation: ……

Invalid entries are reported with file and line (from the YAML node marks) and skipped; the rest load.
No aiogram here: the CLI's `daily check` uses this without importing the bot.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DailyItem

KINDS = ("禁令", "安规", "案例", "提示")
FIELDS = {"id", "kind", "text", "source", "quiz"}
QUIZ_FIELDS = {"question", "options", "answer", "explanation"}
MESSAGE_LIMIT = 4096  # Telegram's message limit: an item must fit one message with its heading and quiz
HEADING_ALLOWANCE = 60  # the heading line, the source prefix and line breaks the push adds around the text
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    text: str
    source: str | None = None
    quiz: dict[str, Any] | None = None  # {"question", "options", "answer" (letter), "explanation"}
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str
    skipped: bool = True  # False: a warning, the item still loads

    def __str__(self) -> str:
        what = "skipped" if self.skipped else "warning"
        return f"{self.file}:{self.line}: {self.message} ({what})"


@dataclass
class LoadResult:
    items: list[Item] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0


def message_length(item: Item) -> int:
    """Characters of the pushed message (without the heading allowance): text, source and quiz."""
    size = len(item.text) + len(item.source or "")
    if item.quiz:
        size += len(item.quiz["question"]) + sum(len(option) + 4 for option in item.quiz["options"])
    return size


def load_items(folder: Path) -> LoadResult:
    """Load every *.yaml / *.yml file in `folder` (sorted by name)."""
    result = LoadResult()
    if not folder.is_dir():
        return result
    seen: dict[str, str] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        result.files += 1
        _load_file(path, folder, result, seen)
    return result


def check_upload(folder: Path, name: str, data: bytes) -> LoadResult:
    """Load an uploaded list as it would load beside the other files of `folder` (the file of the same name,
    which it would replace, left out), so duplicate ids across files are found before anything is written."""
    seen: dict[str, str] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []:
        if path.name != name:
            _load_file(path, folder, LoadResult(), seen)
    result = LoadResult(files=1)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        result.problems.append(Problem(name, 1, f"cannot read the file: {exc}"))
        return result
    _load_text(text, name, result, seen)
    return result


def _load_file(path: Path, folder: Path, result: LoadResult, seen: dict[str, str]) -> None:
    name = path.relative_to(folder).as_posix() if path.is_relative_to(folder) else path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        result.problems.append(Problem(name, 1, f"cannot read the file: {exc}"))
        return
    _load_text(text, name, result, seen)


def _load_text(text: str, name: str, result: LoadResult, seen: dict[str, str]) -> None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        result.problems.append(Problem(name, line, f"not valid YAML: {exc.problem or exc}; the whole file was skipped"))
        return
    if root is None:
        return  # an empty file
    if not isinstance(root, yaml.SequenceNode):
        result.problems.append(Problem(name, root.start_mark.line + 1, "the file must be a YAML list of items (- id: …)"))
        return
    constructor = yaml.SafeLoader("")
    for node in root.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            result.problems.append(Problem(name, line, "an item must be a mapping with id, kind, text"))
            continue
        lines = {key.value: key.start_mark.line + 1 for key, _ in node.value if isinstance(key, yaml.ScalarNode)}
        for key, value in node.value:  # quiz fields get their own lines, so a bad answer points at `answer:`
            if isinstance(key, yaml.ScalarNode) and key.value == "quiz" and isinstance(value, yaml.MappingNode):
                lines.update({f"quiz.{k.value}": k.start_mark.line + 1 for k, _ in value.value
                              if isinstance(k, yaml.ScalarNode)})
        try:
            data = constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            result.problems.append(Problem(name, line, f"cannot read this item: {exc}"))
            continue
        item = _validate(data, name, line, lines, result.problems)
        if item is None:
            continue
        if item.id in seen:
            result.problems.append(Problem(name, lines.get("id", line), f"duplicate id {item.id!r} (first in {seen[item.id]})"))
            continue
        seen[item.id] = f"{name}:{line}"
        result.items.append(item)


def _validate(data: dict, name: str, line: int, lines: dict[str, int], problems: list[Problem]) -> Item | None:
    def bad(message: str, key: str | None = None) -> None:
        problems.append(Problem(name, lines.get(key, line) if key else line, message))

    item_id = data.get("id")
    if not isinstance(item_id, str) or not _ID.match(item_id):
        bad("id must be 1–60 letters, digits, '.', '_' or '-' (e.g. jl-001)", "id")
        return None
    label = f"item {item_id}: "
    kind = data.get("kind")
    if kind not in KINDS:
        bad(label + f"kind must be one of {' / '.join(KINDS)}, not {kind!r}", "kind")
        return None
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        bad(label + "text is missing or empty", "text")
        return None
    text = text.strip()
    if len(text) > MESSAGE_LIMIT:
        bad(label + f"text is {len(text)} characters; a Telegram message holds at most {MESSAGE_LIMIT}: "
            "shorten it or split it into two items", "text")
        return None
    source = data.get("source")
    if source is not None and (not isinstance(source, str) or len(source) > 200):
        bad(label + "source must be text of at most 200 characters", "source")
        return None
    quiz = data.get("quiz")
    if quiz is not None:
        quiz = _validate_quiz(quiz, label, lambda message, key="quiz": bad(message, key if key in lines else "quiz"))
        if quiz is None:
            return None
    for key in sorted(set(data) - FIELDS):
        problems.append(Problem(name, lines.get(key, line), label + f"unknown field {key!r} ignored", skipped=False))
    item = Item(item_id, kind, text, source.strip() if source else None, quiz, name, line)
    size = message_length(item) + HEADING_ALLOWANCE
    if size > MESSAGE_LIMIT:
        bad(label + f"with its source and quiz the message would be about {size} characters; "
            f"Telegram allows {MESSAGE_LIMIT}", "text")
        return None
    return item


def _validate_quiz(quiz: object, label: str, bad) -> dict | None:
    if not isinstance(quiz, dict):
        bad(label + "quiz must be a mapping with question, options, answer, explanation")
        return None
    question, options = quiz.get("question"), quiz.get("options")
    answer, explanation = quiz.get("answer"), quiz.get("explanation")
    if not isinstance(question, str) or not question.strip():
        bad(label + "quiz.question is missing", "quiz.question")
        return None
    if not isinstance(options, list) or not 2 <= len(options) <= 4 or not all(
        isinstance(option, (str, int, float)) and str(option).strip() for option in options
    ):
        bad(label + "quiz.options must be a list of 2–4 non-empty answers", "quiz.options")
        return None
    letters = "ABCD"[: len(options)]
    if not isinstance(answer, str) or answer.strip().upper() not in letters:
        bad(label + f"quiz.answer must be one of the letters {', '.join(letters)}", "quiz.answer")
        return None
    if explanation is not None and not isinstance(explanation, str):
        bad(label + "quiz.explanation must be text", "quiz.explanation")
        return None
    unknown = set(quiz) - QUIZ_FIELDS
    if unknown:
        bad(label + f"quiz has unknown fields {sorted(unknown)}")
        return None
    return {
        "question": question.strip(),
        "options": [str(option).strip() for option in options],
        "answer": answer.strip().upper(),
        "explanation": (explanation or "").strip(),
    }


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


async def sync_items(session: AsyncSession, items: list[Item]) -> SyncReport:
    """Make `daily_items` match the files: insert new ids, update changed ones, retire removed ones.

    Retired items stay (past days and acknowledgements refer to them) but are no longer chosen. The
    order of use interleaves the kinds (禁令, 安规, 案例, 提示, 禁令, …) in file order within a kind."""
    report = SyncReport()
    existing = {row.id: row for row in (await session.scalars(select(DailyItem).where(DailyItem.origin == "list"))).all()}
    position: dict[str, int] = {}
    for item in items:
        index = position.get(item.kind, 0)
        position[item.kind] = index + 1
        seq = index * len(KINDS) + KINDS.index(item.kind)
        values = dict(kind=item.kind, text=item.text, source=item.source, quiz=item.quiz, seq=seq, active=True,
                      file=item.file)
        row = existing.pop(item.id, None) or await session.get(DailyItem, item.id)
        if row is None:
            session.add(DailyItem(id=item.id, origin="list", **values))
            report.added.append(item.id)
            continue
        changed = any(getattr(row, key) != value for key, value in values.items() if key != "seq") or row.origin != "list"
        for key, value in values.items():
            setattr(row, key, value)
        row.origin = "list"
        if changed:
            report.updated.append(item.id)
    for row in existing.values():
        if row.active:
            row.active = False
            report.retired.append(row.id)
    await session.flush()
    return report


async def load_and_sync(session: AsyncSession, folder: Path) -> tuple[LoadResult, SyncReport]:
    result = load_items(folder)
    report = await sync_items(session, result.items)
    return result, report

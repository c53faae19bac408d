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


# A problem's code → its English text (the CLI prints it; the chat shows the admin's language from the same
# code and params, handlers/kb.py DAILY_PROBLEMS). An item's problems are prefixed with "item ID: ".
MESSAGES = {
    "unreadable": "cannot read the file: {error}",
    "bad_yaml": "not valid YAML: {error}; the whole file was skipped",
    "not_a_list": "the file must be a YAML list of items (- id: …)",
    "not_a_mapping": "an item must be a mapping with id, kind, text",
    "bad_item": "cannot read this item: {error}",
    "duplicate_id": "duplicate id '{id}' (first in {first})",
    "bad_id": "id must be 1–60 letters, digits, '.', '_' or '-' (e.g. jl-001)",
    "bad_kind": "kind must be one of {kinds}, not {kind}",
    "no_text": "text is missing or empty",
    "text_too_long": "text is {length} characters; a Telegram message holds at most {limit}: shorten it or split it "
                     "into two items",
    "bad_source": "source must be text of at most 200 characters",
    "unknown_field": "unknown field '{field}' ignored",
    "message_too_long": "with its source and quiz the message would be about {length} characters; Telegram allows "
                        "{limit}",
    "quiz_not_mapping": "quiz must be a mapping with question, options, answer, explanation",
    "quiz_no_question": "quiz.question is missing",
    "quiz_bad_options": "quiz.options must be a list of 2–4 non-empty answers",
    "quiz_bad_answer": "quiz.answer must be one of the letters {letters}",
    "quiz_bad_explanation": "quiz.explanation must be text",
    "quiz_unknown_fields": "quiz has unknown fields {fields}",
    "no_items": "no items",
}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str  # in English (the CLI); `code` and `params` let the chat say it in the admin's language
    skipped: bool = True  # False: a warning, the item still loads
    code: str = ""
    params: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        what = "skipped" if self.skipped else "warning"
        return f"{self.file}:{self.line}: {self.message} ({what})"


def problem(file: str, line: int, code: str, *, skipped: bool = True, **params: object) -> Problem:
    """A problem with its English message made from MESSAGES[code] (prefixed "item ID: " when `item` is given)."""
    values = {key: str(value) for key, value in params.items()}
    message = MESSAGES[code].format(**values)
    if "item" in values:
        message = f"item {values['item']}: {message}"
    return Problem(file, line, message, skipped, code, tuple(values.items()))


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
        result.problems.append(problem(name, 1, "unreadable", error=exc))
        return result
    _load_text(text, name, result, seen)
    return result


def _load_file(path: Path, folder: Path, result: LoadResult, seen: dict[str, str]) -> None:
    name = path.relative_to(folder).as_posix() if path.is_relative_to(folder) else path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        result.problems.append(problem(name, 1, "unreadable", error=exc))
        return
    _load_text(text, name, result, seen)


def _load_text(text: str, name: str, result: LoadResult, seen: dict[str, str]) -> None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        result.problems.append(problem(name, line, "bad_yaml", error=exc.problem or exc))
        return
    if root is None:
        return  # an empty file
    if not isinstance(root, yaml.SequenceNode):
        result.problems.append(problem(name, root.start_mark.line + 1, "not_a_list"))
        return
    constructor = yaml.SafeLoader("")
    for node in root.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            result.problems.append(problem(name, line, "not_a_mapping"))
            continue
        lines = {key.value: key.start_mark.line + 1 for key, _ in node.value if isinstance(key, yaml.ScalarNode)}
        for key, value in node.value:  # quiz fields get their own lines, so a bad answer points at `answer:`
            if isinstance(key, yaml.ScalarNode) and key.value == "quiz" and isinstance(value, yaml.MappingNode):
                lines.update({f"quiz.{k.value}": k.start_mark.line + 1 for k, _ in value.value
                              if isinstance(k, yaml.ScalarNode)})
        try:
            data = constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            result.problems.append(problem(name, line, "bad_item", error=exc))
            continue
        item = _validate(data, name, line, lines, result.problems)
        if item is None:
            continue
        if item.id in seen:
            result.problems.append(problem(name, lines.get("id", line), "duplicate_id", id=item.id, first=seen[item.id]))
            continue
        seen[item.id] = f"{name}:{line}"
        result.items.append(item)


def _validate(data: dict, name: str, line: int, lines: dict[str, int], problems: list[Problem]) -> Item | None:
    item_id = data.get("id")

    def bad(code: str, key: str | None = None, **params: object) -> None:
        if isinstance(item_id, str) and _ID.match(item_id):
            params["item"] = item_id
        problems.append(problem(name, lines.get(key, line) if key else line, code, **params))

    if not isinstance(item_id, str) or not _ID.match(item_id):
        bad("bad_id", "id")
        return None
    kind = data.get("kind")
    if kind not in KINDS:
        bad("bad_kind", "kind", kinds=" / ".join(KINDS), kind=repr(kind))
        return None
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        bad("no_text", "text")
        return None
    text = text.strip()
    if len(text) > MESSAGE_LIMIT:
        bad("text_too_long", "text", length=len(text), limit=MESSAGE_LIMIT)
        return None
    source = data.get("source")
    if source is not None and (not isinstance(source, str) or len(source) > 200):
        bad("bad_source", "source")
        return None
    quiz = data.get("quiz")
    if quiz is not None:
        quiz = _validate_quiz(quiz, lambda code, key="quiz", **params: bad(code, key if key in lines else "quiz",
                                                                             **params))
        if quiz is None:
            return None
    for key in sorted(set(data) - FIELDS):
        problems.append(problem(name, lines.get(key, line), "unknown_field", skipped=False, item=item_id, field=key))
    item = Item(item_id, kind, text, source.strip() if source else None, quiz, name, line)
    size = message_length(item) + HEADING_ALLOWANCE
    if size > MESSAGE_LIMIT:
        bad("message_too_long", "text", length=size, limit=MESSAGE_LIMIT)
        return None
    return item


def _validate_quiz(quiz: object, bad) -> dict | None:
    if not isinstance(quiz, dict):
        bad("quiz_not_mapping")
        return None
    question, options = quiz.get("question"), quiz.get("options")
    answer, explanation = quiz.get("answer"), quiz.get("explanation")
    if not isinstance(question, str) or not question.strip():
        bad("quiz_no_question", "quiz.question")
        return None
    if not isinstance(options, list) or not 2 <= len(options) <= 4 or not all(
        isinstance(option, (str, int, float)) and str(option).strip() for option in options
    ):
        bad("quiz_bad_options", "quiz.options")
        return None
    letters = "ABCD"[: len(options)]
    if not isinstance(answer, str) or answer.strip().upper() not in letters:
        bad("quiz_bad_answer", "quiz.answer", letters=", ".join(letters))
        return None
    if explanation is not None and not isinstance(explanation, str):
        bad("quiz_bad_explanation", "quiz.explanation")
        return None
    unknown = set(quiz) - QUIZ_FIELDS
    if unknown:
        bad("quiz_unknown_fields", fields=sorted(unknown))
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

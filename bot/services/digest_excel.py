"""The digest's Excel file (openpyxl): a summary sheet first, then one sheet per record type.

Frozen header rows, dates as real dates (datetimes as local wall-clock times), and column widths fitted
to the text — a Chinese character is about two Latin characters wide, which openpyxl does not know, so we
measure with the East Asian width (unicodedata). CPU and disk work: call `write_workbook` in a thread.
"""
from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bot.services.digest import Label, Share, Sheet

MAX_WIDTH = 60  # characters; longer texts wrap in Excel instead of making one huge column
SHEET_NAME_MAX = 31  # Excel's limit


def text_width(value: Any) -> int:
    """Display width of a value in 'Latin characters' (CJK full-width characters count two)."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if isinstance(value, Share):
        return 5
    text = str(value)
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def write_workbook(summary: list[tuple[str, str]], sheets: Iterable[Sheet], translate: Callable[[str], str],
                   summary_title: str) -> bytes:
    """The .xlsx as bytes: `summary` (already translated label/value pairs) first, then every sheet."""
    workbook = Workbook(write_only=True)  # streams rows: a year of a big branch stays small in memory
    _write(workbook, summary_title, ["", ""], [list(row) for row in summary], header=False)
    used = {summary_title[:SHEET_NAME_MAX]}
    for sheet in sheets:
        name = _unique(translate(sheet.title)[:SHEET_NAME_MAX], used)
        rows = [[translate(v.msgid) if isinstance(v, Label) else v for v in row] for row in sheet.rows]
        _write(workbook, name, [translate(c) if isinstance(c, str) else c for c in sheet.columns], rows, header=True)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 2
    while candidate in used:
        candidate = f"{name[:SHEET_NAME_MAX - 3]}({n})"
        n += 1
    used.add(candidate)
    return candidate


def _write(workbook: Workbook, name: str, columns: list[str], rows: list[list[Any]], header: bool) -> None:
    worksheet = workbook.create_sheet(name)
    widths = [text_width(c) for c in columns] if header else [0] * max([len(r) for r in rows] + [len(columns)])
    for row in rows:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], text_width(value))
    for index, width in enumerate(widths, start=1):  # must be set before the first row in write-only mode
        worksheet.column_dimensions[get_column_letter(index)].width = min(MAX_WIDTH, width + 2)
    if header:
        worksheet.freeze_panes = "A2"
        bold = Font(bold=True)
        worksheet.append([_styled(worksheet, c, bold) for c in columns])
    for row in rows:  # openpyxl gives date and datetime cells real date formats itself
        worksheet.append([_percent(worksheet, v) if isinstance(v, Share) else v for v in row])


def _percent(worksheet, value: Share) -> WriteOnlyCell:
    cell = WriteOnlyCell(worksheet, value=value)
    cell.number_format = "0%"
    return cell


def _styled(worksheet, value: Any, font: Font) -> WriteOnlyCell:
    cell = WriteOnlyCell(worksheet, value=value)
    cell.font = font
    return cell


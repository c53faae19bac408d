"""Numbers and ids typed by users or carried by buttons, parsed in one place.

`str.isdigit()` is true for "²" and "١٢" (which `int()` rejects or reads as 12), and Python ints have no upper
bound while the database columns do; every id or count from outside goes through here."""
from __future__ import annotations

import re
from datetime import date, timedelta

ROW_ID_MAX = 2**31 - 1  # our primary keys are INTEGER on PostgreSQL (SQLite's are 64-bit: this fits both)
BIGINT_MAX = 2**63 - 1  # Telegram ids, stored as BIGINT
_ASCII_INT = re.compile(r"-?[0-9]{1,19}")


def is_ascii_number(text: str | None) -> bool:
    """ASCII digits only (an optional minus sign), after trimming spaces."""
    return bool(_ASCII_INT.fullmatch((text or "").strip()))


def parse_int(text: str | None, *, lo: int, hi: int) -> int | None:
    """The integer `text` spells in ASCII digits, if it lies in [lo, hi]; else None."""
    if not is_ascii_number(text):
        return None
    value = int(text.strip())
    return value if lo <= value <= hi else None


def parse_id(text: str | None) -> int | None:
    """A row id (1 … ROW_ID_MAX) typed by a user, or None."""
    return parse_int(text, lo=1, hi=ROW_ID_MAX)


def strict_int(value: object) -> object:
    """Pydantic before-validator for numbers in callback data: accepts ASCII digits only (pydantic alone
    would also accept " 12", "1_0", "+5" and "12.0"); ranges are checked by the field's own bounds."""
    if isinstance(value, str):
        if not _ASCII_INT.fullmatch(value):
            raise ValueError(f"not an integer: {value[:24]!r}")
        return int(value)
    return value


HALF_YEAR = timedelta(days=183)
_RELATIVE = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2, "today": 0, "yesterday": 1}
_FULL = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_SHORT = re.compile(r"(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")


def parse_day(text: str, today: date, future: bool = False) -> date | None:
    """A typed date: 2026-11-18, 2026/11/18, 2026年11月18日, 11-18, 11月18日, 今天, 昨天, 前天.

    A date without a year is this year's, except across New Year: more than half a year ahead is last year's
    (in January, 12-30 is the talk of last week), more than half a year back is next year's when the question
    asks for a day ahead (a due date). A day on the wrong side is kept, so the caller can say what is wrong
    with it. None when it is no date at all."""
    text = (text or "").strip().lower()
    if text in _RELATIVE:
        return today - timedelta(days=_RELATIVE[text])
    try:
        if match := _FULL.fullmatch(text):
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if match := _SHORT.fullmatch(text):
            month, day = int(match.group(1)), int(match.group(2))
            guess = date(today.year, month, day)
            if future and guess < today - HALF_YEAR:
                guess = date(today.year + 1, month, day)
            elif not future and guess > today + HALF_YEAR:
                guess = date(today.year - 1, month, day)
            return guess
    except ValueError:  # 2026-02-30 and the like
        return None
    return None

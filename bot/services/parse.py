"""Numbers and ids typed by users or carried by buttons, parsed in one place.

`str.isdigit()` is true for "²" and "١٢" (which `int()` rejects or reads as 12), and Python ints have no upper
bound while the database columns do; every id or count from outside goes through here."""
from __future__ import annotations

import re

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

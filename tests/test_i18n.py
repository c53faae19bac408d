"""Every user-facing string used in code is translated in both catalogs, and catalogs compile."""
from __future__ import annotations

from pathlib import Path

from bot.i18n import compile_catalogs, missing_translations

ROOT = Path(__file__).resolve().parents[1]


def test_every_msgid_has_chinese_and_english_translations():
    missing = missing_translations([ROOT / "handlers", ROOT / "bot", ROOT / "schedulers"])
    assert missing == {"zh": [], "en": []}


def test_catalogs_compile_to_mo_files():
    target = compile_catalogs()
    for locale in ("zh", "en"):
        assert (target / locale / "LC_MESSAGES" / "messages.mo").stat().st_size > 100

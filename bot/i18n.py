"""Translations: gettext catalogs per capability, merged and compiled at start.

Each capability keeps its own `locales/<lang>/LC_MESSAGES/<capability>.po` so features can be added
without editing one shared file; at start they are merged into the `messages` domain aiogram's I18n reads.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SOURCE_DIR = Path(__file__).with_name("locales")
LOCALES = ("zh", "en")
DOMAIN = "messages"


def merged_catalog(locale: str, source: Path = SOURCE_DIR) -> Catalog:
    catalog = Catalog(locale=locale, domain=DOMAIN)
    for po_file in sorted((source / locale / "LC_MESSAGES").glob("*.po")):
        with po_file.open("rb") as handle:
            for message in read_po(handle, locale=locale):
                if message.id and message.string:
                    catalog[message.id] = message
    return catalog


def compile_catalogs(source: Path = SOURCE_DIR) -> Path:
    """Write `<lang>/LC_MESSAGES/messages.mo` for every locale; returns the folder to give aiogram's I18n."""
    target = source if _writable(source) else Path(tempfile.mkdtemp(prefix="fieldmate-locales-"))
    for locale in LOCALES:
        out = target / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as handle:
            write_mo(handle, merged_catalog(locale, source))
    return target


def _writable(path: Path) -> bool:
    try:
        probe = path / ".write-probe"
        probe.touch()
        probe.unlink()
        return True
    except OSError:
        return False

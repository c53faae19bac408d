"""Translations: gettext catalogs per capability, merged and compiled at start.

Each capability keeps its own `locales/<lang>/LC_MESSAGES/<capability>.po` so features can be added
without editing one shared file; at start they are merged into the `messages` domain aiogram's I18n reads.
"""
from __future__ import annotations

import os
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
        partial = out.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as handle:
            write_mo(handle, merged_catalog(locale, source))
        partial.replace(out)  # atomic: a bot starting meanwhile never reads half a catalog
    return target


def _writable(path: Path) -> bool:
    try:
        probe = path / ".write-probe"
        probe.touch()
        probe.unlink()
        return True
    except OSError:
        return False


def extract_msgids(*roots: Path) -> dict[str, str]:
    """msgid → "file:line" for every _()/__() call under the given source folders (for the catalog check)."""
    from babel.messages.extract import extract_from_file

    found: dict[str, str] = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            for lineno, message, _comments, _context in extract_from_file(
                "python", str(path), keywords={"_": None, "__": None, "gettext": None, "lazy_gettext": None}
            ):
                if isinstance(message, str):
                    found.setdefault(message, f"{path}:{lineno}")
    return found


def missing_translations(roots: list[Path], source: Path = SOURCE_DIR) -> dict[str, list[str]]:
    """Per locale, the msgids used in code that its merged catalog does not translate."""
    used = extract_msgids(*roots)
    report = {}
    for locale in LOCALES:
        catalog = merged_catalog(locale, source)
        report[locale] = sorted(msgid for msgid in used if msgid not in catalog)
    return report


def write_catalog(name: str, translations: dict[str, str], source: Path = SOURCE_DIR) -> None:
    """Write `<lang>/LC_MESSAGES/<name>.po` for zh (the given translations) and en (msgid = English text).

    `python -m bot.i18n NAME pairs.json` — pairs.json maps each English msgid to its Chinese text."""
    from babel.messages.pofile import write_po

    for locale in LOCALES:
        catalog = Catalog(locale=locale, domain=name, project="fieldmate")
        for msgid, chinese in translations.items():
            catalog.add(msgid, chinese if locale == "zh" else msgid)
        out = source / locale / "LC_MESSAGES" / f"{name}.po"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as handle:
            write_po(handle, catalog, width=0)


def read_translations(name: str, source: Path = SOURCE_DIR) -> dict[str, str]:
    """The zh translations of one capability's catalog, to extend and write back."""
    path = source / "zh" / "LC_MESSAGES" / f"{name}.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        return {message.id: message.string for message in read_po(handle, locale="zh") if message.id}


if __name__ == "__main__":
    import json
    import sys

    capability, pairs_file = sys.argv[1], sys.argv[2]
    merged = read_translations(capability) | json.loads(Path(pairs_file).read_text(encoding="utf-8"))
    write_catalog(capability, merged)
    print(f"wrote {capability}.po for {', '.join(LOCALES)} ({len(merged)} messages)")

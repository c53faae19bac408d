"""Translations: gettext catalogs per capability, merged and compiled at start.

Each capability keeps its own `locales/<lang>/LC_MESSAGES/<capability>.po` so features can be added
without editing one shared file; at start they are merged into the `messages` domain aiogram's I18n reads.

Plurals: a message whose wording depends on a number ("1 member", "2 members") has a tuple id
(singular, plural) and one translation per plural form of the language: zh has one form (nplurals=1),
en two (nplurals=2, plural=(n != 1)). In code it is `ngettext(singular, plural, n)` (aiogram's), a
`plural_template(singular, plural, n="count")` where the number is known only when the text is formatted
(error messages, reminders), or `plural_fact` in the digest (bot/services/digest.py).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dataclasses import dataclass
from typing import Any

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SOURCE_DIR = Path(__file__).with_name("locales")
LOCALES = ("zh", "en")
DOMAIN = "messages"

MessageId = str | tuple[str, str]  # a plural message's id is (singular, plural)

# the gettext functions whose string arguments are msgids: None = the first argument, (1, 2) = a plural pair
KEYWORDS: dict[str, Any] = {
    "_": None, "__": None, "gettext": None, "lazy_gettext": None,
    "ngettext": (1, 2), "lazy_ngettext": (1, 2), "plural_template": (1, 2), "plural_fact": (1, 2),
}


@dataclass(frozen=True)
class PluralTemplate:
    """A plural message whose number is known only when it is formatted: `params[n]` picks the form.

    For tables of templates (error messages, reminders) that are otherwise lazy `__("…")` texts; render
    both kinds with `fill(template, **params)`."""

    singular: str
    plural: str
    n: str = "count"

    def format(self, **params: Any) -> str:
        from aiogram.utils.i18n import ngettext

        return ngettext(self.singular, self.plural, int(params[self.n])).format(**params)


def plural_template(singular: str, plural: str, n: str = "count") -> PluralTemplate:
    return PluralTemplate(singular, plural, n)


def fill(template: Any, **params: Any) -> str:
    """A lazy text or a `PluralTemplate` in the current locale, with its `{placeholders}` filled."""
    if isinstance(template, PluralTemplate):
        return template.format(**params)
    return str(template).format(**params)


def is_translated(message: Message, num_plurals: int) -> bool:
    """A singular message needs its text; a plural one every form its language has, and no more."""
    if isinstance(message.id, tuple):
        forms = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        return len(forms) == num_plurals and all(forms)
    return bool(message.string)


def merged_catalog(locale: str, source: Path = SOURCE_DIR) -> Catalog:
    """Every capability's translations for one language; a file whose Plural-Forms header disagrees with
    the language's (zh: one form, en: two) is refused, as its plural messages would select wrongly."""
    catalog = Catalog(locale=locale, domain=DOMAIN)
    for po_file in sorted((source / locale / "LC_MESSAGES").glob("*.po")):
        with po_file.open("rb") as handle:
            parsed = read_po(handle, locale=locale)
        if parsed.plural_forms != catalog.plural_forms:
            raise ValueError(f"{po_file}: Plural-Forms is {parsed.plural_forms!r}; "
                             f"{locale} needs {catalog.plural_forms!r}")
        for message in parsed:
            if message.id and is_translated(message, catalog.num_plurals):
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


def extract_msgids(*roots: Path) -> dict[MessageId, str]:
    """msgid → "file:line" for every gettext call under the given source folders (for the catalog check);
    a plural call's msgid is the (singular, plural) pair."""
    from babel.messages.extract import extract_from_file

    found: dict[MessageId, str] = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            for lineno, message, _comments, _context in extract_from_file("python", str(path), keywords=KEYWORDS):
                if isinstance(message, str) or (
                        isinstance(message, tuple) and len(message) == 2 and all(isinstance(m, str) for m in message)):
                    found.setdefault(message, f"{path}:{lineno}")
    return found


def missing_translations(roots: list[Path], source: Path = SOURCE_DIR) -> dict[str, list[MessageId]]:
    """Per locale, the msgids used in code that its merged catalog does not translate. A plural msgid
    counts as translated only as the same (singular, plural) pair with every form of the language filled:
    a singular entry with the same text would be no plural at all."""
    used = extract_msgids(*roots)
    report = {}
    for locale in LOCALES:
        catalog = merged_catalog(locale, source)
        report[locale] = sorted((msgid for msgid in used if _untranslated(catalog, msgid)), key=_sort_key)
    return report


def _untranslated(catalog: Catalog, msgid: MessageId) -> bool:
    message = catalog.get(msgid)
    return message is None or message.id != msgid


def _sort_key(msgid: MessageId) -> tuple[str, str]:
    return (msgid, "") if isinstance(msgid, str) else msgid


def write_catalog(name: str, translations: dict[MessageId, str], source: Path = SOURCE_DIR) -> None:
    """Write `<lang>/LC_MESSAGES/<name>.po` for zh (the given translations) and en (msgid = English text).

    A (singular, plural) key is a plural message: zh gets its one form, en the two English forms.
    `python -m bot.i18n NAME pairs.json` — pairs.json maps each English msgid to its Chinese text, or a
    singular msgid to {"plural": "…", "zh": "…"} for a plural message."""
    from babel.messages.pofile import write_po

    for locale in LOCALES:
        catalog = Catalog(locale=locale, domain=name, project="fieldmate")
        for msgid, chinese in translations.items():
            if isinstance(msgid, tuple):
                catalog.add(msgid, (chinese,) if locale == "zh" else msgid)
            else:
                catalog.add(msgid, chinese if locale == "zh" else msgid)
        out = source / locale / "LC_MESSAGES" / f"{name}.po"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as handle:
            write_po(handle, catalog, width=0)


def read_translations(name: str, source: Path = SOURCE_DIR) -> dict[MessageId, str]:
    """The zh translations of one capability's catalog, to extend and write back."""
    path = source / "zh" / "LC_MESSAGES" / f"{name}.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        return {message.id: message.string[0] if isinstance(message.string, (tuple, list)) else message.string
                for message in read_po(handle, locale="zh") if message.id}


def pairs_from_json(data: dict[str, Any]) -> dict[MessageId, str]:
    """pairs.json's entries as `write_catalog` takes them: {"plural": …, "zh": …} values are plural messages."""
    return {(msgid, value["plural"]) if isinstance(value, dict) else msgid:
            value["zh"] if isinstance(value, dict) else value for msgid, value in data.items()}


if __name__ == "__main__":
    import json
    import sys

    capability, pairs_file = sys.argv[1], sys.argv[2]
    merged = read_translations(capability) | pairs_from_json(json.loads(Path(pairs_file).read_text(encoding="utf-8")))
    write_catalog(capability, merged)
    print(f"wrote {capability}.po for {', '.join(LOCALES)} ({len(merged)} messages)")

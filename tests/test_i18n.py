"""Every user-facing string used in code is translated in both catalogs, and catalogs compile; plural
messages (「1 member」, 「2 members」) have every form their language needs and select correctly."""
from __future__ import annotations

import gettext
import json
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import (
    LOCALES,
    compile_catalogs,
    merged_catalog,
    missing_translations,
    pairs_from_json,
    read_translations,
    write_catalog,
)

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "bot" / "locales"

HEADER = {
    "zh": 'msgid ""\nmsgstr ""\n"Language: zh\\n"\n"Plural-Forms: nplurals=1; plural=0;\\n"\n'
          '"Content-Type: text/plain; charset=utf-8\\n"\n\n',
    "en": 'msgid ""\nmsgstr ""\n"Language: en\\n"\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n'
          '"Content-Type: text/plain; charset=utf-8\\n"\n\n',
}
CODE = '''
from aiogram.utils.i18n import gettext as _, ngettext
_("Hello")
ngettext("{count} apple", "{count} apples", n)
'''
HELLO = 'msgid "Hello"\nmsgstr "{}"\n\n'


def test_every_msgid_has_chinese_and_english_translations():
    missing = missing_translations([ROOT / "handlers", ROOT / "bot", ROOT / "schedulers"])
    assert missing == {"zh": [], "en": []}


def test_catalogs_compile_to_mo_files():
    target = compile_catalogs()
    for locale in ("zh", "en"):
        assert (target / locale / "LC_MESSAGES" / "messages.mo").stat().st_size > 100


def test_every_catalog_file_declares_its_languages_plural_forms():
    for locale in LOCALES:
        expected = merged_catalog(locale).plural_forms
        assert expected == {"zh": "nplurals=1; plural=0;", "en": "nplurals=2; plural=(n != 1);"}[locale]
        for po_file in (SOURCE / locale / "LC_MESSAGES").glob("*.po"):
            with po_file.open("rb") as handle:
                assert read_po(handle, locale=locale).plural_forms == expected, po_file


def test_compiled_catalogs_select_the_plural_form_by_number(tmp_path):
    shutil.copytree(SOURCE, tmp_path / "locales", ignore=shutil.ignore_patterns("*.mo"))
    target = compile_catalogs(tmp_path / "locales")
    forms = {}
    for locale in LOCALES:
        with (target / locale / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
            catalog = gettext.GNUTranslations(handle)
        forms[locale] = [catalog.ngettext("{count} member", "{count} members", n) for n in (1, 2, 0)]
    assert forms == {"en": ["{count} member", "{count} members", "{count} members"], "zh": ["{count} 人"] * 3}


def _project(tmp_path: Path, zh_apples: str, en_apples: str) -> tuple[list[Path], Path]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "module.py").write_text(CODE, encoding="utf-8")
    for locale, apples in (("zh", zh_apples), ("en", en_apples)):
        folder = tmp_path / "locales" / locale / "LC_MESSAGES"
        folder.mkdir(parents=True)
        hello = HELLO.format("你好" if locale == "zh" else "Hello")
        (folder / "fruit.po").write_text(HEADER[locale] + hello + apples, encoding="utf-8")
    return [code], tmp_path / "locales"


APPLES = 'msgid "{count} apple"\nmsgid_plural "{count} apples"\n'


def test_complete_plural_translations_are_not_reported(tmp_path):
    roots, source = _project(tmp_path, APPLES + 'msgstr[0] "{count} 个苹果"\n',
                             APPLES + 'msgstr[0] "{count} apple"\nmsgstr[1] "{count} apples"\n')
    assert missing_translations(roots, source) == {"zh": [], "en": []}


def test_a_missing_plural_form_is_reported(tmp_path):
    roots, source = _project(tmp_path, APPLES + 'msgstr[0] ""\n',  # no Chinese
                             APPLES + 'msgstr[0] "{count} apple"\nmsgstr[1] ""\n')  # no English plural
    apples = ("{count} apple", "{count} apples")
    assert missing_translations(roots, source) == {"zh": [apples], "en": [apples]}


def test_a_plural_msgid_translated_only_as_a_singular_message_is_reported(tmp_path):
    roots, source = _project(tmp_path, 'msgid "{count} apple"\nmsgstr "{count} 个苹果"\n',
                             APPLES + 'msgstr[0] "{count} apple"\nmsgstr[1] "{count} apples"\n')
    assert missing_translations(roots, source) == {"zh": [("{count} apple", "{count} apples")], "en": []}


def test_a_catalog_with_the_wrong_plural_forms_is_refused(tmp_path):
    roots, source = _project(tmp_path, "", "")
    wrong = HEADER["en"].replace("nplurals=2; plural=(n != 1);", "nplurals=1; plural=0;")
    (source / "en" / "LC_MESSAGES" / "fruit.po").write_text(wrong, encoding="utf-8")
    with pytest.raises(ValueError, match="Plural-Forms"):
        merged_catalog("en", source)


def test_write_catalog_writes_plural_messages_for_both_languages(tmp_path):
    pairs = pairs_from_json(json.loads('{"Hello": "你好", "{count} pear": {"plural": "{count} pears", "zh": "{count} 个梨"}}'))
    assert pairs == {"Hello": "你好", ("{count} pear", "{count} pears"): "{count} 个梨"}
    write_catalog("fruit", pairs, tmp_path)
    assert read_translations("fruit", tmp_path) == pairs
    zh, en = merged_catalog("zh", tmp_path), merged_catalog("en", tmp_path)
    assert zh.get(("{count} pear", "{count} pears")).string == ("{count} 个梨",)
    assert en.get(("{count} pear", "{count} pears")).string == ("{count} pear", "{count} pears")

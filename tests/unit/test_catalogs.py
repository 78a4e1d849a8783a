"""The translation catalogs are complete and consistent with the code (docs/i18n.md#catalogs).

The texts marked in the code are extracted here with Babel's own extractor and the project's
``babel.cfg`` (what ``make i18n-extract`` does), independently of the committed template, so a
text added to the code and not to the catalogs fails this test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.plural import PluralRule

from travelsim import i18n

ROOT = Path(__file__).resolve().parents[2]
OTHERS = [loc for loc in i18n.LOCALES if loc != i18n.DEFAULT]
_FIELD = re.compile(r"\{(\w*)\}")


def _extracted() -> set[str | tuple[str, str]]:
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    out: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        out.add(message if isinstance(message, str) else (message[0], message[1]))
    return out


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with (i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=locale)


@pytest.fixture(scope="module")
def extracted() -> set[str | tuple[str, str]]:
    found = _extracted()
    assert len(found) > 40  # the extractor did read the code
    return found


@pytest.mark.parametrize("locale", OTHERS)
def test_every_marked_text_is_translated(locale: str, extracted: set) -> None:  # type: ignore[type-arg]
    catalog = _catalog(locale)
    assert not catalog.fuzzy, f"{locale}: the catalog header is marked fuzzy"
    missing, untranslated, fuzzy = [], [], []
    for text in extracted:
        key = text if isinstance(text, str) else text[0]
        message = catalog.get(key)
        if message is None:
            missing.append(key)
        elif message.fuzzy:
            fuzzy.append(key)
        elif not all(message.string if isinstance(message.string, tuple) else [message.string]):
            untranslated.append(key)
    assert not missing, f"{locale}: not in the catalog (make i18n-update): {missing}"
    assert not untranslated, f"{locale}: no translation: {untranslated}"
    assert not fuzzy, f"{locale}: fuzzy (to review): {fuzzy}"


@pytest.mark.parametrize("locale", OTHERS)
def test_translations_keep_the_placeholders_and_the_plural_rule(locale: str) -> None:
    catalog = _catalog(locale)
    # The plural rule is CLDR's for the language (Babel's data), with one form per category.
    rule = PluralRule.parse(catalog.locale.plural_form.rules)
    assert catalog.num_plurals == len(rule.tags | {"other"})
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = {f for msgid in ids for f in _FIELD.findall(msgid)}
        for s in strings:
            assert set(_FIELD.findall(s)) == wanted, (locale, message.id, s)
        if isinstance(message.id, tuple):
            assert len(strings) == catalog.num_plurals, (locale, message.id)


@pytest.mark.parametrize("locale", OTHERS)
def test_each_catalog_names_its_translator_and_review_state(locale: str) -> None:
    header = (i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").read_text()[:1000]
    assert re.search(r"^# Translator: .+", header, re.M), header
    assert re.search(r"^# Review state: .+", header, re.M), header


def test_no_catalog_holds_a_text_the_code_no_longer_has(extracted: set) -> None:  # type: ignore[type-arg]
    keys = {t if isinstance(t, str) else t[0] for t in extracted}
    for locale in OTHERS:
        stale = [
            m.id
            for m in _catalog(locale)
            if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in keys
        ]
        assert not stale, f"{locale}: obsolete entries (make i18n-update): {stale}"

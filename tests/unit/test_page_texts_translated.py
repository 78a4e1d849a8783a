"""Every static text of every traveler page is translated (docs/i18n.md#catalogs).

Each traveler page is built twice, in English and in another language, the way the app builds
it (``i18n.compiled_in``), and the texts each copy would show are read off its component tree:
the children's text and the text attributes (placeholder, aria-label, title, alt, label,
the column name a phone shows before a table cell), with
the string literals inside conditional and formatted Vars. A text that comes out identical in
both copies was either never marked for translation or is missing from that language's
catalog; it passes only when the catalog holds it as a msgid translated to the same words
(French "Total", say) or when it is listed below as a name that is never translated.

Texts made at run time by the states (errors, figures) are not in the tree; the catalog test
(``test_catalogs.py``) checks that every marked one is translated."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest
from babel.messages.pofile import read_po
from reflex.components.base.bare import Bare
from reflex.components.component import Component
from reflex.vars.base import Var

from travelsim import i18n

#: Shown the same in every language, and why.
NEVER_TRANSLATED = {
    "TravelSIM": "the brand",
    "English": "a language's own name (the switcher shows each in its own language)",
    "Français": "a language's own name",
    "Deutsch": "a language's own name",
    "Español": "a language's own name",
    "Admin": "the staff link: staff pages stay English (docs/i18n.md)",
    "ICCID": "a field term",
    "iPhone": "a product name",
    "Android": "a product name",
    "EUR": "an ISO 4217 currency code (the currency menu)",
    "USD": "an ISO 4217 currency code",
    "GBP": "an ISO 4217 currency code",
    "Euro": "a currency's CLDR name (the currency menu): German writes it as English does",
}
#: Pages whose texts are not converted yet (docs/i18n.md#what-is-translated-so-far). Each is
#: expected to fail here; once a page is converted its test passes, strict xfail turns that
#: into a failure, and the page must come off this list.
NOT_CONVERTED_YET: set[str] = set()
#: Component attributes that hold text a traveler sees or a screen reader reads.
TEXT_PROPS = ("placeholder", "aria_label", "title", "alt", "label")
_JS_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
#: A lone lower-case word is a data key (``item["price"]``) in a Var, not a text.
_KEY = re.compile(r"[a-z_][a-z0-9_]*")


def _literals(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Var):
        for token in _JS_STRING.findall(str(value)):
            try:
                yield json.loads(token)
            except ValueError:
                continue


def _texts(component: object, out: set[str]) -> set[str]:
    if isinstance(component, Bare):
        out.update(_literals(component.contents))
    if isinstance(component, Component):
        for name in TEXT_PROPS:
            out.update(_literals(getattr(component, name, None)))
        for name, value in (component.custom_attrs or {}).items():
            if name.replace("-", "_").lower() in {
                "aria_label",
                "title",
                "alt",
                "placeholder",
                "data_label",
            }:
                out.update(_literals(value))
    for child in getattr(component, "children", None) or []:
        _texts(child, out)
    return out


def _words(text: str) -> bool:
    return bool(re.search(r"[A-Za-z]{3,}", text)) and not _KEY.fullmatch(text.strip())


def _page_texts(page: Callable[[], Component], locale: str) -> set[str]:
    return {t for t in _texts(i18n.compiled_in(locale, page)(), set()) if _words(t)}


def _translated_alike(locale: str) -> set[str]:
    """The msgids ``locale``'s catalog translates to the very same words (French "Total")."""
    path = i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    return {m.id for m in catalog if isinstance(m.id, str) and m.id and m.string == m.id}


def _pages() -> list[object]:
    from travelsim.travelsim import PAGES

    return [
        pytest.param(
            route,
            page,
            id=route,
            marks=[pytest.mark.xfail(strict=True, reason="not converted yet")]
            if route in NOT_CONVERTED_YET
            else [],
        )
        for page, route, _title, _on_load in PAGES
    ]


@pytest.mark.parametrize("locale", [loc for loc in i18n.LOCALES if loc != i18n.DEFAULT])
@pytest.mark.parametrize(("route", "page"), _pages())
def test_page_shows_no_untranslated_text(
    route: str, page: Callable[[], Component], locale: str
) -> None:
    english = _page_texts(page, i18n.DEFAULT)
    assert len(english) >= 3, f"{route}: the walk found no texts on the English page"
    same = _page_texts(page, locale) & english
    translated_alike = _translated_alike(locale)
    left = sorted(
        t
        for t in same
        if t.strip(" ()·:") not in NEVER_TRANSLATED and t.strip() not in translated_alike
    )
    assert not left, f"{route} in {locale}: shown in English: {left}"

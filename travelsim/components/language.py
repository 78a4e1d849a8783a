"""The language switcher and the document's language, on every traveler page.

Both are built while a page is compiled in one language (``travelsim.i18n.current``), so they
cost nothing at run time. The switcher's entries are plain links to ``/lang/{locale}``
(``travelsim.routes.locale.switch_language``), a full page load that remembers the choice and
returns to the same page in that language (docs/i18n.md#choosing-the-language).
:func:`document_lang` keeps ``<html lang>`` right when the traveler moves between pages
inside the app (the server sets it on a page's first load).
"""

from __future__ import annotations

import reflex as rx
from reflex.vars.base import Var
from reflex_base.utils.imports import ImportDict, ImportVar

from travelsim import i18n
from travelsim.i18n import _

_JS = """
function TravelsimDocumentLang({ lang }) {
  useEffect(() => {
    if (document.documentElement.lang !== lang) document.documentElement.lang = lang;
  }, [lang]);
  return null;
}
"""


class DocumentLang(rx.Component):
    """``<TravelsimDocumentLang lang=…/>``: sets ``document.documentElement.lang``; renders
    nothing."""

    tag = "TravelsimDocumentLang"

    lang: Var[str]

    def add_imports(self) -> ImportDict:
        return {"react": [ImportVar(tag="useEffect")]}

    def add_custom_code(self) -> list[str]:
        return [_JS]


def document_lang() -> rx.Component:
    """The page's language as the document's (the language the page is compiled in)."""
    return DocumentLang.create(lang=i18n.current())


def _choice(locale: str, testid: str, **props: object) -> rx.Component:
    here = locale == i18n.current()
    return rx.el.a(
        i18n.endonym(locale),
        href=f"/lang/{locale}",
        lang=locale,
        aria_current="true" if here else None,
        # A full page load of the switch route (Reflex renders an internal link as React
        # Router's Link, which would look for a page of that path in the app).
        custom_attrs={"reloadDocument": True, "hrefLang": locale},
        style={
            "fontWeight": "600" if here else "400",
            "color": "inherit",
            "textDecoration": "none" if here else "underline",
        },
        data_testid=f"{testid}-{locale}",
        **props,
    )


def language_menu(*, compact: bool = False) -> rx.Component:
    """The header's switcher: a button naming the current language ("FR"), opening the list;
    ``compact`` (the phone header) leaves out its icon."""
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                *([] if compact else [rx.icon("languages", size=16)]),
                rx.text(i18n.current().upper(), size="2"),
                variant="ghost",
                color_scheme="gray",
                high_contrast=True,
                size="2",
                aria_label=_("Language: {language}").format(language=i18n.endonym(i18n.current())),
                data_testid="language-menu",
            )
        ),
        rx.menu.content(
            *[rx.menu.item(_choice(locale, "lang-menu", width="100%")) for locale in i18n.LOCALES]
        ),
    )


def language_links() -> rx.Component:
    """The footer's switcher: every language as a link, the current one marked."""
    return rx.el.nav(
        rx.hstack(
            *[rx.text(_choice(locale, "lang"), size="2") for locale in i18n.LOCALES],
            spacing="3",
            wrap="wrap",
        ),
        aria_label=_("Language"),
    )

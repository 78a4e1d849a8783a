"""The traveler's language: gettext catalogs, the language of a page, a request, a traveler.

How it fits together (docs/i18n.md):

* **Catalogs.** Every traveler-facing text is an English ``msgid`` marked with :func:`_`
  (or :func:`ngettext` for plurals, :func:`N_` for module constants translated later),
  extracted to ``travelsim/locale/messages.pot`` and translated in
  ``travelsim/locale/<lang>/LC_MESSAGES/messages.po`` with Babel's tools (``make
  i18n-extract``, ``make i18n-update``, ``make i18n-compile``). English needs no catalog.
* **One active language per context.** :func:`_` translates into :func:`current`, a context
  variable: the page compiler sets it while it builds one language's copy of a page
  (:func:`compiled_in`), and a state handler sets it from its page's route (:func:`using`)
  for the texts it makes at run time (errors, figures). A context is a task, so two events
  of two travelers never see each other's language.
* **Routes.** English pages live at their plain paths (``/account``); the others under a
  prefix (``/fr/account``): :func:`localized` and :func:`split_path`.

Raises :class:`MissingCatalog` when a language's compiled catalog (``.mo``) is absent: run
``make i18n-compile`` (``make install`` does it).
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, wraps
from pathlib import Path
from typing import TypeVar

from babel import Locale
from babel.support import Translations

__all__ = [
    "DEFAULT",
    "FORMAT_LOCALES",
    "LOCALES",
    "LOCALE_DIR",
    "N_",
    "MissingCatalog",
    "_",
    "compiled_in",
    "current",
    "endonym",
    "format_locale",
    "gettext",
    "localized",
    "negotiate",
    "ngettext",
    "split_path",
    "translations",
    "using",
]

#: The languages the portal speaks, English first (the source language of the catalogs).
LOCALES: tuple[str, ...] = ("en", "fr", "de", "es")
DEFAULT = "en"
#: The CLDR locale each language formats numbers, money and dates with (Babel).
FORMAT_LOCALES: dict[str, str] = {"en": "en_US", "fr": "fr_FR", "de": "de_DE", "es": "es_ES"}
#: ``<lang>/LC_MESSAGES/messages.po`` (and its compiled ``.mo``) per language, and the template.
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"

_active: ContextVar[str] = ContextVar("travelsim_locale", default=DEFAULT)

T = TypeVar("T")


class MissingCatalog(RuntimeError):
    """A language's compiled catalog is missing (``make i18n-compile`` builds it)."""


@cache
def translations(locale: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``locale`` (one of :data:`LOCALES`; English: no catalog, the
    msgids are the English texts). Raises :class:`MissingCatalog` when its ``.mo`` is absent,
    ``ValueError`` for a language the portal does not speak."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported language {locale!r}")
    if locale == DEFAULT:
        return _gettext.NullTranslations()
    mo = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not mo.is_file():
        raise MissingCatalog(f"{mo} is missing: run `make i18n-compile`")
    with mo.open("rb") as fh:
        return Translations(fh, domain=DOMAIN)


def current() -> str:
    """The active language of this context (default :data:`DEFAULT`)."""
    return _active.get()


def format_locale() -> str:
    """The CLDR locale of the active language (:data:`FORMAT_LOCALES`): ``"fr_FR"``."""
    return FORMAT_LOCALES[current()]


@contextmanager
def using(locale: str) -> Iterator[str]:
    """Make ``locale`` the active language inside the block (an unknown one: English)."""
    token = _active.set(locale if locale in LOCALES else DEFAULT)
    try:
        yield _active.get()
    finally:
        _active.reset(token)


def compiled_in(locale: str, build: Callable[[], T]) -> Callable[[], T]:
    """``build`` (a page function) wrapped to run with ``locale`` active: Reflex calls a
    page's function when it compiles the page, later than ``add_page``."""

    @wraps(build)
    def in_locale() -> T:
        with using(locale):
            return build()

    return in_locale


def gettext(message: str) -> str:
    """``message`` (an English msgid) in the active language."""
    return translations(current()).gettext(message)


#: The usual short name, which the extraction recognises.
_ = gettext


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form for ``n`` by the active language's plural rule (``Plural-Forms`` of its
    catalog). The result usually holds ``{n}`` or ``%(n)s`` for the caller to fill."""
    return translations(current()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for extraction only (a module constant): translate it with :func:`_`
    where it is shown."""
    return message


def endonym(locale: str) -> str:
    """The language's name in itself, from CLDR, capitalised for a menu: ``"Français"``."""
    name = Locale.parse(locale).get_display_name(locale) or locale
    return name[:1].upper() + name[1:]


def split_path(path: str) -> tuple[str, str]:
    """``(language, path without its prefix)``: ``"/fr/esims/3"`` → ``("fr", "/esims/3")``,
    ``"/fr"`` → ``("fr", "/")``, ``"/esims/3"`` → ``("en", "/esims/3")``. A query string,
    if any, stays on the path."""
    rest = path if path.startswith("/") else "/" + path
    for locale in LOCALES:
        if locale == DEFAULT:
            continue
        prefix = f"/{locale}"
        if rest == prefix or rest.startswith((prefix + "/", prefix + "?")):
            tail = rest[len(prefix) :]
            if not tail.startswith("/"):
                tail = "/" + tail
            return locale, tail
    return DEFAULT, rest


def localized(path: str, locale: str | None = None) -> str:
    """``path`` (a portal path, with or without a language prefix or query) in ``locale``
    (default: the active language): ``localized("/account", "fr")`` → ``"/fr/account"``,
    ``localized("/?to=JP", "de")`` → ``"/de/?to=JP"``, English → the plain path."""
    lang = locale or current()
    _, rest = split_path(path)
    if lang == DEFAULT or lang not in LOCALES:
        return rest
    return f"/{lang}{rest}"


def negotiate(accept_language: str | None) -> str:
    """The portal language a browser prefers (``Accept-Language``, RFC 9110 §12.5.4): the
    highest-weighted range whose primary subtag the portal speaks (``fr-CA`` → ``fr``);
    :data:`DEFAULT` when none, or for a malformed header."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _eq, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary and weight > 0:
            ranked.append((-weight, i, primary))
    for _w, _i, primary in sorted(ranked):
        if primary in LOCALES:
            return primary
    return DEFAULT

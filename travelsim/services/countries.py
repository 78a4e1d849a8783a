"""Countries and regions for destination search (ISO 3166-1 via ``pycountry``, names in the
traveler's language from CLDR via Babel).

Search tolerates partial names, accents and case (``"ger"`` → Germany, ``"cote"`` →
Côte d'Ivoire) and also matches ISO codes and a few everyday aliases (``"USA"``,
``"UK"``). It understands every language the portal speaks (``"Allemagne"``, ``"Spanien"``,
``"Estados Unidos"``: CLDR's territory names in each of ``travelsim.i18n.LOCALES``), whatever
the page's language. Every match is returned with its ISO code and flag, and named in the
active language (``travelsim.i18n.current``), so two similar names are never ambiguous on
screen.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import pycountry
from babel import Locale

from travelsim import i18n

# Everyday names that ISO does not carry (ISO alpha-2 → extra search terms).
ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("USA", "America", "United States of America"),
    "GB": ("UK", "Britain", "Great Britain", "England", "Scotland", "Wales"),
    "AE": ("UAE", "Dubai"),
    "KR": ("South Korea", "Korea"),
    "NL": ("Holland",),
    "CZ": ("Czech Republic",),
    "TR": ("Turkey",),
    "VN": ("Vietnam",),
    "RU": ("Russia",),
    "TW": ("Taiwan",),
}


@dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    name: str
    flag: str  # emoji built from the regional-indicator symbols of ``code``


def normalise(text: str) -> str:
    """Case-fold and strip accents and punctuation: ``"Côte d'Ivoire"`` → ``"cote d ivoire"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = "".join(c if c.isalnum() else " " for c in bare.casefold())
    return " ".join(cleaned.split())


def flag(code: str) -> str:
    """The emoji flag of an ISO alpha-2 code (two regional-indicator symbols)."""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code.upper())


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, Country], list[tuple[Country, tuple[str, ...]]]]:
    by_code: dict[str, Country] = {}
    terms: list[tuple[Country, tuple[str, ...]]] = []
    for c in pycountry.countries:
        name = getattr(c, "common_name", None) or c.name
        country = Country(code=c.alpha_2, name=name, flag=flag(c.alpha_2))
        by_code[c.alpha_2] = country
        names = {name, c.name, getattr(c, "official_name", c.name), *ALIASES.get(c.alpha_2, ())}
        terms.append((country, tuple(normalise(n) for n in names)))
    return by_code, terms


@lru_cache(maxsize=len(i18n.LOCALES))
def _names(locale: str) -> dict[str, str]:
    """CLDR's territory names in ``locale`` (ISO alpha-2 → name)."""
    return dict(Locale.parse(locale).territories)


@lru_cache(maxsize=1)
def _all_terms() -> dict[str, tuple[str, ...]]:
    """Every searchable name of each country: the English ones of :func:`_index` and CLDR's
    name in each portal language, normalised."""
    _by_code, terms = _index()
    out: dict[str, tuple[str, ...]] = {}
    for c, names in terms:
        extra = {normalise(_names(loc)[c.code]) for loc in i18n.LOCALES if c.code in _names(loc)}
        out[c.code] = tuple(dict.fromkeys((*names, *sorted(extra))))
    return out


def codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code this catalogue knows."""
    return frozenset(_index()[0])


def country(code: str) -> Country:
    """The country with ISO alpha-2 ``code``, named in the active language (English: ISO's
    common name); raises ``KeyError`` for unknown codes."""
    english = _index()[0][code.upper()]
    locale = i18n.current()
    if locale == i18n.DEFAULT:
        return english
    name = _names(locale).get(english.code, english.name)
    return Country(code=english.code, name=name, flag=english.flag)


def label(code: str | None) -> str:
    """Flag and name of ISO alpha-2 ``code`` ("🇫🇷 France"); "" for no code, the code itself
    for one this catalogue does not know."""
    if not code:
        return ""
    try:
        c = country(code)
    except KeyError:
        return code
    return f"{c.flag} {c.name}"


def search(query: str, *, within: set[str] | None = None, limit: int = 20) -> list[Country]:
    """Countries matching ``query``, best first; restricted to codes in ``within`` if given.

    Ranking: exact name or code, then a name starting with the query, then a word of the
    name starting with it, then the query anywhere in a name. Empty query → ``[]``.
    """
    q = normalise(query)
    if not q:
        return []
    ranked: list[tuple[int, str, Country]] = []
    for code, names in _all_terms().items():
        if within is not None and code not in within:
            continue
        rank = _rank(q, code, names)
        if rank is not None:
            c = country(code)
            ranked.append((rank, c.name, c))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [c for _rank_, _name, c in ranked[:limit]]


def _rank(q: str, code: str, names: tuple[str, ...]) -> int | None:
    if q == code.casefold() or q in names:
        return 0
    if any(n.startswith(q) for n in names):
        return 1
    if any(word.startswith(q) for n in names for word in n.split()):
        return 2
    if len(q) >= 3 and any(q in n for n in names):
        return 3
    return None

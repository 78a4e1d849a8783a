"""Languages: negotiation, routes, the active language, formats and search (docs/i18n.md).

Expected values come from the standards and data named at each test: RFC 9110 §12.5.4 for
``Accept-Language``, CLDR through Babel (computed here with Babel directly) for money, plural
rules and territory names, and the catalogs for translated texts."""

from __future__ import annotations

import asyncio
import gzip
from decimal import Decimal

import pytest
from babel import Locale
from babel.numbers import format_currency
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from travelsim import i18n
from travelsim.formatting import data_left, format_bytes, format_days, format_money
from travelsim.routes.locale import LANG_COOKIE, LocaleMiddleware, is_traveler_page
from travelsim.services import countries


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr"),  # Chrome's, for a French user
        ("de-CH", "de"),  # primary subtag
        ("it-IT, es;q=0.5, fr;q=0.4", "es"),  # unspoken first choice skipped
        ("en;q=0.2, de;q=0.8", "de"),  # weights, not order
        ("fr;q=0, es", "es"),  # q=0 means "not acceptable"
        ("*", "en"),
        ("", "en"),
        (None, "en"),
        ("fr;q=abc, de;q=0.1", "de"),  # a malformed weight counts as 0
    ],
)
def test_negotiate_follows_accept_language(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/fr/esims/3", ("fr", "/esims/3")),
        ("/fr", ("fr", "/")),
        ("/fr/", ("fr", "/")),
        ("/de/?to=JP", ("de", "/?to=JP")),
        ("/esims/3", ("en", "/esims/3")),
        ("/frankfurt", ("en", "/frankfurt")),  # a prefix is a whole segment
        ("/", ("en", "/")),
    ],
)
def test_split_path(path: str, expected: tuple[str, str]) -> None:
    assert i18n.split_path(path) == expected


def test_localized_paths_round_trip() -> None:
    assert i18n.localized("/account", "fr") == "/fr/account"
    assert i18n.localized("/?to=JP", "de") == "/de/?to=JP"
    assert i18n.localized("/fr/account", "es") == "/es/account"  # a prefix is replaced
    assert i18n.localized("/fr/account", "en") == "/account"
    with i18n.using("es"):
        assert i18n.localized("/status") == "/es/status"  # default: the active language
    for locale in i18n.LOCALES:
        for path in ("/", "/account", "/esims/7/install", "/?to=FR"):
            assert i18n.split_path(i18n.localized(path, locale)) == (locale, path)


def test_the_active_language_is_per_context_and_restored() -> None:
    assert i18n.current() == "en"
    with i18n.using("de"):
        assert i18n.current() == "de"
        with i18n.using("xx"):  # unknown: English
            assert i18n.current() == "en"
        assert i18n.current() == "de"
    assert i18n.current() == "en"

    async def one(locale: str) -> str:
        with i18n.using(locale):
            await asyncio.sleep(0.01)  # the other task runs meanwhile
            return i18n.gettext("Sign in")

    async def both() -> list[str]:
        return list(await asyncio.gather(one("fr"), one("es")))

    assert asyncio.run(both()) == ["Se connecter", "Iniciar sesión"]


def test_a_page_function_is_built_in_its_language() -> None:
    built = i18n.compiled_in("de", lambda: (i18n.current(), i18n.gettext("Sign out")))
    assert i18n.current() == "en"
    assert built() == ("de", "Abmelden")
    assert built.__name__ == "<lambda>"


def test_money_is_formatted_by_cldr_for_the_language() -> None:
    for locale, cldr in i18n.FORMAT_LOCALES.items():
        with i18n.using(locale):
            assert format_money(450, "EUR") == format_currency(Decimal("4.50"), "EUR", locale=cldr)
    with i18n.using("fr"):
        assert format_money(450, "EUR") == "4,50\u00a0€"
    assert format_money(450, "EUR") == "€4.50"


@pytest.mark.parametrize(
    # CLDR plural categories: fr "one" for 0 and 1; de "one" for 1 only; es "one" for 1.
    ("locale", "n", "expected"),
    [
        ("fr", 0, "0 jour"),
        ("fr", 1, "1 jour"),
        ("fr", 2, "2 jours"),
        ("de", 0, "0 Tage"),
        ("de", 1, "1 Tag"),
        ("de", 30, "30 Tage"),
        ("es", 1, "1 día"),
        ("es", 7, "7 días"),
        ("en", 1, "1 day"),
        ("en", 0, "0 days"),
    ],
)
def test_durations_follow_the_catalogs_plural_rules(locale: str, n: int, expected: str) -> None:
    with i18n.using(locale):
        assert format_days(n) == expected


def test_endonyms_come_from_cldr() -> None:
    assert [i18n.endonym(loc) for loc in i18n.LOCALES] == [
        "English",
        "Français",
        "Deutsch",
        "Español",
    ]


@pytest.mark.parametrize(
    ("query", "code"),
    [("Allemagne", "DE"), ("Spanien", "ES"), ("Estados Unidos", "US"), ("etats", "US")],
)
def test_destination_search_understands_every_portal_language(query: str, code: str) -> None:
    for locale in i18n.LOCALES:
        with i18n.using(locale):
            found = countries.search(query)
            assert found and found[0].code == code, (locale, query, found[:3])
            # ...and names it in the page's language (CLDR's territory name).
            if locale != "en":
                assert found[0].name == Locale.parse(locale).territories[code]


def test_missing_compiled_catalog_fails_loudly(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        with pytest.raises(i18n.MissingCatalog):
            i18n.translations("fr")
    finally:
        i18n.translations.cache_clear()


# ------------------------------------------------------------------------ the middleware
PAGE = '<!DOCTYPE html><html lang="en"><head></head><body>page</body></html>'


def _client(gzipped: bool = False) -> TestClient:
    async def page(request):  # type: ignore[no-untyped-def]
        body = PAGE.encode()
        if gzipped and "gzip" in request.headers.get("accept-encoding", ""):
            return HTMLResponse(gzip.compress(body), headers={"content-encoding": "gzip"})
        return HTMLResponse(body)

    app = Starlette(routes=[Route("/{path:path}", page)])
    app.add_middleware(LocaleMiddleware)
    return TestClient(app, follow_redirects=False)


NAV = {"accept": "text/html,application/xhtml+xml"}


def test_first_visit_follows_accept_language_then_the_cookie() -> None:
    c = _client()
    r = c.get("/account", headers={**NAV, "accept-language": "de-DE,de;q=0.9"})
    assert (r.status_code, r.headers["location"]) == (307, "/de/account")
    r = c.get("/?to=JP", headers={**NAV, "accept-language": "es"})
    assert r.headers["location"] == "/es/?to=JP"
    # the cookie (the traveler's choice) wins over the header, English included
    c.cookies.set(LANG_COOKIE, "en")
    assert c.get("/account", headers={**NAV, "accept-language": "fr"}).status_code == 200
    c.cookies.set(LANG_COOKIE, "fr")
    assert c.get("/status", headers=NAV).headers["location"] == "/fr/status"


def test_prefixed_pages_are_never_redirected_and_say_their_language() -> None:
    c = _client()
    c.cookies.set(LANG_COOKIE, "de")
    r = c.get("/fr/account", headers={**NAV, "accept-language": "es"})
    assert r.status_code == 200
    assert r.text == PAGE.replace('lang="en"', 'lang="fr"')
    assert int(r.headers["content-length"]) == len(PAGE)


def test_a_gzipped_page_is_rewritten_and_stays_gzipped() -> None:
    r = _client(gzipped=True).get("/es/status", headers={**NAV, "accept-encoding": "gzip, br"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.text == PAGE.replace('lang="en"', 'lang="es"')  # httpx decodes gzip


def test_what_is_not_a_traveler_page_navigation_passes_untouched() -> None:
    c = _client()
    fr = {**NAV, "accept-language": "fr"}
    assert c.get("/admin", headers=fr).status_code == 200  # staff pages: English only
    assert c.get("/healthz", headers=fr).status_code == 200
    assert c.get("/account", headers={"accept-language": "fr"}).status_code == 200  # not HTML
    assert c.get("/fr/admin", headers=fr).text == PAGE  # no such page: not rewritten
    assert is_traveler_page("/esims/12/install")
    assert not is_traveler_page("/esims/12/qr.png")
    assert not is_traveler_page("/esims/12/install/extra")


@pytest.mark.parametrize(
    ("locale", "one_and_a_half_gb", "zero", "near_full"),
    [
        # CLDR 47 short unit names and decimal separators (babel's locale data):
        # French "Go"/"o" after a narrow no-break space, German and Spanish "GB"/"Byte"/"B".
        ("en", "1.5 GB", "0 B", ("18.98 GB", "19 GB")),
        ("fr", "1,5\u202fGo", "0\u202fo", ("18,98\u202fGo", "19\u202fGo")),
        ("de", "1,5\u00a0GB", "0 Byte", ("18,98\u00a0GB", "19\u00a0GB")),
        ("es", "1,5 GB", "0 B", ("18,98 GB", "19 GB")),
    ],
)
def test_data_volumes_in_the_travelers_locale(
    locale: str, one_and_a_half_gb: str, zero: str, near_full: tuple[str, str]
) -> None:
    gb, mb = 1024**3, 1024**2
    with i18n.using(locale):
        assert format_bytes(3 * gb // 2) == one_and_a_half_gb
        assert format_bytes(0) == zero
        # the never-contradicting rule still holds once localized
        assert data_left(19 * gb - 20 * mb, 19 * gb) == near_full
        assert format_bytes(None) == i18n.translations(locale).gettext("unknown")


def test_dates_and_ages_in_the_travelers_locale() -> None:
    from datetime import UTC, datetime

    from travelsim.timefmt import ago_text, duration_text, local_datetime

    moment = datetime(2026, 12, 3, 13, 5, tzinfo=UTC)
    with i18n.using("en"):  # English stays as it always was
        assert local_datetime(moment, "Europe/Brussels") == "Thu 3 Dec 2026, 14:05 CET"
        assert local_datetime(moment, "Asia/Singapore") == "Thu 3 Dec 2026, 21:05 Singapore time"
    with i18n.using("fr"):
        # CLDR French abbreviated day and month names; the zone still named, by its city in
        # French when the tz database has no abbreviation
        assert local_datetime(moment, "Europe/Brussels") == "jeu. 3 déc. 2026, 14:05 CET"
        assert (
            local_datetime(moment, "Asia/Singapore") == "jeu. 3 déc. 2026, 21:05 heure : Singapour"
        )
        assert ago_text(300) == "il y a 5 minutes"
        # CLDR: narrow no-break space in "1 j", no-break space in "3 min", "et" before the last
        assert duration_text(93784) == "1\u202fj, 2\u202fh et 3\u00a0min"
    with i18n.using("de"):
        assert local_datetime(moment, "Europe/Berlin") == "Do. 3 Dez. 2026, 14:05 CET"
        assert ago_text(7200) == "vor 2 Stunden"
        assert duration_text(93784) == "1 Tg., 2 Std. und 3 Min."
    with i18n.using("es"):
        assert duration_text(93784) == "1 d, 2 h y 3 min"

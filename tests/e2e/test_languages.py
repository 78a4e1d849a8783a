"""The traveler's language in a real browser (docs/i18n.md): the first visit follows
``Accept-Language``, the switcher changes and remembers it, ``<html lang>`` says it, and the
home page's texts, country names, durations and prices are in it.

Expected texts are the catalogs' (travelsim/locale/*/LC_MESSAGES/messages.po); prices as Babel
formats them from CLDR for the locale (computed here with Babel, independently of the portal);
country names are CLDR's territory names (Babel's ``Locale.territories``)."""

from __future__ import annotations

import re
from decimal import Decimal

from babel import Locale
from babel.numbers import format_currency
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import shot
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify
from tests.harness import DESKTOP, PHONE

FRANCE_1GB = "870101"  # France 1 GB 7 days, EUR 4.50 in the seed catalogue
FRANCE_1GB_FR = "France 1 Go"  # its French display name in the seed catalogue


def _lang(page: Page) -> str:
    return str(page.evaluate("document.documentElement.lang"))


def test_a_french_browser_gets_the_french_home_page(app_url: str, browser: Browser) -> None:
    for scheme in ("light", "dark"):
        ctx = browser.new_context(viewport=DESKTOP, locale="fr-FR", color_scheme=scheme)
        page = ctx.new_page()
        page.goto(app_url)
        expect(page).to_have_url(re.compile(r"/fr/$"))
        assert _lang(page) == "fr"
        expect(
            page.get_by_role("heading", name="Des données à l’étranger, sans frais d’itinérance")
        ).to_be_visible()
        # Destination search in French, and in the other languages too.
        search = page.get_by_label("Où partez-vous\u202f?")
        search.fill("Allemagne")
        options = page.get_by_test_id("destination-option")
        expect(options.filter(has_text=Locale.parse("fr").territories["DE"])).to_be_visible()
        search.fill("Spanien")
        expect(options.filter(has_text=Locale.parse("fr").territories["ES"])).to_be_visible()
        search.fill("Franc")
        options.filter(has_text=Locale.parse("fr").territories["FR"]).first.click()
        expect(page).to_have_url(re.compile(r"/fr/\?to=FR$"))
        offer = page.locator(f"[data-plan-id='{FRANCE_1GB}']")
        price = format_currency(Decimal("4.50"), "EUR", locale="fr_FR")
        assert price == "4,50\u00a0€"  # CLDR: a no-break space before the sign
        expect(offer.get_by_test_id("offer-price")).to_have_text(price)
        # The seller's French name of the plan (travelsim/seed/catalogue.json, "texts").
        expect(offer.get_by_role("heading", name=FRANCE_1GB_FR, exact=True)).to_be_visible()
        expect(offer).to_contain_text("7 jours")
        expect(offer).to_contain_text("première utilisation")
        expect(page.get_by_role("heading", name=re.compile("Forfaits disponibles"))).to_be_visible()
        shot(page, f"languages-fr-home-desktop-{scheme}")
        ctx.close()


def test_the_switcher_changes_and_remembers_the_language(app_url: str, browser: Browser) -> None:
    ctx = browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True, has_touch=True)
    page = ctx.new_page()
    page.goto(f"{app_url}/?to=ES")
    expect(page).to_have_url(re.compile(r"/\?to=ES$"))  # an English browser stays English
    assert _lang(page) == "en"
    menu = page.locator("[data-testid=language-menu] >> visible=true")  # the phone header's
    menu.click()
    page.get_by_test_id("lang-menu-de").click()
    # The same page (destination kept) in German, and the document says so.
    expect(page).to_have_url(re.compile(r"/de/\?to=ES$"))
    expect(page.get_by_text("Verfügbare Tarife: Spanien")).to_be_visible()
    assert _lang(page) == "de"
    expect(menu).to_have_attribute("aria-label", "Sprache: Deutsch")
    shot(page, "languages-de-home-phone")
    # Remembered: the plain (English) address now opens in German...
    page.goto(app_url)
    expect(page).to_have_url(re.compile(r"/de/$"))
    expect(
        page.get_by_role("heading", name="Mobile Daten im Ausland, ohne Roaming-Rechnung")
    ).to_be_visible()
    # ...while a link naming a language opens in it.
    page.goto(f"{app_url}/es")
    expect(
        page.get_by_role("heading", name="Datos en el extranjero, sin facturas de roaming")
    ).to_be_visible()
    assert _lang(page) == "es"
    page.get_by_label("¿Adónde viajas?").fill("Estados Unidos")
    expect(
        page.get_by_test_id("destination-option").filter(
            has_text=Locale.parse("es").territories["US"]
        )
    ).to_be_visible()
    # Moving inside the app keeps the document's language in step.
    page.get_by_test_id("lang-en").click()
    expect(page).to_have_url(re.compile(r"/$"))
    assert _lang(page) == "en"
    ctx.close()


def test_sign_in_refusal_is_in_the_travelers_language(app_url: str, browser: Browser) -> None:
    ctx = browser.new_context(viewport=DESKTOP, locale="es-ES")
    page = ctx.new_page()
    page.goto(f"{app_url}/signin")
    expect(page).to_have_url(re.compile(r"/es/signin/?$"))
    page.get_by_label("Correo electrónico", exact=True).fill("nobody@example.com")
    page.get_by_label("Contraseña", exact=True).fill("not the password at all")
    page.get_by_role("button", name="Iniciar sesión", exact=True).click()
    # The form post's redirect names the English page; the browser's language brings it back.
    expect(page).to_have_url(re.compile(r"/es/signin/?\?error=invalid_credentials"))
    expect(page.get_by_role("alert")).to_have_text("Correo electrónico o contraseña incorrectos.")
    assert _lang(page) == "es"
    shot(page, "languages-es-signin-desktop")
    ctx.close()


def test_the_order_page_switched_to_french_after_a_purchase(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = ctx.new_page()
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    buy_france_1gb(page, app_url)
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    order_path = re.sub(r"^https?://[^/]+", "", page.url)
    reference = order_path.rstrip("/").rsplit("/", 1)[-1]
    # The footer's switcher, from a page whose address has an id in it (the Referer).
    page.get_by_test_id("lang-fr").click()
    expect(page).to_have_url(re.compile(rf"/fr{re.escape(order_path)}/?$"))
    assert _lang(page) == "fr"
    steps = page.get_by_test_id("step-badge")
    expect(steps).to_have_count(4)
    for badge in steps.all():
        expect(badge).to_have_text("terminé")
    expect(page.get_by_test_id("order-delivered")).to_contain_text(
        "Votre eSIM est prête. Installez-la avant votre départ."
    )
    install = page.get_by_role("link", name="Installer votre eSIM")
    expect(install).to_have_attribute("href", re.compile(r"^/fr/esims/\d+/install$"))
    assert reference  # the page's heading names the order in French
    expect(page.get_by_role("heading", name=re.compile(r"^Commande "))).to_be_visible()
    expect(page.get_by_test_id("order-summary")).to_contain_text(FRANCE_1GB_FR)
    shot(page, "languages-fr-order-desktop")
    ctx.close()

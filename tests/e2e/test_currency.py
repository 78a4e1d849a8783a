"""A traveler picks US dollars in the header's currency menu, sees the seed's dollar prices,
buys France 1 GB and gets a receipt in dollars (docs/i18n.md#currencies).

The browser starts as a traveler who chose euros (``tests/e2e/conftest.py``, ``EuroBrowser``).
Expected prices are the seed file's (``travelsim/seed/catalogue.json``: France 1 GB at 4.50
EUR, 4.90 USD) formatted by Babel for the page's locale, and the menu's names are CLDR's,
both computed here independently of the portal.
"""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import format_currency, get_currency_name
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import DESKTOP, shot
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify

EUR_PRICE = format_currency(Decimal("4.50"), "EUR", locale="en_US")
USD_PRICE = format_currency(Decimal("4.90"), "USD", locale="en_US")


def test_pick_usd_in_the_header_and_buy_in_dollars(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    assert (EUR_PRICE, USD_PRICE) == ("€4.50", "$4.90")
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    page.goto(f"{app_url}/?to=FR")
    offer = page.locator("[data-testid='offer'][data-plan-id='870101']")
    expect(offer.get_by_test_id("offer-price")).to_have_text(EUR_PRICE)
    menu = page.locator("[data-testid=currency-menu] >> visible=true")
    expect(menu).to_have_text("EUR")
    expect(menu).to_have_attribute(
        "aria-label", f"Currency: {get_currency_name('EUR', locale='en_US')}"
    )
    menu.click()
    choice = page.get_by_test_id("currency-menu-USD")
    expect(choice).to_contain_text(get_currency_name("USD", locale="en_US"))
    choice.click()
    # Back on the same page (destination kept), its prices now the seller's dollar prices.
    expect(page).to_have_url(re.compile(r"/\?to=FR$"))
    expect(menu).to_have_text("USD")
    expect(menu).to_have_attribute("aria-label", "Currency: US Dollar")
    expect(offer.get_by_test_id("offer-price")).to_have_text(USD_PRICE)
    expect(offer.get_by_test_id("offer-price-note")).to_have_count(0)  # priced in USD
    shot(page, "currency-usd-home-desktop")
    # Checkout and payment in dollars; the choice is remembered across pages.
    buy_france_1gb(page, app_url, total=USD_PRICE)
    page.get_by_role("button", name=f"Pay {USD_PRICE}").click()
    expect(page).to_have_url(re.compile(r"/orders/"), timeout=30_000)
    order_path = re.sub(r"^https?://[^/]+", "", page.url).rstrip("/")
    page.goto(f"{app_url}{order_path}/receipt")
    receipt = page.get_by_test_id("receipt")
    expect(receipt).to_contain_text(re.compile(rf"Total charged\s*{re.escape(USD_PRICE)}"))
    shot(page, "currency-usd-receipt-desktop")
    ctx.close()

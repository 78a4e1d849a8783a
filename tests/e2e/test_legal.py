"""The seller's legal pages and the consent boxes at checkout, in Chromium
(docs/legal.md): the footer's four links open the pages; the French page shows the French
terms; paying without the boxes is refused with nothing charged; with them the order
records the acceptance. Screenshots of each page and of the pay step, desktop and phone,
light and dark, also under /work/shots/i22-law/."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, ROOT, shot
from tests.e2e.stripe_card import accept_terms, fill_card, pay_button
from tests.e2e.test_purchase import sign_up_and_verify

pytestmark = pytest.mark.e2e

SHOTS = Path("/work/shots/i22-law")
CONTENT = ROOT / "travelsim" / "content"
FOOTER = {
    "Terms and conditions": "terms",
    "Privacy notice": "privacy",
    "Legal notice": "imprint",
    "Cookies": "cookies",
}


def keep(page: Page, name: str) -> None:
    """The suite's screenshot, copied where the task's screenshots are kept."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot(page, name), SHOTS / f"{name}.png")


def title_of(locale: str, name: str) -> str:
    """The ``title:`` line of a shipped file, read here, not through the portal."""
    text = (CONTENT / locale / f"{name}.md").read_text(encoding="utf-8")
    return next(x.split(":", 1)[1].strip() for x in text.splitlines() if x.startswith("title:"))


def version_of(locale: str = "en") -> str:
    text = (CONTENT / locale / "terms.md").read_text(encoding="utf-8")
    return next(x.split(":", 1)[1].strip() for x in text.splitlines() if x.startswith("version:"))


def context(browser: Browser, *, phone: bool, dark: bool) -> BrowserContext:
    if phone:
        return browser.new_context(
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            color_scheme="dark" if dark else "light",
            locale="en-GB",
        )
    return browser.new_context(
        viewport=DESKTOP, color_scheme="dark" if dark else "light", locale="en-GB"
    )


def test_footer_links_open_each_legal_page(app_url: str, desktop: Page) -> None:
    page = desktop
    for label, name in FOOTER.items():
        page.goto(app_url)
        page.get_by_test_id("legal-links").get_by_role("link", name=label).click()
        expect(page).to_have_url(re.compile(rf"/{name}/?$"))
        expect(page.get_by_test_id("content-title")).to_have_text(title_of("en", name))
        body = page.get_by_test_id("content-body")
        expect(body.locator("p").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    # The cookie page lists the portal's cookies (the list's completeness is a unit test).
    for cookie in ("travelsim_session", "travelsim_lang", "travelsim_currency"):
        expect(page.get_by_test_id("content-body")).to_contain_text(cookie)
    page.goto(f"{app_url}/terms")
    expect(page.get_by_text(f"Version: {version_of()}")).to_be_visible()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_legal_pages_screenshots(app_url: str, browser: Browser, phone: bool, dark: bool) -> None:
    ctx = context(browser, phone=phone, dark=dark)
    page = ctx.new_page()
    for name in FOOTER.values():
        page.goto(f"{app_url}/{name}")
        expect(page.get_by_test_id("content-title")).to_have_text(title_of("en", name))
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        keep(page, f"legal-{name}-{'phone' if phone else 'desktop'}-{'dark' if dark else 'light'}")
    ctx.close()


def test_french_page_shows_french_terms(app_url: str, browser: Browser) -> None:
    ctx = browser.new_context(viewport=DESKTOP, locale="fr-FR", color_scheme="light")
    page = ctx.new_page()
    page.goto(f"{app_url}/terms")  # the browser prefers French: /fr/terms
    expect(page).to_have_url(re.compile(r"/fr/terms/?$"))
    expect(page.get_by_test_id("content-title")).to_have_text(title_of("fr", "terms"))
    expect(page.get_by_test_id("content-body")).to_contain_text("Droit de rétractation")
    assert page.evaluate("document.documentElement.lang") == "fr"
    footer = page.get_by_test_id("legal-links")
    expect(footer.get_by_role("link", name="Mentions légales")).to_have_attribute(
        "href", "/fr/imprint"
    )
    keep(page, "legal-terms-fr-desktop-light")
    ctx.close()


def _orders_of(data_dir: str, email: str) -> list[tuple[str | None, str | None, str | None]]:
    with sqlite3.connect(Path(data_dir) / "travelsim.db") as conn:
        return conn.execute(
            "SELECT o.terms_version, o.withdrawal_version, o.terms_accepted_at "
            "FROM purchase_order o JOIN app_user u ON u.id = o.user_id WHERE u.email = ?",
            (email,),
        ).fetchall()


def _open_checkout(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/buy/870101?to=FR")
    page.get_by_text("My phone supports eSIM").click()
    page.get_by_text("My phone is carrier-unlocked").click()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"checkout="))


def test_cannot_pay_without_the_boxes_then_pays_with_them(
    app_url: str, app_env: dict[str, str], desktop: Page
) -> None:
    page = desktop
    email = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    _open_checkout(page, app_url)
    box = page.get_by_test_id("consent-box")
    expect(box.get_by_test_id("refund-rules")).to_contain_text("refund an eSIM in full")
    terms_box = f"I have read and accept the terms and conditions (version {version_of()})."
    expect(box.get_by_role("checkbox", name=terms_box)).to_have_attribute(
        "data-testid", "accept-terms"
    )
    expect(box.get_by_test_id("consent-terms-link")).to_have_attribute("href", "/terms")
    fill_card(page, accept=False)
    url = page.url
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page.get_by_test_id("pay-error")).to_contain_text("Please accept the terms")
    assert page.url == url and _orders_of(app_env["DATA_DIR"], email) == []
    keep(page, "checkout-refused-desktop-light")
    # Ticked (recorded on the checkout: a reload keeps them), then paid.
    accept_terms(page)
    page.reload()
    expect(page.get_by_test_id("accept-terms")).to_have_attribute("data-state", "checked")
    expect(page.get_by_test_id("accept-immediate-start")).to_have_attribute("data-state", "checked")
    fill_card(page)
    pay_button(page).click()
    expect(page).to_have_url(re.compile(r"/orders/"), timeout=30_000)
    ((terms, wording, at),) = _orders_of(app_env["DATA_DIR"], email)
    assert (terms, wording) == (version_of(), "crd-2026-12-04") and at


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_checkout_consent_screenshots(
    app_url: str, app_env: dict[str, str], browser: Browser, phone: bool, dark: bool
) -> None:
    ctx = context(browser, phone=phone, dark=dark)
    page = ctx.new_page()
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    _open_checkout(page, app_url)
    accept_terms(page)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    keep(page, f"checkout-consent-{'phone' if phone else 'desktop'}-{'dark' if dark else 'light'}")
    ctx.close()

"""A French traveler buys a plan on the French pages (docs/i18n.md): the browser sends
``Accept-Language: fr-FR``, signs up, pays with localstripe's test card and lands on the
French order page, which reaches the ready state, and gets the French installation email
(docs/i18n.md#emails). Every French text expected here is the catalog's msgstr (read with
Babel) and the price is Babel's own formatting of 4.50 EUR."""

from __future__ import annotations

import re
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP
from tests.e2e.stripe_card import fill_card
from tests.e2e.test_purchase import PASSWORD, _outbox_link
from travelsim import i18n

pytestmark = pytest.mark.e2e


def fr(msgid: str) -> str:
    """The French catalog's msgstr for ``msgid`` (Babel's .po reader); fails if missing."""
    with (i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        message = read_po(fh, locale="fr").get(msgid)
    assert message is not None and message.string, f"{msgid!r} has no French translation"
    return str(message.string)


def sign_up_in_french(page: Page, app_url: str, data_dir: str) -> str:
    """Sign up on the French sign-up page and follow the e-mailed link; returns the e-mail."""
    email = f"voyageur-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(f"{app_url}/signup")  # Accept-Language: fr-FR sends the browser to /fr/signup
    expect(page).to_have_url(re.compile(r"/fr/signup"))
    page.get_by_label(fr("Email")).fill(email)
    page.get_by_label(fr("Password (at least 10 characters)")).fill(PASSWORD)
    page.get_by_role("button", name=fr("Create account")).click()
    expect(
        page.get_by_text(fr("Check your inbox: we sent you a link to verify your email address."))
    ).to_be_visible()
    link = _outbox_link(data_dir, email)
    page.goto(link.replace("http://localhost:3000", app_url))
    expect(page.get_by_role("button", name=fr("Sign out")).first).to_be_visible()
    return email


def installation_email(data_dir: str, email: str) -> tuple[str, str, str, str]:
    """``(subject, text body, language, order reference)`` of the installation email queued
    for ``email`` (the e2e portal runs without SMTP: the outbox row is the email)."""
    with sqlite3.connect(Path(data_dir) / "travelsim.db") as conn:
        row = conn.execute(
            "SELECT m.subject, m.body_text, m.locale, o.reference FROM outbox_email m "
            "JOIN app_user u ON u.id = m.user_id JOIN purchase_order o ON o.user_id = u.id "
            "WHERE m.kind = 'installation' AND u.email = ? ORDER BY m.id DESC",
            (email,),
        ).fetchone()
    assert row is not None, "no installation email in the outbox"
    return str(row[0]), str(row[1]), str(row[2]), str(row[3])


def test_french_traveler_buys_on_french_pages(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = browser.new_context(viewport=DESKTOP, locale="fr-FR")
    page = ctx.new_page()
    try:
        email = sign_up_in_french(page, app_url, app_env["DATA_DIR"])
        page.goto(f"{app_url}/buy/870101?to=FR")
        expect(page).to_have_url(re.compile(r"/fr/buy/870101"))
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page.get_by_role("heading", name=fr("Checkout"), exact=True)).to_be_visible()
        price = format_currency(Decimal("4.50"), "EUR", locale="fr_FR")
        expect(page.get_by_test_id("checkout-total")).to_have_text(price)
        page.get_by_text(fr("My phone supports eSIM")).click()
        page.get_by_text(fr("My phone is carrier-unlocked")).click()
        page.get_by_role("button", name=fr("Continue to payment")).click()
        expect(page).to_have_url(re.compile(r"/fr/buy/870101\?.*checkout="))
        expect(page.get_by_text(fr("Card details"), exact=True)).to_be_visible()
        fill_card(page)
        page.get_by_role("button", name=re.compile("^" + re.escape(fr("Pay")))).click()
        expect(page).to_have_url(re.compile(r"/fr/orders/"), timeout=30_000)
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)

        # Delivered means queued (one transaction): the installation email is French.
        subject, text, lang, reference = installation_email(app_env["DATA_DIR"], email)
        assert lang == "fr"
        assert subject == fr("Your eSIM is ready: order {reference}").format(reference=reference)
        assert fr("Amount paid: {amount}").format(amount=price) in text
        assert fr("Settings › Mobile Service › Add eSIM › Use QR Code.") in text
        assert re.search(r"https?://\S+/fr/esims/\d+/install", text), text
    finally:
        ctx.close()

"""VAT per customer country in a real browser (docs/business-rules.md#vat): a French traveler
states France at checkout and pays with Stripe's French test card (4000 0025 0000 0003, whose
card localstripe reports as FR), and the receipt is a French invoice with French VAT; a staff
member changes a rate on /admin/tax and finds it in the audit log.

Expected texts are the French catalog's msgstr (``test_buy_french.fr``), amounts Babel's
formatting of the seed's 4.50 EUR and of its VAT at France's 20 %, computed here:
4.50 x 20 / 120 = 0.75 (net 3.75)."""

from __future__ import annotations

import re
import sqlite3
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import format_currency
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, shot
from tests.e2e.stripe_card import fill_card
from tests.e2e.test_buy_french import fr, sign_up_in_french
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify
from tests.e2e.test_security_pages import rfc6238
from tests.e2e.test_staff_admin import _cli_staff, _notice

pytestmark = pytest.mark.e2e
CARD_FR = "4000002500000003"


def _eur(amount: str) -> str:
    return format_currency(Decimal(amount), "EUR", locale="fr_FR")


def _views(browser: Browser, url: str, name: str, storage: Any, testid: str) -> None:
    """Screenshots of ``url`` at desktop and phone width, light and dark, once ``testid``
    shows; no page scrolls sideways."""
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        for scheme in ("light", "dark"):
            ctx = browser.new_context(
                viewport=viewport, color_scheme=scheme, storage_state=storage, locale="fr-FR"
            )
            page = ctx.new_page()
            page.goto(url)
            expect(page.get_by_test_id(testid)).to_be_visible(timeout=30_000)
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
            shot(page, f"{name}-{width}-{scheme}")
            ctx.close()


def test_french_card_and_country_give_a_french_invoice(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = browser.new_context(viewport=DESKTOP, locale="fr-FR")
    page = ctx.new_page()
    try:
        email = sign_up_in_french(page, app_url, app_env["DATA_DIR"])
        page.goto(f"{app_url}/buy/870101?to=FR")
        expect(page).to_have_url(re.compile(r"/fr/buy/870101"))
        expect(page.get_by_test_id("checkout-total")).to_have_text(_eur("4.50"))
        page.get_by_text(fr("My phone supports eSIM")).click()
        page.get_by_text(fr("My phone is carrier-unlocked")).click()
        page.get_by_role("button", name=fr("Continue to payment")).click()
        expect(page).to_have_url(re.compile(r"checkout="))
        page.get_by_label(fr("Country of residence")).click()
        page.get_by_role("option", name=re.compile(r"\bFrance$")).click()
        expect(page.get_by_label(fr("Country of residence"))).to_contain_text("France")
        _saved_country(app_env, email, "FR")
        _views(browser, page.url, "i22-checkout", ctx.storage_state(), "residence-country")
        fill_card(page, CARD_FR)
        page.get_by_role("button", name=re.compile("^" + re.escape(fr("Pay")))).click()
        expect(page).to_have_url(re.compile(r"/fr/orders/"), timeout=30_000)
        order_path = re.sub(r"^https?://[^/]+", "", page.url).rstrip("/")
        page.goto(f"{app_url}{order_path}/receipt")

        receipt = page.get_by_test_id("receipt")
        number = page.get_by_test_id("invoice-number")
        expect(number).to_have_text(re.compile(rf"^{time.gmtime().tm_year}-\d{{6}}$"))
        expect(receipt).to_contain_text(fr("Invoice"))
        expect(receipt).to_contain_text(
            re.compile(re.escape(fr("Customer's country")) + r"\s*🇫🇷 France")
        )
        vat_label = fr("VAT {rate} %").format(rate="20")
        expect(page.get_by_test_id("vat-line")).to_have_text(
            re.compile(re.escape(vat_label) + r"\s*" + re.escape(_eur("0.75")))
        )
        expect(receipt).to_contain_text(
            re.compile(re.escape(fr("Net amount")) + r"\s*" + re.escape(_eur("3.75")))
        )
        expect(receipt).to_contain_text(_eur("4.50"))
        with sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db") as conn:
            row = conn.execute(
                "SELECT o.invoice_number, o.tax_country, o.tax_rule, o.tax_minor FROM "
                "purchase_order o JOIN app_user u ON u.id = o.user_id WHERE u.email = ?",
                (email,),
            ).fetchone()
        assert row == (number.inner_text(), "FR", "evidence_agree", 75)
        _views(browser, page.url, "i22-receipt", ctx.storage_state(), "receipt")
    finally:
        ctx.close()


def _saved_country(app_env: dict[str, str], email: str, code: str) -> None:
    """The stated country reaches the account (the select saves it at once)."""
    for _ in range(50):
        with sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db") as conn:
            (got,) = conn.execute(
                "SELECT country FROM app_user WHERE email = ?", (email,)
            ).fetchone()
        if got == code:
            return
        time.sleep(0.2)
    raise AssertionError(f"stated country not saved: {got!r}")


def _staff_page(browser: Browser, app_url: str, app_env: dict[str, str]) -> Page:
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    email = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    assert "ok: staff role granted" in _cli_staff(app_env, "grant", email)
    page.goto(f"{app_url}/admin/tax")
    expect(page).to_have_url(re.compile(r"/security/totp"))
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    page.get_by_label("6-digit code").fill(rfc6238(secret, time.time()))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/admin"))
    return page


def test_staff_change_a_rate_and_it_is_audited(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    page = _staff_page(browser, app_url, app_env)
    try:
        page.goto(f"{app_url}/admin/tax")
        rows = page.get_by_test_id("rate-row")
        expect(rows).to_have_count(27)
        lu = page.locator("[data-testid=rate-row][data-country=LU]")
        expect(lu.get_by_test_id("rate")).to_have_text("17 %")
        form = page.get_by_test_id("rate-form")
        form.get_by_label("Country").click()
        page.get_by_role("option", name="LU", exact=True).click()
        form.get_by_label("Rate (%)").fill("45")
        form.get_by_role("button", name="Save rate").click()
        _notice(page, "refused", "below 30 %")
        expect(lu.get_by_test_id("rate")).to_have_text("17 %")
        form.get_by_label("Rate (%)").fill("16.5")
        form.get_by_role("button", name="Save rate").click()
        _notice(page, "ok", "VAT rate of LU: 17 % → 16.5 %")
        expect(lu.get_by_test_id("rate")).to_have_text("16.5 %")
        _views(browser, page.url, "i22-admin-tax", page.context.storage_state(), "rates-table")
        page.goto(f"{app_url}/admin/audit?target=LU")
        audit = page.locator("[data-testid=audit-row][data-action='tax.rate']")
        expect(audit).to_have_count(2)
        expect(audit.first).to_contain_text("16.5 %")
        # Back to the shipped rate for the rest of the session.
        page.goto(f"{app_url}/admin/tax")
        form.get_by_label("Country").click()
        page.get_by_role("option", name="LU", exact=True).click()
        form.get_by_label("Rate (%)").fill("17")
        form.get_by_role("button", name="Save rate").click()
        _notice(page, "ok")
    finally:
        page.context.close()


def test_a_staff_refund_shows_a_credit_note_on_the_invoice(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    """English pages this time: the traveler states France, pays with the French card; staff
    refund the unused eSIM and the invoice shows the credit note cancelling it."""
    traveler_ctx = browser.new_context(viewport=DESKTOP)
    traveler = traveler_ctx.new_page()
    staff = _staff_page(browser, app_url, app_env)
    try:
        email = sign_up_and_verify(traveler, app_url, app_env["DATA_DIR"])
        buy_france_1gb(traveler, app_url)
        traveler.get_by_label("Country of residence").click()
        traveler.get_by_role("option", name=re.compile(r"\bFrance$")).click()
        _saved_country(app_env, email, "FR")
        fill_card(traveler, CARD_FR)
        traveler.get_by_role("button", name=re.compile(r"^Pay")).click()
        expect(traveler.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
        with sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db") as conn:
            order_id, invoice = conn.execute(
                "SELECT o.id, o.invoice_number FROM purchase_order o JOIN app_user u "
                "ON u.id = o.user_id WHERE u.email = ?",
                (email,),
            ).fetchone()

        staff.goto(f"{app_url}/admin/orders?order={order_id}")
        expect(staff.get_by_test_id("order-invoice")).to_contain_text(
            f"{invoice} · VAT €0.75 · FR 20 % · evidence_agree (card FR, stated FR)"
        )
        staff.get_by_role("button", name="Refund payment").click()
        _notice(staff, "ok", "payment refunded")

        traveler.goto(f"{app_url}/orders/{order_id}/receipt")
        expect(traveler.get_by_test_id("invoice-number")).to_have_text(invoice)
        note = traveler.get_by_test_id("credit-note")
        expect(note).to_have_text(re.compile(rf"^CN-{time.gmtime().tm_year}-\d{{6}}$"))
        expect(traveler.get_by_test_id("receipt")).to_contain_text(
            "Refunded in full: €4.50, of which VAT €0.75."
        )
        _views(browser, traveler.url, "i22-credit-note", traveler_ctx.storage_state(), "receipt")
    finally:
        staff.context.close()
        traveler_ctx.close()

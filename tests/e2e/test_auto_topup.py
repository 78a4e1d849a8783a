"""Automatic top-up on the eSIM page in headless Chromium (docs/business-rules.md#automatic-top-up).

The traveler buys France 1 GB with "Keep this card for later top-ups", turns automatic top-up
on from the eSIM page (the statement shown, then the explicit confirmation), the data drops on
the app's own simulator (``AppSimulator.consume``) and "Refresh now" reads it: the usage sync
fires the rule, and the open page lists the charge with its order. Figures come from the
setup: 1 GB = 1,073,741,824 bytes, the 200 MB threshold chosen, the seed's €4.50 price.
Screenshots of the section at desktop and phone width, light and dark.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.e2e.conftest import PHONE, SCREENSHOTS, shot
from tests.e2e.stripe_card import pay_button
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify
from tests.harness import PORTAL_DB, AppSimulator

MB = 1_048_576
#: The desktop width the screenshots are taken at.
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
STATEMENT = (
    "When data left falls to 200 MB, we buy 'France 1 GB' for €4.50 with Visa •••• 4242, at "
    "most 2 times per calendar month (UTC). You get an email after every charge."
)


def _iccid_of(data_dir: str, email: str) -> str:
    with sqlite3.connect(Path(data_dir) / PORTAL_DB) as conn:
        (row,) = conn.execute(
            "SELECT e.iccid FROM esim e JOIN app_user u ON u.id = e.user_id WHERE u.email = ?",
            (email,),
        ).fetchall()
    return str(row[0])


def _section_shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    section = page.get_by_test_id("auto-topup")
    section.scroll_into_view_if_needed()
    section.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_turn_on_see_the_statement_and_a_usage_drop_buys_once(
    app_url: str, app_env: dict[str, str], browser: Browser, app_sim: AppSimulator
) -> None:
    ctx = browser.new_context(viewport=DESKTOP, color_scheme="light")
    page = ctx.new_page()
    email = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    buy_france_1gb(page, app_url)
    page.get_by_text("Keep this card for later top-ups").click()
    pay_button(page).click()
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    page.get_by_role("link", name="My eSIMs").first.click()
    page.get_by_test_id("esim-card").click()
    expect(page).to_have_url(re.compile(r"/esims/\d+$"))
    esim_url = page.url

    section = page.get_by_test_id("auto-topup")
    expect(section.get_by_role("heading", name="Automatic top-up")).to_be_visible()
    page.get_by_test_id("auto-threshold").click()
    page.get_by_role("option", name="200 MB").click()
    page.get_by_test_id("auto-plan").click()
    page.get_by_role("option", name=re.compile(r"^France 1 GB · ")).click()
    expect(page.get_by_test_id("auto-card")).to_have_text("Visa •••• 4242")
    page.get_by_test_id("auto-review").click()
    expect(page.get_by_test_id("auto-statement")).to_have_text(STATEMENT)
    _section_shot(page, "auto-topup-statement-desktop-light")
    page.get_by_test_id("auto-confirm").click()
    expect(page.get_by_test_id("auto-rule")).to_have_text(STATEMENT)
    expect(page.get_by_test_id("auto-next")).to_have_text(
        "Next top-up when data left falls to 200 MB (now 1 GB)."
    )

    # 1 GB - 100 MB used on the platform, then read: 100 MB left, below 200 MB.
    endpoint = app_sim.sim_row(_iccid_of(app_env["DATA_DIR"], email))["endpoint_id"]
    assert app_sim.consume(endpoint, 1024 * MB - 100 * MB)["billedBytes"] == 924 * MB
    page.get_by_role("button", name="Refresh now").click()
    charge = page.get_by_test_id("auto-charge")
    expect(charge).to_have_count(1, timeout=60_000)
    expect(charge).to_contain_text("France 1 GB")
    expect(charge).to_contain_text("€4.50")
    expect(charge).to_contain_text("bought")
    order_link = charge.get_by_role("link", name="Order")
    expect(order_link).to_have_attribute("href", re.compile(r"/orders/[0-9a-f-]{36}$"))
    with sqlite3.connect(Path(app_env["DATA_DIR"]) / PORTAL_DB) as conn:
        kinds = conn.execute(
            "SELECT o.kind, o.amount_minor FROM purchase_order o JOIN app_user u"
            " ON u.id = o.user_id WHERE u.email = ? ORDER BY o.created_at",
            (email,),
        ).fetchall()
        mails = conn.execute(
            "SELECT kind FROM outbox_email WHERE to_address = ? AND kind = 'auto_topup'", (email,)
        ).fetchall()
    assert kinds == [("new_esim", 450), ("topup", 450)]
    assert len(mails) == 1
    _section_shot(page, "auto-topup-charged-desktop-light")
    shot(page, "esim-auto-topup-desktop-light")

    # The same section at phone width and in dark mode (the traveler's session).
    state = ctx.storage_state()
    for name, viewport, scheme in (
        ("desktop-dark", DESKTOP, "dark"),
        ("phone-light", PHONE, "light"),
        ("phone-dark", PHONE, "dark"),
    ):
        other = browser.new_context(viewport=viewport, color_scheme=scheme, storage_state=state)
        p = other.new_page()
        p.goto(esim_url)
        expect(p.get_by_test_id("auto-charge")).to_have_count(1)
        _section_shot(p, f"auto-topup-charged-{name}")
        other.close()
    page.get_by_test_id("auto-off").click()
    expect(page.get_by_test_id("auto-review")).to_be_visible()
    _section_shot(page, "auto-topup-off-desktop-light")
    ctx.close()

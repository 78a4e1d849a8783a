"""The whole purchase in a real browser: sign up, verify, buy, provision, install.

Expected values come from the platform itself (the app's own simulator: its stored records,
``tests/harness.py`` ``AppSimulator``) and from ``docs/esim.md#qr-code`` (QR content =
``LPA:`` + activation code) and ``docs/esim.md#install-links`` (one-tap links carry the same
string URL-encoded in ``carddata``).
"""

from __future__ import annotations

import io
import re
import sqlite3
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, shot
from tests.e2e.stripe_card import CARD_DECLINED, fill_card
from tests.harness import SIM_SMDP_ADDRESS, AppSimulator

PASSWORD = "correct horse battery"


def _outbox_link(data_dir: str, email: str) -> str:
    with sqlite3.connect(Path(data_dir) / "travelsim.db") as conn:
        rows = conn.execute(
            "SELECT body_text FROM outbox_email WHERE to_address = ? ORDER BY id DESC", (email,)
        ).fetchall()
    assert rows, "no verification email in the outbox"
    match = re.search(r"https?://\S+/auth/verify\?token=[\w\-]+", rows[0][0])
    assert match, rows[0][0]
    return match.group(0)


def sign_up_and_verify(page: Page, app_url: str, data_dir: str) -> str:
    email = f"traveler-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(f"{app_url}/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Check your inbox")).to_be_visible()
    link = _outbox_link(data_dir, email)
    page.goto(link.replace("http://localhost:3000", app_url))
    expect(page.get_by_role("button", name="Sign out").first).to_be_visible()
    return email


def buy_france_1gb(page: Page, app_url: str, total: str = "€4.50") -> str:
    """Choose France 1 GB on the home page and open its checkout, whose total is ``total``
    (the seed's price in the traveler's currency); the card box filled in. Returns the URL."""
    page.goto(app_url)
    page.get_by_test_id("destination-option").filter(has_text="France").click()
    page.locator("[data-plan-id='870101']").get_by_role("button", name="Choose").click()
    expect(page).to_have_url(re.compile(r"/buy/870101"))
    expect(page.get_by_test_id("checkout-total")).to_have_text(total)
    page.get_by_text("My phone supports eSIM").click()
    page.get_by_text("My phone is carrier-unlocked").click()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"checkout="))
    fill_card(page)
    return page.url


def test_sign_up_buy_and_install(
    app_url: str, app_env: dict[str, str], browser: Browser, app_sim: AppSimulator
) -> None:
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    buy_france_1gb(page, app_url)
    shot(page, "checkout-pay-desktop")
    pay = page.get_by_role("button", name=re.compile(r"^Pay"))
    pay.dblclick()  # a double click must not charge twice
    expect(page).to_have_url(re.compile(r"/orders/"), timeout=30_000)
    order_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    steps = page.get_by_test_id("step")
    expect(steps).to_have_count(4)
    for i in range(4):
        expect(steps.nth(i)).to_have_attribute("data-status", "done")
    shot(page, "order-delivered-desktop")

    with sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db") as conn:
        payments = conn.execute(
            "SELECT COUNT(*) FROM payment p JOIN purchase_order o ON o.checkout_id = p.checkout_id"
            " WHERE o.id = ? AND p.status IN ('authorized', 'succeeded')",
            (order_id,),
        ).fetchone()[0]
        iccid, esim_id, unique_id = conn.execute(
            "SELECT e.iccid, e.id, o.addon_unique_id FROM purchase_order o"
            " JOIN esim e ON e.id = o.esim_id WHERE o.id = ?",
            (order_id,),
        ).fetchone()
        stored = conn.execute("SELECT activation_code_enc FROM esim WHERE id = ?", (esim_id,))
        assert "LPA:" not in stored.fetchone()[0]  # encrypted at rest
    assert payments == 1

    page.get_by_role("button", name="Install your eSIM").click()
    expect(page).to_have_url(re.compile(rf"/esims/{esim_id}/install$"))
    smdp = page.get_by_test_id("smdp").inner_text()
    matching_id = page.get_by_test_id("matching-id").inner_text()

    # The platform's own records: the activation code of this ICCID (the simulator's SM-DP+
    # address and the SIM's matching id), the endpoint Active, exactly one add-on of plan
    # 870101 with the stored uniqueId.
    row = app_sim.sim_row(iccid)
    platform_code = f"LPA:1${SIM_SMDP_ADDRESS}${row['matching_id']}"
    assert platform_code == f"LPA:1${smdp}${matching_id}"
    assert row["endpoint_status"] == "Active"
    addon_rows = app_sim.addons(row["endpoint_id"])
    assert [(a["plan_id"], a["unique_id"]) for a in addon_rows] == [("870101", unique_id)]

    # QR image: exactly the activation code (docs/esim.md#qr-code), served only to the owner.
    png = page.request.get(f"{app_url}/esims/{esim_id}/qr.png")
    assert png.status == 200
    assert "private" in png.headers["cache-control"]
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.body())))
    assert [d.text for d in decoded] == [platform_code]
    assert httpx.get(f"{app_url}/esims/{esim_id}/qr.png").status_code == 404  # signed out

    for testid, host in (
        ("ios-link", "esimsetup.apple.com"),
        ("android-link", "esimsetup.android.com"),
    ):
        href = page.get_by_test_id(testid).get_attribute("href")
        assert href is not None
        parts = urlsplit(href)
        assert parts.netloc == host
        assert parse_qs(parts.query)["carddata"] == [platform_code]
    shot(page, "install-desktop")
    ctx.close()

    # Phone: one-tap and manual entry come before the QR (docs/esim.md#install-page-order).
    phone_ctx = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    )
    phone = phone_ctx.new_page()
    email = sign_up_and_verify(phone, app_url, app_env["DATA_DIR"])
    assert email
    phone.goto(f"{app_url}/esims/{esim_id}/install")
    expect(phone.get_by_text("eSIM not found")).to_be_visible()  # another traveler's eSIM
    phone_ctx.close()


def test_install_page_on_phone_puts_one_tap_first(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    )
    page = ctx.new_page()
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    buy_france_1gb(page, app_url)
    shot(page, "checkout-pay-phone")
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Install your eSIM").click()
    one_tap = page.get_by_test_id("ios-link").bounding_box()
    qr = page.get_by_test_id("qr").bounding_box()
    assert one_tap is not None and qr is not None
    assert one_tap["y"] < qr["y"]
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    shot(page, "install-phone")
    ctx.close()


def test_declined_card_charges_nothing(
    app_url: str, app_env: dict[str, str], desktop: Page
) -> None:
    sign_up_and_verify(desktop, app_url, app_env["DATA_DIR"])
    url = buy_france_1gb(desktop, app_url)
    fill_card(desktop, CARD_DECLINED)
    desktop.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(desktop.get_by_role("alert")).to_contain_text("declined")
    assert desktop.url == url  # still on the checkout, nothing created
    shot(desktop, "checkout-declined-desktop")

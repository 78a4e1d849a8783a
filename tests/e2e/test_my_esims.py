"""My eSIMs in a real browser: live gauges after usage, add-on states, top-up preview.

Expected figures come from the app's own simulator (its answers to the controls and its
stored add-ons, ``tests/harness.py`` ``AppSimulator``) and the documented rules: volumes in
bytes, 1 MB = 1,048,576 bytes (``docs/sft-platform.md#conventions``); an On Usage add-on starts
at the first data use and expires its validity days later, a top-up waits behind the running
plan (``docs/business-rules.md#add-on-life``); times shown in the viewer's zone, named
(``docs/esim.md#balance-and-validity``).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import DESKTOP, PHONE, shot
from tests.e2e.stripe_card import fill_card
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify
from tests.harness import PORTAL_DB, AppSimulator, sim_time
from travelsim.formatting import format_bytes
from travelsim.timefmt import local_datetime

MB = 1_048_576


def _iccid_of(data_dir: str, email: str) -> str:
    """The ICCID of the one eSIM the portal delivered to ``email`` (its own database)."""
    with sqlite3.connect(Path(data_dir) / PORTAL_DB) as conn:
        rows = conn.execute(
            "SELECT e.iccid FROM esim e JOIN app_user u ON u.id = e.user_id WHERE u.email = ?",
            (email,),
        ).fetchall()
    assert len(rows) == 1, rows
    return str(rows[0][0])


def test_usage_refresh_and_topup(
    app_url: str, app_env: dict[str, str], browser: Browser, app_sim: AppSimulator
) -> None:
    ctx = browser.new_context(viewport=DESKTOP, timezone_id="Europe/Brussels")
    page = ctx.new_page()
    email = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    buy_france_1gb(page, app_url)
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)

    page.get_by_role("link", name="My eSIMs").first.click()
    card = page.get_by_test_id("esim-card")
    expect(card).to_have_count(1)
    card.click()
    expect(page).to_have_url(re.compile(r"/esims/\d+$"))
    esim_path = page.url
    # This traveler's eSIM, from the portal's records; the page shows it once loaded (reading
    # the page's first <code> before that could give "" or a placeholder).
    iccid = _iccid_of(app_env["DATA_DIR"], email)
    expect(page.locator("code").first).to_have_text(iccid)

    # Freshly delivered: the whole 1 GB, validity not started (On Usage,
    # docs/esim.md#f7-validity-started-early).
    gauge = page.get_by_test_id("data-gauge")
    expect(gauge).to_have_attribute("aria-valuetext", "1 GB of 1 GB left (100 %)")
    expect(page.get_by_test_id("clock-text")).to_have_text(
        "Validity starts at your first data use at the destination."
    )
    expect(page.get_by_test_id("addon")).to_have_count(1)
    expect(page.get_by_test_id("addon").first).to_have_attribute("data-state", "waiting")
    shot(page, "esim-before-use-desktop")

    # Traffic on the platform, then "Refresh now" on the open page (no reload).
    endpoint = app_sim.sim_row(iccid)["endpoint_id"]
    (plan,) = app_sim.addons(endpoint)
    assert (plan["plan_id"], plan["volume"], plan["validity_days"]) == ("870101", 1024 * MB, 7)
    used = app_sim.consume(endpoint, 300 * MB)
    assert used["billedBytes"] == 300 * MB, used
    page.get_by_role("button", name="Refresh now").click()
    remaining = plan["volume"] - 300 * MB  # 1 GB minus 300 MB, in bytes
    percent = round(100 * remaining / (1024 * MB), 1)
    expect(gauge).to_have_attribute(
        "aria-valuetext", f"{format_bytes(remaining)} of 1 GB left ({percent:g} %)"
    )
    assert page.url == esim_path
    expect(page.get_by_test_id("addon").first).to_have_attribute("data-state", "active")
    expect(page.get_by_test_id("clock-text")).to_have_text("Validity started at your first use.")
    expect(page.get_by_test_id("countdown")).to_have_text(re.compile(r"^\d+ d \d\d:\d\d:\d\d$"))
    # Validity runs 7 days from that first use (the platform's time of it), shown in the
    # viewer's zone and named (Brussels in winter: CET).
    expiry = sim_time(used["recordedAt"]) + timedelta(days=plan["validity_days"])
    expect(page.get_by_test_id("expires")).to_have_text(
        "Expires " + local_datetime(expiry, "Europe/Brussels")
    )
    assert "CET" in local_datetime(expiry, "Europe/Brussels")
    first = page.get_by_test_id("countdown").inner_text()
    page.wait_for_timeout(1500)
    assert page.get_by_test_id("countdown").inner_text() != first  # it ticks
    shot(page, "esim-after-use-desktop")

    # Buy more data: the preview, then the result on the eSIM page.
    page.get_by_role("button", name="Buy more data").click()
    offer = page.locator("[data-testid='topup-offer'][data-plan-id='870102']")
    offer.get_by_role("button", name="Preview").click()
    rows = page.get_by_test_id("preview-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(format_bytes(remaining))
    expect(rows.nth(1)).to_contain_text("France 5 GB")
    expect(rows.nth(1)).to_contain_text("5 GB of 5 GB")
    preview_existing_expiry = rows.nth(0).locator("td").nth(4).inner_text()
    shot(page, "topup-preview-desktop")
    page.get_by_role("button", name="Continue to payment").click()
    # urls.buy: the destination, then the checkout (the top-up's eSIM is in France).
    expect(page).to_have_url(re.compile(r"/buy/870102\?to=FR&checkout=[0-9a-f-]{36}$"))
    fill_card(page)
    statuses = app_sim.state()["addons"]["byStatus"]
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="See your eSIM").click()
    addons = page.get_by_test_id("addon")
    expect(addons).to_have_count(2)
    assert [a["plan_id"] for a in app_sim.addons(endpoint)] == ["870101", "870102"]
    # On the platform the new add-on waits behind the running plan: one more "Subscribed"
    # add-on, as many "Active" ones as before.
    after = app_sim.state()["addons"]["byStatus"]
    assert after.get("Subscribed", 0) == statuses.get("Subscribed", 0) + 1, (statuses, after)
    assert after.get("Active", 0) == statuses.get("Active", 0), (statuses, after)
    expect(addons.nth(0)).to_have_attribute("data-state", "active")
    expect(addons.nth(1)).to_have_attribute("data-state", "waiting")
    expect(addons.nth(1)).to_contain_text("5 GB of 5 GB left")
    expect(addons.nth(0)).to_contain_text(preview_existing_expiry)
    total = 1024 * MB - 300 * MB + 5 * 1024 * MB
    expect(gauge).to_have_attribute(
        "aria-valuetext",
        f"{format_bytes(total - 0)} of 6 GB left ({round(100 * total / (6 * 1024 * MB), 1):g} %)",
    )
    shot(page, "esim-after-topup-desktop")

    # Phone width: the same page, readable, no horizontal scroll.
    phone = browser.new_context(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        timezone_id="Asia/Tokyo",
        color_scheme="dark",
    )
    phone.add_cookies(ctx.cookies())
    p = phone.new_page()
    p.goto(esim_path)
    expect(p.get_by_test_id("data-gauge")).to_be_visible()
    expect(p.get_by_test_id("expires")).to_contain_text("JST")
    assert p.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    shot(p, "esim-phone-dark")
    receipt_ctx = p
    receipt_ctx.goto(f"{app_url}/account")
    receipt_ctx.get_by_role("link", name="Receipt").first.click()
    expect(receipt_ctx.get_by_test_id("receipt")).to_contain_text("Total charged")
    # The receipt's date in the viewer's zone, named (Tokyo: JST), like the eSIM page.
    expect(receipt_ctx.get_by_test_id("receipt")).to_contain_text("JST")
    shot(receipt_ctx, "receipt-phone")
    phone.close()
    ctx.close()

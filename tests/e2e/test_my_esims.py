"""My eSIMs in a real browser: live gauges after usage, add-on states, top-up preview.

Expected figures are the simulator's own (its add-on details, read over its API) and
the documented units (1 MB = 1,048,576 bytes; France 1 GB = 1,073,741,824 bytes).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import DESKTOP, PHONE, shot
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify
from tests.integration.sim_fixtures import SimApi, start_sim_server
from travelsim.formatting import format_bytes
from travelsim.timefmt import local_datetime

MB = 1_048_576


@pytest.fixture
def sim(app_env: dict[str, str]):
    server = start_sim_server(Path(app_env["DATA_DIR"]) / "sft_simulator.db")
    api = SimApi(server.url)
    api.login()
    yield api
    api.close()
    server.stop()


def _sim_addons(sim: SimApi, iccid: str) -> list[dict]:
    row = sim.resp(sim.get("fetchSIM", iccid=iccid))["responseParam"]["rows"][0]
    rows = sim.resp(sim.get("GetEndpointAddonDetails", endPointId=row["endPointId"]))
    return list(rows["responseParam"]["rows"])


def test_usage_refresh_and_topup(
    app_url: str, app_env: dict[str, str], browser: Browser, sim: SimApi
) -> None:
    ctx = browser.new_context(viewport=DESKTOP, timezone_id="Europe/Brussels")
    page = ctx.new_page()
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    buy_france_1gb(page, app_url)
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)

    page.get_by_role("link", name="My eSIMs").first.click()
    card = page.get_by_test_id("esim-card")
    expect(card).to_have_count(1)
    card.click()
    expect(page).to_have_url(re.compile(r"/esims/\d+$"))
    esim_path = page.url
    iccid = page.locator("code").first.inner_text()

    # Freshly delivered: the whole 1 GB, validity not started (On Usage, esim-facts F7).
    gauge = page.get_by_test_id("data-gauge")
    expect(gauge).to_have_attribute("aria-valuetext", "1 GB of 1 GB left (100 %)")
    expect(page.get_by_test_id("clock-text")).to_have_text(
        "Validity starts at your first data use at the destination."
    )
    expect(page.get_by_test_id("addon")).to_have_count(1)
    expect(page.get_by_test_id("addon").first).to_have_attribute("data-state", "waiting")
    shot(page, "esim-before-use-desktop")

    # Traffic on the platform, then "Refresh now" on the open page (no reload).
    endpoint = sim.resp(sim.get("fetchSIM", iccid=iccid))["responseParam"]["rows"][0]["endPointId"]
    r = sim.ctl("POST", "consume", {"endPointId": endpoint, "bytes": 300 * MB})
    assert r.status_code == 200, r.text
    page.get_by_role("button", name="Refresh now").click()
    found = _sim_addons(sim, iccid)
    assert len(found) == 1, (iccid, found)
    (platform,) = found
    remaining = int(platform["remainingVolume"])
    assert remaining == 1024 * MB - 300 * MB  # 1 GB minus 300 MB, in bytes
    percent = round(100 * remaining / (1024 * MB), 1)
    expect(gauge).to_have_attribute(
        "aria-valuetext", f"{format_bytes(remaining)} of 1 GB left ({percent:g} %)"
    )
    assert page.url == esim_path
    expect(page.get_by_test_id("addon").first).to_have_attribute("data-state", "active")
    expect(page.get_by_test_id("clock-text")).to_have_text("Validity started at your first use.")
    expect(page.get_by_test_id("countdown")).to_have_text(re.compile(r"^\d+ d \d\d:\d\d:\d\d$"))
    # The platform's own expiry (start + 7 days, simulator clock), shown in the viewer's
    # zone and named (Brussels in winter: CET).
    expiry = datetime.strptime(platform["expiryDate"], "%d/%m/%Y %H:%M:%S").replace(tzinfo=UTC)
    started = datetime.strptime(platform["startDate"], "%d/%m/%Y %H:%M:%S").replace(tzinfo=UTC)
    assert expiry - started == timedelta(days=7)
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
    expect(page).to_have_url(re.compile(r"/buy/870102\?checkout="))
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry (MM/YY)").fill("12/39")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="See your eSIM").click()
    addons = page.get_by_test_id("addon")
    expect(addons).to_have_count(2)
    platform_rows = sorted(_sim_addons(sim, iccid), key=lambda a: int(a["uniqueId"]))
    assert [a["planId"] for a in platform_rows] == ["870101", "870102"]
    assert platform_rows[1]["status"] == "Subscribed"  # waits behind the running plan
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

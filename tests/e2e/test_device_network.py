"""The checkout's device check and network facts in a real Chromium
(docs/esim.md#device-compatibility, docs/esim.md#network-facts).

The browser is made an Android Pixel 8 through the Chromium DevTools Protocol
(``Emulation.setUserAgentOverride`` with ``userAgentMetadata``), so
``navigator.userAgentData.getHighEntropyValues(["model"])`` answers "Pixel 8" as on the
phone; the checkout suggests it and says it is supported. An unknown model shows the warning
and buying still works. The seeded regional Global 3 GB plan (starts in any covered country,
APN set by hand) shows the start warning and the destination's networks at checkout, and the
install page shows the start warning and the APN. Expected values come from the seed file.
"""

from __future__ import annotations

import json
import re

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PHONE, ROOT
from tests.e2e.stripe_card import fill_card, pay_button
from tests.e2e.test_purchase import sign_up_and_verify

SEED = json.loads((ROOT / "travelsim" / "seed" / "catalogue.json").read_text("utf-8"))
SEED_PLANS = {p["plan_id"]: p for p in SEED["plans"]}
PIXEL_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)


def as_android(page: Page, model: str) -> None:
    """Make ``page`` report ``model`` through User-Agent Client Hints (Android Chrome)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send(
        "Emulation.setUserAgentOverride",
        {
            "userAgent": PIXEL_UA.replace("Pixel 8", model),
            "userAgentMetadata": {
                "brands": [{"brand": "Chromium", "version": "126"}],
                "fullVersion": "126.0.0.0",
                "platform": "Android",
                "platformVersion": "14.0.0",
                "architecture": "",
                "model": model,
                "mobile": True,
            },
        },
    )


def _networks_text(code: str) -> str:
    return " · ".join(f"{n['name']} {n['generation']}" for n in SEED["networks"][code])


def test_pixel_8_is_suggested_and_an_unknown_model_still_buys(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = ctx.new_page()
    as_android(page, "Pixel 8")
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    assert SEED_PLANS["870301"]["starts_anywhere"] and SEED_PLANS["870301"]["apn"]
    page.goto(f"{app_url}/buy/870301?to=FR")
    verdict = page.get_by_test_id("device-verdict")
    expect(verdict).to_have_text("Google Pixel 8 — supported")
    expect(page.get_by_test_id("device-query")).to_have_value("Pixel 8")

    # The networks of the chosen destination, the hotspot rule, the start warning.
    expect(page.get_by_test_id("destination-networks")).to_have_text(
        f"🇫🇷 France: {_networks_text('FR')}"
    )
    expect(page.get_by_test_id("hotspot")).to_have_text(
        "Hotspot (sharing data with other devices): allowed."
    )
    warning = page.get_by_test_id("start-warning")
    expect(warning).to_contain_text(
        "Your plan starts when your phone first connects in any of these countries. "
        "Turn data roaming on only when you arrive."
    )
    expect(warning).to_contain_text("Thailand")
    expect(warning).to_contain_text("United States")

    # A model not in the list: the warning, then buying still works.
    query = page.get_by_test_id("device-query")
    query.fill("Nokia 3310")
    expect(verdict).to_contain_text("“Nokia 3310” is not in our list")
    expect(verdict).to_have_attribute("role", "alert")
    query.fill("iphone15")
    expect(verdict).to_contain_text("Apple iPhone 15 — supported, with a caveat")
    expect(verdict).to_contain_text("mainland China")
    query.fill("Nokia 3310")
    expect(verdict).to_contain_text("is not in our list")
    page.get_by_text("My phone supports eSIM").click()
    page.get_by_text("My phone is carrier-unlocked").click()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"checkout="))
    fill_card(page)
    pay_button(page).click()
    expect(page).to_have_url(re.compile(r"/orders/"), timeout=30_000)
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Install your eSIM").click()
    expect(page).to_have_url(re.compile(r"/esims/\d+/install$"))
    expect(page.get_by_test_id("apn")).to_have_text(SEED_PLANS["870301"]["apn"])
    expect(page.get_by_test_id("install-network").get_by_test_id("start-warning")).to_contain_text(
        "Turn data roaming on only when you arrive."
    )
    ctx.close()


def test_single_country_plan_checkout_has_no_start_warning(
    app_url: str, app_env: dict[str, str], desktop: Page
) -> None:
    page = desktop
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    page.goto(f"{app_url}/buy/870151")  # Thailand: hotspot not allowed in the seed
    assert SEED_PLANS["870151"]["hotspot"] is False
    expect(page.get_by_test_id("destination-networks")).to_have_text(
        f"🇹🇭 Thailand: {_networks_text('TH')}"
    )
    expect(page.get_by_test_id("hotspot")).to_have_text(
        "Hotspot (sharing data with other devices): not allowed."
    )
    expect(page.get_by_test_id("network-facts")).to_be_visible()
    expect(page.get_by_test_id("start-warning")).to_have_count(0)
    # A desktop browser reports no model: nothing is suggested, the check says so.
    expect(page.get_by_test_id("device-verdict")).to_contain_text("Not checked yet")


IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def test_an_iphone_is_asked_which_model(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = browser.new_context(viewport=PHONE, user_agent=IPHONE_UA, has_touch=True)
    page = ctx.new_page()
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    page.goto(f"{app_url}/buy/870101")
    expect(page.get_by_text("iPhone: which model?")).to_be_visible()
    expect(page.get_by_test_id("device-query")).to_have_count(0)
    expect(page.get_by_test_id("device-verdict")).to_contain_text("Not checked yet")
    page.locator("#device-iphone").click()
    page.get_by_role("option", name="iPhone 15", exact=True).click()
    verdict = page.get_by_test_id("device-verdict")
    expect(verdict).to_contain_text("Apple iPhone 15 — supported, with a caveat")
    expect(verdict).to_contain_text("US models have no SIM tray")
    expect(verdict.get_by_role("link", name="Manufacturer's page")).to_have_attribute(
        "href", "https://support.apple.com/en-us/101569"
    )
    ctx.close()

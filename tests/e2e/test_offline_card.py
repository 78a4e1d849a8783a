"""The install card kept for offline use, in real Chromium (docs/esim.md#offline-install-card).

A traveler buys (the real purchase flow: sign-up, Stripe card, provisioning by the app's
simulator) and opens the install page. Expected values come from the platform (the SIM's
matching ID in the simulator) and an independent QR decoder (zxing-cpp on a screenshot of the
card's QR as Chromium drew it).

* Before "Keep for offline use" nothing is cached (Cache Storage is empty, the service worker
  registered by every page notwithstanding); after it the named cache holds the card and its
  print script and the page says what is stored.
* With the network cut (``context.set_offline(True)``) the card's address still opens, from
  the cache: the activation code and a QR that decodes to the code; the PDF (never kept) does
  not open.
* "Remove from this device" empties the cache.
* A kept card the server now refuses (the session gone without a sign-out here) is dropped
  by the service worker at its next online request.
* Back online, "Sign out" lands on the home page signed out (``Clear-Site-Data`` on the
  redirect does not break it), Cache Storage is empty and, offline again, the card is not
  served any more.
"""

from __future__ import annotations

import io
import re
import sqlite3
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Error, Page, expect

from tests.e2e.conftest import DESKTOP
from tests.harness import SIM_SMDP_ADDRESS, AppSimulator
from tests.load.test_attack_browser import buy_and_deliver, settle
from travelsim.components.offline_card import CACHE_NAME, STORED_TEXT

pytestmark = pytest.mark.e2e
#: How Chromium reports a navigation that nothing answered with the network cut.
OFFLINE = r"ERR_INTERNET_DISCONNECTED|ERR_FAILED"


def _cache_keys(page: Page) -> list[str]:
    return list(page.evaluate("caches.keys()"))


def _kept_urls(page: Page) -> list[str]:
    return sorted(
        page.evaluate(
            """async (name) => (await caches.has(name))
                ? (await (await caches.open(name)).keys()).map((r) => r.url) : []""",
            CACHE_NAME,
        )
    )


def _matching_id(app_env: dict[str, str], app_sim: AppSimulator, esim_id: str) -> str:
    with sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db") as conn:
        (iccid,) = conn.execute("SELECT iccid FROM esim WHERE id = ?", (esim_id,)).fetchone()
    return str(app_sim.sim_row(iccid)["matching_id"])


def _qr_on_screen(page: Page) -> str:
    png = page.get_by_test_id("card-qr").screenshot()
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1
    return str(results[0].text)


def _keep(page: Page) -> None:
    expect(page.get_by_test_id("keep-offline")).to_be_enabled(timeout=15_000)
    assert _cache_keys(page) == []  # nothing cached by default
    page.get_by_test_id("keep-offline").click()
    expect(page.get_by_test_id("offline-stored")).to_have_text(STORED_TEXT, timeout=15_000)


def _offline_card(ctx: BrowserContext, page: Page, card_url: str) -> None:
    ctx.set_offline(True)
    try:
        page.goto(card_url)
    finally:
        ctx.set_offline(False)


def test_kept_card_opens_offline_and_goes_at_sign_out(
    app_url: str, app_env: dict[str, str], browser: Browser, app_sim: AppSimulator
) -> None:
    ctx = browser.new_context(viewport=DESKTOP, color_scheme="light")
    page = ctx.new_page()
    esim_id, _order = buy_and_deliver(page, app_url, app_env["DATA_DIR"])
    matching_id = _matching_id(app_env, app_sim, esim_id)
    lpa = f"LPA:1${SIM_SMDP_ADDRESS}${matching_id}"
    card_url = f"{app_url}/esims/{esim_id}/card?lang=en"
    settle(page)
    scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope == f"{app_url}/"  # every page registers the worker, scope "/"
    assert _cache_keys(page) == []

    _keep(page)
    assert _cache_keys(page) == [CACHE_NAME]
    assert _kept_urls(page) == sorted([card_url, f"{app_url}/install-card.js"])
    expect(page.get_by_test_id("open-offline-card")).to_have_attribute(
        "href", card_url.removeprefix(app_url)
    )

    ctx.set_offline(True)
    try:
        page.goto(card_url)
        expect(page.get_by_test_id("card-matching-id")).to_have_text(matching_id)
        expect(page.get_by_test_id("card-smdp")).to_have_text(SIM_SMDP_ADDRESS)
        expect(page.get_by_test_id("card-lpa")).to_have_text(lpa)
        assert _qr_on_screen(page) == lpa
        expect(page.locator("#print-card")).to_be_visible()  # its kept script ran
        with pytest.raises(Error, match=OFFLINE):
            page.goto(f"{app_url}/esims/{esim_id}/card.pdf?lang=en")  # never kept
    finally:
        ctx.set_offline(False)

    page.goto(f"{app_url}/esims/{esim_id}/install")
    expect(page.get_by_test_id("offline-stored")).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Sign out", exact=True).first.click()
    expect(page.get_by_role("link", name="Sign in").first).to_be_visible(timeout=15_000)
    expect(page).to_have_url(re.compile(re.escape(app_url) + r"/?$"))
    settle(page)
    assert CACHE_NAME not in _cache_keys(page)
    assert _cache_keys(page) == []
    names = [c["name"] for c in ctx.cookies()]
    assert "travelsim_session" not in names and "travelsim_currency" in names
    with pytest.raises(Error, match=OFFLINE):
        _offline_card(ctx, page, card_url)
    ctx.close()


def test_remove_from_this_device_empties_the_cache(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = browser.new_context(viewport=DESKTOP, color_scheme="light")
    page = ctx.new_page()
    esim_id, _order = buy_and_deliver(page, app_url, app_env["DATA_DIR"])
    settle(page)
    _keep(page)
    assert _cache_keys(page) == [CACHE_NAME]
    page.get_by_test_id("remove-offline-card").click()
    expect(page.get_by_test_id("keep-offline")).to_be_visible()
    expect(page.get_by_test_id("offline-stored")).to_have_count(0)
    assert _cache_keys(page) == []
    with pytest.raises(Error, match=OFFLINE):
        _offline_card(ctx, page, f"{app_url}/esims/{esim_id}/card?lang=en")
    ctx.close()


def test_a_card_the_server_refuses_is_forgotten(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    """A kept card whose address the server now answers 404 (this browser lost its session
    without signing out here: expired, or ended from another device) is dropped from the
    cache by the service worker, and so no longer opens offline."""
    ctx = browser.new_context(viewport=DESKTOP, color_scheme="light")
    page = ctx.new_page()
    esim_id, _order = buy_and_deliver(page, app_url, app_env["DATA_DIR"])
    card_url = f"{app_url}/esims/{esim_id}/card?lang=en"
    settle(page)
    _keep(page)
    assert card_url in _kept_urls(page)
    ctx.clear_cookies(name="travelsim_session")
    # The bodiless 404 (Chromium shows its own "HTTP ERROR 404" page for it).
    with pytest.raises(Error, match="ERR_HTTP_RESPONSE_CODE_FAILURE"):
        page.goto(card_url)
    reader = ctx.new_page()  # a page of the portal's origin, to read its caches
    reader.goto(f"{app_url}/status")
    settle(reader)
    assert _kept_urls(reader) == []
    assert _cache_keys(reader) == []  # its last card gone, the cache goes too
    with pytest.raises(Error, match=OFFLINE):
        _offline_card(ctx, reader, card_url)
    ctx.close()

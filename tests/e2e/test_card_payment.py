"""Paying with Stripe.js in a real browser, against the embedded localstripe.

The card is typed into localstripe's fake Stripe.js (``tests/e2e/stripe_card.py``); test cards
and their outcomes are Stripe's (https://docs.stripe.com/testing): 4242… is held, 4000 0000
0000 0002 declined, 4000 0025 0000 3155 asks for 3-D Secure, which localstripe's window
passes ("Complete authentication") or fails ("Fail authentication") (localstripe behaviour).
The card number, expiry and CVC must never reach the portal: not in a websocket frame (either
direction), not in a request to the portal's origin, not in the app's log.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, WebSocket, expect

from tests.e2e.conftest import DESKTOP, PHONE, shot
from tests.e2e.stripe_card import (
    CARD_3DS,
    CARD_DECLINED,
    CARD_OK,
    fill_card,
    pay_button,
    wait_card_ready,
)
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify
from tests.harness import AppServer

pytestmark = pytest.mark.e2e

SHOTS = Path("/work/shots")
#: Distinctive expiry and CVC (localstripe takes 3-digit CVCs only).
MONTH, YEAR, CVC = "11", "38", "864"
#: What may never be in a frame, a portal request or the log: the number (with and without
#: spaces), the CVC and expiry as a JSON or form value, and the card fields' names.
FORBIDDEN = [
    CARD_OK,
    "4242 4242 4242 4242",
    f'"{CVC}"',
    f"={CVC}",
    f"{MONTH}/{YEAR}",
    f"{MONTH}/20{YEAR}",
    "exp_month",
    "exp_year",
    "cvc",
    "card[number]",
]


def _db(app_env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db")


def _checkout_id(url: str) -> str:
    match = re.search(r"checkout=([\w-]+)", url)
    assert match, url
    return match.group(1)


def _payments(app_env: dict[str, str], checkout_id: str) -> list[tuple[str, str | None]]:
    with _db(app_env) as conn:
        return conn.execute(
            "SELECT status, provider_ref FROM payment WHERE checkout_id = ? ORDER BY id",
            (checkout_id,),
        ).fetchall()


class Wiretap:
    """Every websocket frame (sent and received) and every request body to the portal."""

    def __init__(self, page: Page, origin: str) -> None:
        self.frames: list[str] = []
        self.portal_bodies: list[str] = []
        page.on("websocket", self._socket)
        page.on("request", lambda r: self._request(r.url, r.post_data, origin))

    def _socket(self, ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: self.frames.append(_text(payload)))
        ws.on("framereceived", lambda payload: self.frames.append(_text(payload)))

    def _request(self, url: str, body: str | None, origin: str) -> None:
        if url.startswith(origin):
            self.portal_bodies.append(f"{url} {body or ''}")

    def leaks(self) -> list[str]:
        seen = "\n".join(self.frames + self.portal_bodies)
        return [word for word in FORBIDDEN if word in seen]


def _text(payload: str | bytes) -> str:
    return payload if isinstance(payload, str) else payload.decode(errors="replace")


@pytest.fixture
def tapped(browser: Browser, app_url: str) -> Iterator[tuple[Page, Wiretap]]:
    ctx = browser.new_context(viewport=DESKTOP, color_scheme="light")
    page = ctx.new_page()
    tap = Wiretap(page, app_url)
    yield page, tap
    ctx.close()


def test_buy_with_4242_no_card_data_reaches_the_portal(
    app_url: str, app_env: dict[str, str], app_server: AppServer, tapped: tuple[Page, Wiretap]
) -> None:
    page, tap = tapped
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    url = buy_france_1gb(page, app_url)
    fill_card(page, CARD_OK, month=MONTH, year=YEAR, cvc=CVC)
    pay_button(page).click()
    expect(page).to_have_url(re.compile(r"/orders/"), timeout=30_000)
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)

    rows = _payments(app_env, _checkout_id(url))
    assert len(rows) == 1, rows
    assert rows[0][0] in ("authorized", "succeeded"), rows
    assert (rows[0][1] or "").startswith("pi_"), rows
    assert tap.frames, "no websocket frame seen"
    # The browser did send a token id to the portal (and nothing else of the card).
    assert any(re.search(r"tok_[A-Za-z0-9]{6,}", f) for f in tap.frames)
    assert tap.leaks() == []
    log = app_server.log()
    assert [w for w in FORBIDDEN if w in log] == []


def test_declined_card_says_so_and_can_retry(
    app_url: str, app_env: dict[str, str], desktop: Page
) -> None:
    sign_up_and_verify(desktop, app_url, app_env["DATA_DIR"])
    url = buy_france_1gb(desktop, app_url)
    fill_card(desktop, CARD_DECLINED)
    pay_button(desktop).click()
    expect(desktop.get_by_role("alert")).to_contain_text("declined", timeout=20_000)
    assert desktop.url == url  # still on the checkout
    expect(pay_button(desktop)).to_be_enabled()
    shot(desktop, "card-declined-desktop")

    fill_card(desktop, CARD_OK)
    pay_button(desktop).click()
    expect(desktop.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    statuses = [s for s, _ in _payments(app_env, _checkout_id(url))]
    assert statuses[-1] in ("authorized", "succeeded"), statuses
    assert all(s == "declined" for s in statuses[:-1]), statuses


def test_3d_secure_passed(app_url: str, app_env: dict[str, str], desktop: Page) -> None:
    sign_up_and_verify(desktop, app_url, app_env["DATA_DIR"])
    url = buy_france_1gb(desktop, app_url)
    fill_card(desktop, CARD_3DS)
    pay_button(desktop).click()
    confirm = desktop.get_by_role("button", name="Complete authentication")
    expect(confirm).to_be_visible(timeout=20_000)
    expect(desktop.get_by_test_id("pay-notice")).to_contain_text("bank")
    expect(pay_button(desktop)).to_be_disabled()
    shot(desktop, "card-3ds-window-desktop")
    confirm.click()
    expect(desktop.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    rows = _payments(app_env, _checkout_id(url))
    assert len(rows) == 1 and rows[0][0] in ("authorized", "succeeded"), rows


def test_3d_secure_failed_then_another_card(
    app_url: str, app_env: dict[str, str], desktop: Page
) -> None:
    sign_up_and_verify(desktop, app_url, app_env["DATA_DIR"])
    url = buy_france_1gb(desktop, app_url)
    fill_card(desktop, CARD_3DS)
    pay_button(desktop).click()
    desktop.get_by_role("button", name="Fail authentication").click()
    expect(desktop.get_by_role("alert")).to_contain_text("3-D Secure", timeout=20_000)
    expect(desktop.get_by_role("alert")).not_to_contain_text("failed")
    expect(pay_button(desktop)).to_be_enabled()
    fill_card(desktop, CARD_OK)
    pay_button(desktop).click()
    expect(desktop.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    statuses = [s for s, _ in _payments(app_env, _checkout_id(url))]
    assert statuses[0] == "declined" and statuses[-1] in ("authorized", "succeeded"), statuses


def test_double_click_on_pay_pays_once(
    app_url: str, app_env: dict[str, str], desktop: Page
) -> None:
    sign_up_and_verify(desktop, app_url, app_env["DATA_DIR"])
    url = buy_france_1gb(desktop, app_url)
    fill_card(desktop, CARD_OK)
    # Three clicks in one task: faster than any re-render could disable the button.
    desktop.evaluate(
        """() => { const b = [...document.querySelectorAll('button')]
             .find((x) => x.textContent.trim().startsWith('Pay'));
           b.click(); b.click(); b.click(); }"""
    )
    expect(desktop.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    rows = _payments(app_env, _checkout_id(url))
    assert len(rows) == 1, rows
    with _db(app_env) as conn:
        orders = conn.execute(
            "SELECT COUNT(*) FROM purchase_order WHERE checkout_id = ?", (_checkout_id(url),)
        ).fetchone()[0]
    assert orders == 1


def test_kept_card_is_offered_for_the_next_purchase(
    app_url: str, app_env: dict[str, str], desktop: Page
) -> None:
    sign_up_and_verify(desktop, app_url, app_env["DATA_DIR"])
    buy_france_1gb(desktop, app_url)
    fill_card(desktop, CARD_OK)
    desktop.get_by_text("Keep this card for later top-ups").click()
    pay_button(desktop).click()
    expect(desktop.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)

    # The next checkout offers the kept card (chosen by default) or a new one.
    desktop.goto(app_url)
    desktop.get_by_label("Where are you going?").fill("France")
    desktop.get_by_test_id("destination-option").filter(has_text="France").first.click()
    desktop.locator("[data-plan-id='870101']").get_by_role("button", name="Choose").click()
    for box in ("My phone supports eSIM", "My phone is carrier-unlocked"):
        desktop.get_by_role("checkbox", name=box).check()
    desktop.get_by_role("button", name="Continue to payment").click()
    expect(desktop).to_have_url(re.compile(r"checkout="))
    saved = desktop.get_by_role("radio", name="•••• 4242 (Visa)")
    expect(saved).to_be_checked()
    expect(desktop.get_by_role("radio", name="A new card")).not_to_be_checked()
    expect(desktop.get_by_test_id("card-element")).to_be_hidden()
    url = desktop.url
    shot(desktop, "card-saved-choice-desktop")
    pay_button(desktop).click()
    expect(desktop.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    rows = _payments(app_env, _checkout_id(url))
    assert len(rows) == 1 and rows[0][0] in ("authorized", "succeeded"), rows


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pay_step_screenshots(
    app_url: str, app_env: dict[str, str], browser: Browser, scheme: str
) -> None:
    """The pay step at desktop (1366) and phone (390) width, light and dark, to
    /work/shots/card-*.png; the card box fits the phone and its label is visible."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, viewport, phone in (("desktop", DESKTOP, False), ("phone", PHONE, True)):
        ctx = browser.new_context(
            viewport=viewport,
            color_scheme=scheme,  # type: ignore[arg-type]
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
        )
        page = ctx.new_page()
        sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
        buy_france_1gb(page, app_url)
        wait_card_ready(page)
        expect(page.get_by_text("Card details", exact=True)).to_be_visible()
        expect(page.get_by_role("group", name="Card details")).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        page.screenshot(path=str(SHOTS / f"card-{name}-{scheme}.png"), full_page=True)
        ctx.close()


def test_stripe_unreachable_before_paying_charges_nothing(
    app_url: str, app_env: dict[str, str], app_server: AppServer, desktop: Page
) -> None:
    """The browser cannot reach Stripe when the card is tokenised: "Nothing was charged",
    the checkout stays, and Pay works once Stripe answers again."""
    sign_up_and_verify(desktop, app_url, app_env["DATA_DIR"])
    url = buy_france_1gb(desktop, app_url)
    tokens = f"{app_server.stripe_base}/v1/tokens"
    desktop.route(tokens, lambda route: route.abort("connectionrefused"))
    fill_card(desktop, CARD_OK)
    pay_button(desktop).click()
    expect(desktop.get_by_role("alert")).to_contain_text("Nothing was charged", timeout=20_000)
    assert desktop.url == url
    assert _payments(app_env, _checkout_id(url)) == []
    shot(desktop, "card-stripe-unreachable-desktop")

    desktop.unroute(tokens)
    pay_button(desktop).click()
    expect(desktop.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    assert len(_payments(app_env, _checkout_id(url))) == 1


def test_stripe_js_that_cannot_load_is_announced(
    app_url: str, app_env: dict[str, str], app_server: AppServer, desktop: Page
) -> None:
    sign_up_and_verify(desktop, app_url, app_env["DATA_DIR"])
    desktop.route(f"{app_server.stripe_base}/js.stripe.com/**", lambda route: route.abort("failed"))
    desktop.goto(app_url)
    desktop.get_by_test_id("destination-option").filter(has_text="France").click()
    desktop.locator("[data-plan-id='870101']").get_by_role("button", name="Choose").click()
    desktop.get_by_text("My phone supports eSIM").click()
    desktop.get_by_text("My phone is carrier-unlocked").click()
    desktop.get_by_role("button", name="Continue to payment").click()
    expect(desktop.get_by_test_id("card-failed")).to_have_attribute("role", "alert")
    expect(desktop.get_by_test_id("card-failed")).to_contain_text("could not be loaded")
    pay_button(desktop).click()  # nothing to tokenise: said in words, nothing charged
    expect(desktop.get_by_test_id("pay-error")).to_contain_text("Reload the page")

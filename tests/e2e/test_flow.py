"""Purchase-flow fixes in a real browser: one checkout per double click, the destination in
the URL, the support contact for confirmation codes, top-up and receipt wording, layout.

Expected values come from the test's own setup (the support contact configured in
``conftest.app_env``, the ISO code's regional-indicator flag computed here, the database rows
read back with sqlite3), never from the code under test.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, shot
from tests.e2e.stripe_card import wait_card_ready
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify

IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def portal_db(app_env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db")


def flag_of(code: str) -> str:
    """Emoji flag: the two regional-indicator symbols U+1F1E6.. of the ISO letters."""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code)


def all_shots(browser: Browser, state: Any | None, url: str, name: str) -> None:
    """Screenshots of ``url`` at desktop and phone width, light and dark (signed in with the
    cookies of ``state``)."""
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        for scheme in ("light", "dark"):
            extra: dict[str, Any] = {}
            if width == "phone":
                extra = {"is_mobile": True, "has_touch": True, "user_agent": IPHONE_UA}
            ctx = browser.new_context(
                viewport=viewport, color_scheme=scheme, storage_state=state, **extra
            )
            page = ctx.new_page()
            page.goto(url)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(600)
            shot(page, f"flow-{name}-{width}-{scheme}")
            ctx.close()


def user_checkouts(app_env: dict[str, str], email: str) -> list[tuple[str, str]]:
    with portal_db(app_env) as conn:
        return conn.execute(
            "SELECT c.id, c.status FROM checkout c JOIN app_user u ON u.id = c.user_id"
            " WHERE u.email = ?",
            (email,),
        ).fetchall()


def test_double_click_continue_opens_one_checkout_and_disables_the_button(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    email = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    page.goto(f"{app_url}/buy/870101?to=FR")
    page.get_by_text("My phone supports eSIM").click()
    page.get_by_text("My phone is carrier-unlocked").click()
    button = page.get_by_role("button", name="Continue to payment")
    expect(button).to_be_enabled()
    # Record whether the button is ever disabled while the reservation request runs.
    page.evaluate(
        """() => {
        window.__continueDisabled = false;
        const check = () => {
          for (const b of document.querySelectorAll('button')) {
            if (b.textContent.includes('Continue to payment') && b.disabled) {
              window.__continueDisabled = true;
            }
          }
        };
        new MutationObserver(check).observe(document.body,
          {subtree: true, childList: true, attributes: true});
      }"""
    )
    button.dblclick()
    expect(page).to_have_url(re.compile(r"checkout="), timeout=30_000)
    time.sleep(2)  # let a second queued click finish, if any

    rows = user_checkouts(app_env, email)
    assert len(rows) == 1, rows
    (checkout_id, status) = rows[0]
    assert status == "open"
    assert f"checkout={checkout_id}" in page.url
    shot(page, "flow-buy-pay-desktop")
    with portal_db(app_env) as conn:
        held = conn.execute(
            "SELECT checkout_id FROM esim WHERE state = 'reserved' AND checkout_id IN "
            "(SELECT c.id FROM checkout c JOIN app_user u ON u.id = c.user_id WHERE u.email = ?)",
            (email,),
        ).fetchall()
    assert held == [(checkout_id,)]
    assert page.evaluate("window.__continueDisabled") is True
    ctx.close()


def test_destination_is_in_the_url(app_url: str, browser: Browser) -> None:
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    page.goto(app_url)
    page.get_by_test_id("destination-option").filter(has_text="France").click()
    expect(page).to_have_url(re.compile(r"/\?to=FR$"))
    expect(page.get_by_role("heading", name=re.compile("Plans for France"))).to_be_visible()

    page.get_by_label("Where are you going?").fill("japa")
    page.get_by_test_id("destination-option").filter(has_text="Japan").click()
    expect(page).to_have_url(re.compile(r"/\?to=JP$"))
    expect(page.get_by_role("heading", name=re.compile("Plans for Japan"))).to_be_visible()

    page.go_back()  # the previous choice, not the page before the catalogue
    expect(page).to_have_url(re.compile(r"/\?to=FR$"))
    expect(page.get_by_role("heading", name=re.compile("Plans for France"))).to_be_visible()

    page.reload()
    expect(page.get_by_role("heading", name=re.compile("Plans for France"))).to_be_visible()
    expect(page.locator("[data-plan-id='870101']")).to_be_visible()

    page.go_back()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_text("Popular destinations")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Plans for"))).to_have_count(0)
    ctx.close()

    # A shared link opens straight on the destination (Japan: 4 offers in the seed).
    other = browser.new_context(viewport=DESKTOP)
    shared = other.new_page()
    shared.goto(f"{app_url}/?to=JP")
    expect(shared.get_by_role("heading", name=re.compile("Plans for Japan"))).to_be_visible()
    expect(shared.get_by_test_id("offer")).to_have_count(4)
    # An unknown code is ignored: the plain catalogue.
    shared.goto(f"{app_url}/?to=ZZ")
    expect(shared.get_by_text("Popular destinations")).to_be_visible()
    other.close()


def test_offer_card_says_when_validity_starts_once(app_url: str, desktop: Page) -> None:
    desktop.goto(app_url)
    desktop.get_by_test_id("destination-option").filter(has_text="Japan").click()
    for plan_id in ("870141", "870301"):  # on first use; at purchase
        card = desktop.locator(f"[data-plan-id='{plan_id}']")
        expect(card).to_be_visible()
        text = card.inner_text()
        assert len(re.findall(r"starts at", text, flags=re.IGNORECASE)) == 1, text


def _gaps(boxes: list[dict[str, float]]) -> tuple[list[float], list[float]]:
    """Horizontal gaps between neighbours on a row, and vertical gaps between rows (px)."""
    rows: dict[int, list[dict[str, float]]] = {}
    for b in boxes:
        rows.setdefault(round(b["y"]), []).append(b)
    across: list[float] = []
    for row in rows.values():
        ordered = sorted(row, key=lambda b: b["x"])
        across += [r["x"] - (left["x"] + left["width"]) for left, r in pairwise(ordered)]
    down = [b - max(r["y"] + r["height"] for r in rows[a]) for a, b in pairwise(sorted(rows))]
    return across, down


def test_chips_and_offer_cards_do_not_touch(app_url: str, browser: Browser) -> None:
    for viewport in (DESKTOP, PHONE):
        ctx = browser.new_context(viewport=viewport)
        page = ctx.new_page()
        page.goto(app_url)
        chips = page.get_by_test_id("destination-option")
        expect(chips.first).to_be_visible()
        across, down = _gaps([b for b in (c.bounding_box() for c in chips.all()) if b])
        assert across and min(across) >= 8, across
        assert all(d >= 8 for d in down), down

        page.goto(f"{app_url}/?to=FR")
        offers = page.get_by_test_id("offer")
        expect(offers.first).to_be_visible()
        across, down = _gaps([b for b in (o.bounding_box() for o in offers.all()) if b])
        assert down and min(down) >= 12, down
        assert all(a >= 12 for a in across), across
        ctx.close()


def test_signin_fields_fill_the_card(app_url: str, browser: Browser) -> None:
    for viewport in (DESKTOP, PHONE):
        ctx = browser.new_context(viewport=viewport)
        page = ctx.new_page()
        page.goto(f"{app_url}/signin")
        email = page.get_by_label("Email", exact=True)
        expect(email).to_be_visible()
        card = page.locator(".rt-Card").first.bounding_box()
        field = email.bounding_box()
        button = page.get_by_role("button", name="Sign in", exact=True).bounding_box()
        assert card is not None and field is not None and button is not None
        # Same width as the full-width button, and nearly the card's inner width.
        assert abs(field["width"] - button["width"]) <= 2, (field, button)
        assert field["width"] >= card["width"] - 64, (field, card)
        ctx.close()


def _flag_next_free_sim(app_env: dict[str, str]) -> str:
    """Make the platform answer the next eSIM the portal will reserve with a code whose 5th
    field asks for a confirmation code (``LPA:1$<smdp>$<matching id>$$1``). Returns its ICCID."""
    with portal_db(app_env) as conn:
        (iccid,) = conn.execute(
            "SELECT iccid FROM esim WHERE state = 'free' ORDER BY id LIMIT 1"
        ).fetchone()
    with sqlite3.connect(Path(app_env["DATA_DIR"]) / "sft_simulator.db") as sim:
        sim.execute(
            "UPDATE sim_sims SET matching_id = matching_id || '$$1' WHERE iccid = ?", (iccid,)
        )
    return str(iccid)


@pytest.fixture(scope="module")
def bought(app_url: str, app_env: dict[str, str], browser: Browser) -> Iterator[dict[str, Any]]:
    """One delivered France 1 GB eSIM whose profile needs a confirmation code, bought in the
    browser by a new traveler: ids, ICCID, order reference and the signed-in cookies."""
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    iccid = _flag_next_free_sim(app_env)
    buy_france_1gb(page, app_url)
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    order_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    with portal_db(app_env) as conn:
        esim_id, got_iccid, reference = conn.execute(
            "SELECT e.id, e.iccid, o.reference FROM purchase_order o"
            " JOIN esim e ON e.id = o.esim_id WHERE o.id = ?",
            (order_id,),
        ).fetchone()
    assert got_iccid == iccid
    yield {
        "state": ctx.storage_state(),
        "order_id": order_id,
        "esim_id": esim_id,
        "iccid": iccid,
        "reference": reference,
    }
    ctx.close()


def _page(browser: Browser, bought: dict[str, Any], viewport: dict[str, int]) -> Page:
    extra: dict[str, Any] = {}
    if viewport == PHONE:
        extra = {"is_mobile": True, "has_touch": True, "user_agent": IPHONE_UA}
    return browser.new_context(viewport=viewport, storage_state=bought["state"], **extra).new_page()


def test_install_page_says_support_gives_the_confirmation_code(
    app_url: str, app_env: dict[str, str], browser: Browser, bought: dict[str, Any]
) -> None:
    support_email = app_env["SUPPORT_EMAIL"]
    support_url = app_env["SUPPORT_URL"]
    page = _page(browser, bought, DESKTOP)
    page.goto(f"{app_url}/esims/{bought['esim_id']}/install")
    notice = page.get_by_test_id("confirmation-notice")
    expect(notice).to_be_visible()
    text = notice.inner_text()
    assert support_email in text and "support" in text.lower()
    assert notice.get_by_role("link", name=support_email).get_attribute("href") == (
        f"mailto:{support_email}"
    )
    assert notice.locator(f"a[href='{support_url}']").count() == 1
    # Not circular: the page does not say the code comes (or came) by email.
    assert "by email" not in text and "sent" not in text.lower()
    assert "email" not in text.lower().replace(support_email.lower(), "")
    assert page.get_by_text("confirmation code").count() == 1  # said once
    page.context.close()


def test_installation_email_says_support_gives_the_confirmation_code(
    app_env: dict[str, str], bought: dict[str, Any]
) -> None:
    support_email = app_env["SUPPORT_EMAIL"]
    support_url = app_env["SUPPORT_URL"]
    with portal_db(app_env) as conn:
        (body_text, body_html) = conn.execute(
            "SELECT body_text, body_html FROM outbox_email WHERE kind = 'installation'"
            " AND body_text LIKE ? ORDER BY id DESC",
            (f"%{bought['reference']}%",),
        ).fetchone()
    for body in (body_text, body_html):
        assert support_email in body and support_url in body
        para = next(p for p in re.split(r"\n\n|</p>", body) if "confirmation code" in p)
        assert support_email in para
        assert "install page" not in para and "separately" not in para


def test_receipt_shows_the_destination_with_its_flag(
    app_url: str, browser: Browser, bought: dict[str, Any]
) -> None:
    page = _page(browser, bought, DESKTOP)
    page.goto(f"{app_url}/orders/{bought['order_id']}/receipt")
    expect(page.get_by_test_id("receipt")).to_contain_text(f"{flag_of('FR')} France")
    page.context.close()


def test_receipt_title_keeps_the_reference_on_one_line_on_a_phone(
    app_url: str, browser: Browser, bought: dict[str, Any]
) -> None:
    phone = _page(browser, bought, PHONE)
    phone.goto(f"{app_url}/orders/{bought['order_id']}/receipt")
    expect(phone.get_by_test_id("receipt")).to_contain_text(bought["reference"])
    lines = phone.evaluate(
        """(ref) => {
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        let node;
        while ((node = walker.nextNode())) {
          const at = node.textContent.indexOf(ref);
          if (at >= 0) {
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + ref.length);
            return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
          }
        }
        return -1;
      }""",
        bought["reference"],
    )
    assert lines == 1
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    phone.context.close()


def test_topup_checkout_names_the_esim_and_reserves_nothing(
    app_url: str, browser: Browser, bought: dict[str, Any]
) -> None:
    page = _page(browser, bought, DESKTOP)
    page.goto(f"{app_url}/esims/{bought['esim_id']}/topup")
    page.get_by_test_id("topup-offer").first.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"checkout="))
    wait_card_ready(page)  # the Stripe.js card box
    body = page.locator("main").inner_text()
    assert not re.search(r"(^|\n)\s*2\.\s", body), body  # no "2. Pay" without a step 1
    assert "reserved" not in body.lower()
    target = page.get_by_test_id("topup-target")
    expect(target).to_contain_text(bought["iccid"][-4:])
    expect(target).to_contain_text(f"{flag_of('FR')} France")
    bought["topup_url"] = page.url
    page.context.close()


def test_flow_screenshots(app_url: str, browser: Browser, bought: dict[str, Any]) -> None:
    """Desktop and phone, light and dark, of every page this work changed (looked at by a
    person; the assertions are in the tests above)."""
    state = bought["state"]
    pages = [
        (f"{app_url}/buy/870101?to=FR", "buy"),
        (f"{app_url}/esims/{bought['esim_id']}/install", "install"),
        (f"{app_url}/orders/{bought['order_id']}/receipt", "receipt"),
        (f"{app_url}/?to=FR", "home"),
        (f"{app_url}/", "home-start"),
        (f"{app_url}/esims/{bought['esim_id']}/topup", "topup"),
    ]
    if "topup_url" in bought:
        pages.append((bought["topup_url"], "topup-checkout"))
    for url, name in pages:
        all_shots(browser, state, url, name)
    all_shots(browser, None, f"{app_url}/signin", "signin")

"""Dead ends a first traveler met, in a real browser.

* A failed 3-D Secure check (localstripe's "Fail authentication") declines that payment; the
  card box stays (the reservation kept) so that paying again works, charging exactly once.
* A refunded eSIM (staff refund: service withdrawn, endpoint suspended as staff, reason "3"
  per docs/business-rules.md#voids-and-refunds) says so once, offers neither more data nor
  installation, and names the support contact from the settings (``SUPPORT_EMAIL`` /
  ``SUPPORT_URL`` set by the e2e harness, :func:`tests.e2e.conftest.app_env`).
* Wording: figures reported but no use yet → "No data use reported yet"; a top-up checkout
  names an un-nicknamed eSIM "your eSIM" mid-sentence.

Expected values come from Stripe's test cards (https://docs.stripe.com/testing: 4000 0025 0000
3155 asks for 3-D Secure), the harness's settings and the app's database, not from the pages'
code.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, ROOT, shot
from tests.e2e.stripe_card import CARD_3DS, CARD_OK, fill_card, pay_button
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify

pytestmark = pytest.mark.e2e


def _db(app_env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db")


def test_failed_3d_secure_returns_to_the_card_box(
    app_url: str, app_env: dict[str, str], desktop: Page
) -> None:
    email = sign_up_and_verify(desktop, app_url, app_env["DATA_DIR"])
    url = buy_france_1gb(desktop, app_url)
    checkout_id = re.search(r"checkout=([\w-]+)", url).group(1)  # type: ignore[union-attr]
    fill_card(desktop, CARD_3DS)
    pay_button(desktop).click()
    # localstripe's 3-D Secure window (its fake Stripe.js): the bank says no.
    desktop.get_by_role("button", name="Fail authentication").click()

    # Declined in the traveler's words; the card box is still there for another card.
    expect(desktop.get_by_role("alert")).to_contain_text("3-D Secure")
    expect(desktop.get_by_test_id("card-element")).to_be_visible()
    shot(desktop, "dead-ends-3ds-declined-desktop")

    # The reservation is kept: paying again with a good card delivers the order.
    fill_card(desktop, CARD_OK)
    pay_button(desktop).click()
    expect(desktop.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    with _db(app_env) as conn:
        statuses = [
            r[0]
            for r in conn.execute(
                "SELECT status FROM payment WHERE checkout_id = ? ORDER BY id", (checkout_id,)
            )
        ]
        orders = conn.execute(
            "SELECT COUNT(*) FROM purchase_order o JOIN app_user u ON u.id = o.user_id"
            " WHERE u.email = ?",
            (email,),
        ).fetchone()[0]
    assert statuses[-1] in ("authorized", "succeeded"), statuses
    assert statuses[0] == "declined", statuses  # the 3155 payment, refused by the bank
    assert orders == 1


def _refund(app_env: dict[str, str], order_id: str) -> str:
    """Refund ``order_id`` as staff would (``admin.refund_order``), in a separate process on
    the app's own database and simulator; returns the action's result and message."""
    script = (
        "import asyncio, sys\n"
        "from travelsim.services import admin, platform\n"
        "async def main():\n"
        "    r = await admin.refund_order(None, sys.argv[1], client=platform.sft_client())\n"
        "    print(r.result, r.message)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, order_id],
        cwd=ROOT,
        env=app_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


#: Light and dark at both widths; the first two when fewer are asked for.
_VARIANTS = (
    ("desktop-light", DESKTOP, "light"),
    ("phone-dark", PHONE, "dark"),
    ("desktop-dark", DESKTOP, "dark"),
    ("phone-light", PHONE, "light"),
)


def _shots(
    browser: Browser, ctx: BrowserContext, url: str, test_id: str, name: str, count: int = 4
) -> None:
    """Screenshots ``dead-ends-<name>-<variant>`` of ``url`` as ``ctx``'s traveler, each once
    ``test_id`` shows."""
    for variant, viewport, scheme in _VARIANTS[:count]:
        shot_ctx = browser.new_context(
            viewport=viewport, color_scheme=scheme, storage_state=ctx.storage_state()
        )
        p = shot_ctx.new_page()
        p.goto(url)
        expect(p.get_by_test_id(test_id)).to_be_visible()
        shot(p, f"dead-ends-{name}-{variant}")
        shot_ctx.close()


def test_refunded_esim_page_says_so_once_and_names_support(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    email = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    buy_france_1gb(page, app_url)
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    with _db(app_env) as conn:
        order_id, esim_id, iccid = conn.execute(
            "SELECT o.id, e.id, e.iccid FROM purchase_order o JOIN esim e ON e.id = o.esim_id"
            " JOIN app_user u ON u.id = o.user_id WHERE u.email = ?",
            (email,),
        ).fetchone()

    # Figures reported, nothing used yet: the delay is named.
    page.goto(f"{app_url}/esims/{esim_id}")
    expect(page.get_by_test_id("usage-none")).to_have_text(
        "No data use reported yet.", timeout=30_000
    )
    expect(page.get_by_text("No data used yet")).to_have_count(0)

    # Top-up checkout: the default title is lower case mid-sentence.
    page.goto(f"{app_url}/esims/{esim_id}/topup")
    page.get_by_test_id("topup-offer").first.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"checkout="))
    expect(page.get_by_test_id("topup-target")).to_contain_text(
        f"The data is added to your eSIM (ICCID ending {iccid[-4:]})"
    )
    shot(page, "dead-ends-topup-target-desktop")

    # Staff refund (unused, never installed: allowed without forcing).
    out = _refund(app_env, order_id)
    assert out.startswith("ok "), out

    page.goto(f"{app_url}/esims/{esim_id}")
    main = page.locator("main")
    notice = page.get_by_test_id("esim-suspended")
    expect(notice).to_contain_text("This eSIM's order was refunded; it no longer works.")
    expect(main.get_by_text("This eSIM's order was refunded")).to_have_count(1)
    expect(main.get_by_text("This eSIM is suspended")).to_have_count(0)
    expect(main.get_by_text("Buy more data")).to_have_count(0)
    expect(main.get_by_text("Installation instructions")).to_have_count(0)
    expect(main.get_by_text("There is no data plan on this eSIM")).to_have_count(0)
    contact = notice.get_by_test_id("support-contact")
    expect(contact.get_by_role("link", name=app_env["SUPPORT_EMAIL"])).to_have_attribute(
        "href", f"mailto:{app_env['SUPPORT_EMAIL']}"
    )
    expect(contact.get_by_role("link", name=app_env["SUPPORT_URL"])).to_have_attribute(
        "href", app_env["SUPPORT_URL"]
    )
    _shots(browser, ctx, f"{app_url}/esims/{esim_id}", "esim-suspended", "refunded-esim")

    # The order page no longer says "ready, install it": the order was refunded
    # (docs/business-rules.md#voids-and-refunds: its service is withdrawn).
    page.goto(f"{app_url}/orders/{order_id}")
    expect(page.get_by_test_id("order-refunded")).to_have_text(
        "This order was refunded: its eSIM no longer works."
    )
    expect(page.get_by_test_id("order-delivered")).to_have_count(0)
    expect(page.get_by_role("button", name="Install your eSIM")).to_have_count(0)
    _shots(browser, ctx, f"{app_url}/orders/{order_id}", "order-refunded", "refunded-order", 2)

    # Nor does its install page show the activation data any more: it says why.
    page.goto(f"{app_url}/esims/{esim_id}/install")
    expect(page.get_by_role("heading", name="This eSIM no longer works")).to_be_visible()
    expect(page.get_by_test_id("esim-withdrawn")).to_contain_text("Its order was refunded")
    expect(page.get_by_role("img", name=re.compile("QR", re.I))).to_have_count(0)
    _shots(browser, ctx, f"{app_url}/esims/{esim_id}/install", "esim-withdrawn", "refunded-install")

    # Typing the top-up address anyway: refused, and the refusal names the contact too.
    page.goto(f"{app_url}/esims/{esim_id}/topup")
    page.get_by_test_id("topup-offer").first.get_by_role("button", name="Preview").click()
    refused = page.get_by_test_id("topup-refused")
    expect(refused).to_contain_text("Please contact support")
    expect(refused.get_by_role("link", name=app_env["SUPPORT_EMAIL"])).to_have_attribute(
        "href", f"mailto:{app_env['SUPPORT_EMAIL']}"
    )
    shot(page, "dead-ends-topup-refused-desktop")
    ctx.close()

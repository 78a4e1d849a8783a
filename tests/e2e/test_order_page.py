"""The order page and the staff admin papercuts in a real browser.

* The order page names the destination bought (flag and country name), for a new eSIM and
  for a top-up, and a top-up's steps say what they do: the data plan is added to the eSIM
  the traveler already has (nothing is "activated" or "delivered").
* A purchase whose activation hits transient platform faults (HTTP 500, injected in the
  app's own simulator from the staff simulator page) is not given up: the traveler reads
  "we are still setting up your eSIM", the payment stays captured, and the scheduler's
  recovery job delivers it by itself once the retry is due (docs/business-rules.md
  "Provisioning retries": first retry 1 min after the failure).
* Staff: list counts say "1 row"; "Void payment" is offered only while it applies and is
  gone once voided; the outbox says SMTP is not configured (the e2e app has none); date
  filters take YYYY-MM-DD UTC days and refuse mm/dd/yyyy.

Screenshots: desktop (1366x900) and phone (390x844), light and dark.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, shot
from tests.e2e.stripe_card import fill_card
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify
from tests.e2e.test_security_pages import rfc6238
from tests.e2e.test_staff_admin import _cli_staff, _notice

pytestmark = pytest.mark.e2e
#: Independent of the code: what each step of a top-up does, in the traveler's words.
TOPUP_STEPS = [
    "Checking your eSIM is active on the network",
    "Adding the data plan to your eSIM",
    "Confirming your top-up",
]
NEW_ESIM_STEPS = [
    "Activating your eSIM on the network",
    "Adding your data plan",
    "Preparing your installation QR code",
    "Delivering your eSIM",
]
FRANCE_FLAG = "\U0001f1eb\U0001f1f7"  # regional indicators F + R
#: 3 attempts in the first run, each answered HTTP 500 (the activation POST is never
#: resent by the client itself): the run ends on a transient fault.
FAULTS_PER_RUN = 3


def _db(app_env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db")


def _wait_for_scheduled_retry(app_env: dict[str, str], order_id: str) -> None:
    """Wait (at most 90 s) until the provisioning run has handed ``order_id`` to the
    scheduled retry (status back to ``paid``). The page says "still setting up" from the
    first failed try inside the run, before that hand-over."""
    deadline = time.monotonic() + 90
    status: tuple[str] | None = None
    while time.monotonic() < deadline:
        with _db(app_env) as conn:
            status = conn.execute(
                "SELECT status FROM purchase_order WHERE id = ?", (order_id,)
            ).fetchone()
        if status == ("paid",):
            return
        time.sleep(0.5)
    raise AssertionError(f"order {order_id} never waited for a scheduled retry: {status}")


def _shots(browser: Browser, ctx: BrowserContext, url: str, name: str, testid: str) -> None:
    """Full-page screenshots of ``url`` at desktop and phone width, light and dark, with the
    cookies of ``ctx`` (once ``testid`` is visible)."""
    for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        for scheme in ("light", "dark"):
            other = browser.new_context(
                viewport=viewport,
                color_scheme=scheme,  # type: ignore[arg-type]
                is_mobile=width_name == "phone",
                has_touch=width_name == "phone",
                device_scale_factor=2 if width_name == "phone" else 1,
            )
            other.add_cookies(ctx.cookies())
            page = other.new_page()
            page.goto(url)
            expect(page.get_by_test_id(testid).first).to_be_visible(timeout=30_000)
            assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
            shot(page, f"{name}-{width_name}-{scheme}")
            other.close()


def _staff(browser: Browser, app_url: str, data_dir: str, app_env: dict[str, str]) -> Page:
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    email = sign_up_and_verify(page, app_url, data_dir)
    _cli_staff(app_env, "grant", email)
    page.goto(f"{app_url}/admin")
    expect(page).to_have_url(re.compile(r"/security/totp"))
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    page.get_by_label("6-digit code").fill(rfc6238(secret, time.time()))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/admin/?$"))
    return page


def _buy_france_again(page: Page, app_url: str) -> None:
    """``buy_france_1gb`` for a traveler who already has an eSIM (search the destination)."""
    page.goto(app_url)
    page.get_by_label("Where are you going?").fill("France")
    page.get_by_test_id("destination-option").filter(has_text="France").first.click()
    page.locator("[data-plan-id='870101']").get_by_role("button", name="Choose").click()
    expect(page).to_have_url(re.compile(r"/buy/870101"))
    for box in ("My phone supports eSIM", "My phone is carrier-unlocked"):
        page.get_by_role("checkbox", name=box).check()  # may be remembered from before
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"checkout="))
    fill_card(page)


def _pay(page: Page) -> None:
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page).to_have_url(re.compile(r"/orders/[0-9a-f-]{36}"), timeout=60_000)


def _step_labels(page: Page, n: int) -> list[str]:
    steps = page.get_by_test_id("step")
    expect(steps).to_have_count(n)
    return [steps.nth(i).inner_text().split("\n")[0].strip() for i in range(n)]


@pytest.mark.timeout(900)  # waits for the scheduler's recovery job (about 1-2 min)
def test_order_page_destination_topup_steps_and_still_setting_up(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    data_dir = app_env["DATA_DIR"]
    ctx = browser.new_context(viewport=DESKTOP)
    traveler = ctx.new_page()
    traveler_email = sign_up_and_verify(traveler, app_url, data_dir)

    # A new eSIM: its destination and the new-eSIM steps.
    buy_france_1gb(traveler, app_url)
    _pay(traveler)
    expect(traveler.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    dest = traveler.get_by_test_id("order-destination")
    expect(dest).to_contain_text("France")
    expect(dest).to_contain_text(FRANCE_FLAG)
    assert _step_labels(traveler, 4) == NEW_ESIM_STEPS
    first_order = traveler.url
    with _db(app_env) as conn:
        (esim_id,) = conn.execute(
            "SELECT o.esim_id FROM purchase_order o JOIN app_user u ON u.id = o.user_id"
            " WHERE u.email = ?",
            (traveler_email,),
        ).fetchone()

    # A top-up of that eSIM: steps named for what they do, the destination repeated.
    traveler.goto(f"{app_url}/esims/{esim_id}")
    traveler.get_by_role("button", name="Buy more data").click()
    offer = traveler.locator("[data-testid='topup-offer'][data-plan-id='870102']")
    offer.get_by_role("button", name="Preview").click()
    traveler.get_by_role("button", name="Continue to payment").click()
    # urls.buy: the destination, then the checkout (the top-up's eSIM is in France).
    expect(traveler).to_have_url(re.compile(r"/buy/870102\?to=FR&checkout=[0-9a-f-]{36}$"))
    fill_card(traveler)
    _pay(traveler)
    expect(traveler.get_by_test_id("order-summary")).to_contain_text("Top-up", timeout=60_000)
    expect(traveler.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    assert _step_labels(traveler, 3) == TOPUP_STEPS
    expect(traveler.get_by_text("Activating your eSIM")).to_have_count(0)
    expect(traveler.get_by_text("Delivering your eSIM")).to_have_count(0)
    expect(traveler.get_by_test_id("order-destination")).to_contain_text("France")
    expect(traveler.get_by_test_id("order-summary")).to_contain_text("Top-up")
    topup_order = traveler.url
    _shots(browser, ctx, topup_order, "order-topup", "order-delivered")
    _shots(browser, ctx, first_order, "order-new-esim", "order-delivered")

    # Staff: the outbox hint (no SMTP in this app), then transient faults on activation.
    staff = _staff(browser, app_url, data_dir, app_env)
    staff.goto(f"{app_url}/admin/outbox")
    hint = staff.get_by_test_id("outbox-smtp-hint")
    expect(hint).to_contain_text("SMTP is not configured")
    expect(hint).to_contain_text("SMTP_HOST")
    _shots(browser, staff.context, f"{app_url}/admin/outbox", "admin-outbox", "outbox-smtp-hint")

    def fault_activation() -> None:
        staff.goto(f"{app_url}/admin/simulator")
        staff.get_by_label("Operation").fill("EndPointLifeCycleChange")
        staff.get_by_label("Fault kind").click()
        staff.get_by_role("option", name="http500").click()
        staff.get_by_label("Count").fill(str(FAULTS_PER_RUN))
        staff.get_by_role("button", name="Inject fault").click()
        _notice(staff, "ok", "http500 on EndPointLifeCycleChange")

    # A purchase while the platform answers HTTP 500: still setting up, not a failure.
    fault_activation()
    _buy_france_again(traveler, app_url)
    _pay(traveler)
    retrying_url = traveler.url
    expect(traveler.get_by_test_id("order-retrying")).to_be_visible(timeout=90_000)
    expect(traveler.get_by_test_id("order-retrying")).to_contain_text(
        "We are still setting up your eSIM"
    )
    expect(traveler.get_by_test_id("order-needs-attention")).to_have_count(0)
    activate = traveler.locator("[data-testid='step'][data-step='activate']")
    expect(activate).to_have_attribute("data-status", "retrying")
    _shots(browser, ctx, retrying_url, "order-still-setting-up", "order-retrying")
    order_id = retrying_url.rstrip("/").rsplit("/", 1)[-1]
    _wait_for_scheduled_retry(app_env, order_id)
    with _db(app_env) as conn:
        status, pay_status, retries = conn.execute(
            "SELECT o.status, p.status, o.retry_count FROM purchase_order o"
            " JOIN payment p ON p.id = o.payment_id WHERE o.id = ?",
            (order_id,),
        ).fetchone()
    # Not delivered yet: the amount is held on the card ("authorized"), captured only once
    # the eSIM is delivered (issue 18: charged only for a delivered eSIM).
    assert (status, pay_status, retries) == ("paid", "authorized", 1)

    # Staff see the retry on the order; the list counts "1 row".
    staff.goto(f"{app_url}/admin/orders?order={order_id}")
    expect(staff.get_by_test_id("order-retry")).to_contain_text("automatic retry 1 due")
    staff.get_by_label("Reference").fill(
        staff.get_by_test_id("order-reference").inner_text().strip()
    )
    staff.get_by_role("button", name="Search").click()
    expect(staff.get_by_test_id("order-row")).to_have_count(1)
    expect(staff.get_by_test_id("orders-table-count")).to_have_text(re.compile(r"· 1 row$"))

    # Nobody acts: the scheduler's recovery job retries it when due and delivers it.
    traveler.goto(retrying_url)
    expect(traveler.get_by_test_id("order-delivered")).to_be_visible(timeout=240_000)
    with _db(app_env) as conn:
        status, pay_status = conn.execute(
            "SELECT o.status, p.status FROM purchase_order o"
            " JOIN payment p ON p.id = o.payment_id WHERE o.id = ?",
            (order_id,),
        ).fetchone()
    assert (status, pay_status) == ("delivered", "succeeded")  # captured, never voided

    # Void: offered while the order waits, gone once voided (and refused a second time).
    fault_activation()
    _buy_france_again(traveler, app_url)
    _pay(traveler)
    expect(traveler.get_by_test_id("order-retrying")).to_be_visible(timeout=90_000)
    void_id = traveler.url.rstrip("/").rsplit("/", 1)[-1]
    # Staff can void only once the run has handed the order to the scheduled retry (a live
    # run's lease refuses a void).
    _wait_for_scheduled_retry(app_env, void_id)
    staff.goto(f"{app_url}/admin/orders?order={void_id}")
    void = staff.get_by_role("button", name="Release payment hold (void)")
    expect(void).to_be_visible()
    expect(staff.get_by_role("button", name="Refund payment")).to_have_count(0)
    void.click()
    _notice(staff, "ok", "payment voided")
    expect(staff.get_by_test_id("payment-status")).to_contain_text("voided")
    expect(staff.get_by_role("button", name="Release payment hold (void)")).to_have_count(0)
    expect(staff.get_by_role("button", name="Refund payment")).to_have_count(0)
    expect(staff.get_by_test_id("no-payment-action")).to_contain_text("voided")
    _shots(
        browser,
        staff.context,
        f"{app_url}/admin/orders?order={void_id}",
        "admin-order-voided",
        "order-detail",
    )

    # Date filters: YYYY-MM-DD UTC days; a mm/dd/yyyy date is refused with the format.
    staff.goto(f"{app_url}/admin/orders")
    staff.get_by_label("From (UTC, YYYY-MM-DD)").fill("12/01/2026")
    staff.get_by_role("button", name="Search").click()
    _notice(staff, "refused", "YYYY-MM-DD")
    with _db(app_env) as conn:
        (today,) = conn.execute(
            "SELECT substr(created_at, 1, 10) FROM purchase_order WHERE id = ?", (void_id,)
        ).fetchone()
    staff.get_by_label("From (UTC, YYYY-MM-DD)").fill(today)
    staff.get_by_label("To (UTC, YYYY-MM-DD)").fill(today)
    staff.get_by_role("button", name="Search").click()
    expect(staff.get_by_test_id("order-row").first).to_be_visible()
    expect(staff.get_by_test_id("orders-table-count")).to_have_text(re.compile(r"\d+ rows?$"))
    _shots(browser, staff.context, f"{app_url}/admin/orders", "admin-orders", "orders-table")
    staff.context.close()
    ctx.close()

"""The staff admin in a real browser: a staff member (role granted by the CLI, second factor
set up from the enrolment page) performs each action and sees its effect in the portal (admin
pages, the traveler's pages, the app's database) and on the platform (the app's own
simulator: its controls and stored records, ``tests/harness.py`` ``AppSimulator``). A
traveler gets nothing from ``/admin``.

Expected values come from the simulator (add-ons, billed usage, endpoint status, profile
status) and from the documents (no refund once data was used,
``docs/business-rules.md#voids-and-refunds``; staff suspension with reason "3",
``docs/business-rules.md#staff-suspension``), plus an independent RFC 6238 implementation for
the TOTP codes.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP, E2E_CALLBACK_TOKEN, PHONE, ROOT, shot
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify
from tests.e2e.test_security_pages import rfc6238
from tests.harness import AppSimulator
from travelsim.formatting import format_bytes

pytestmark = pytest.mark.e2e
MB = 1_048_576
ACTION_TIMEOUT = 90_000


def _db(app_env: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db")


def _cli_staff(app_env: dict[str, str], action: str, email: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "travelsim.cli", "staff", action, email],
        cwd=ROOT,
        env=app_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _notice(page: Page, result: str, text: str | re.Pattern[str] | None = None) -> None:
    notice = page.get_by_test_id("admin-notice")
    expect(notice).to_have_attribute("data-result", result, timeout=ACTION_TIMEOUT)
    if text is not None:
        expect(notice).to_contain_text(text)


def _no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


# One walk through every staff section (about 4 minutes on two idle cores): more than the
# suite's default 300 s per test on a busy machine.
@pytest.mark.timeout(600)
def test_staff_admin_actions(
    app_url: str, app_env: dict[str, str], browser: Browser, app_sim: AppSimulator
) -> None:
    data_dir = app_env["DATA_DIR"]
    # A traveler buys an eSIM.
    traveler_ctx = browser.new_context(viewport=DESKTOP)
    traveler = traveler_ctx.new_page()
    traveler_email = sign_up_and_verify(traveler, app_url, data_dir)
    buy_france_1gb(traveler, app_url)
    traveler.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(traveler.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    with _db(app_env) as conn:
        order_id, reference, esim_id, iccid, endpoint = conn.execute(
            "SELECT o.id, o.reference, e.id, e.iccid, e.endpoint_id FROM purchase_order o"
            " JOIN esim e ON e.id = o.esim_id JOIN app_user u ON u.id = o.user_id"
            " WHERE u.email = ?",
            (traveler_email,),
        ).fetchone()

    # The traveler gets nothing from /admin: sent home, no figures, no Admin link.
    traveler.goto(f"{app_url}/admin/orders?order={order_id}")
    expect(traveler).to_have_url(re.compile(re.escape(app_url) + r"/?$"))
    expect(traveler.get_by_text("Orders today")).to_have_count(0)
    expect(traveler.get_by_role("link", name="Admin")).to_have_count(0)

    # A staff member: the role from the CLI, then the second factor before any admin page.
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    staff_email = sign_up_and_verify(page, app_url, data_dir)
    assert "ok: staff role granted" in _cli_staff(app_env, "grant", staff_email)
    page.goto(f"{app_url}/admin")
    expect(page).to_have_url(re.compile(r"/security/totp"))
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    page.get_by_label("6-digit code").fill(rfc6238(secret, time.time()))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/admin/?$"))
    expect(page.get_by_test_id("fig-orders-today")).not_to_have_text("0")
    expect(page.get_by_test_id("sft-status")).to_contain_text("reachable", timeout=30_000)
    expect(page.get_by_role("link", name="Admin").first).to_be_visible()

    # A body the portal does not understand, from the authenticated platform: answered 200,
    # kept for staff and shown as text (its markup is never run).
    odd = '{"eventType": "Something New", "note": "<b id=injected>not an event</b>"}'
    answer = httpx.post(
        f"{app_url}/callbacks/sft",
        content=odd,
        headers={"X-Authorization": f"Bearer {E2E_CALLBACK_TOKEN}"},
        timeout=30,
    )
    assert answer.status_code == 200 and answer.json()["unrecognised"] == 1, answer.text
    page.reload()
    row = page.get_by_test_id("unrecognised-row").first
    expect(row).to_contain_text("<b id=injected>not an event</b>")
    expect(page.locator("#injected")).to_have_count(0)
    shot(page, "admin-overview-desktop")

    # Orders: search by traveler, open it: its four steps done; resend the email.
    page.get_by_role("link", name="Orders", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/orders"))
    page.get_by_label("Traveler email").fill(traveler_email)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("order-row")).to_have_count(1)
    page.get_by_test_id("order-row").get_by_role("link", name=reference).click()
    expect(page.get_by_test_id("order-reference")).to_have_text(reference)
    steps = page.get_by_test_id("admin-step")
    expect(steps).to_have_count(4)
    for i in range(4):
        expect(steps.nth(i)).to_have_attribute("data-status", "done")
    expect(page.get_by_test_id("refund-rule")).to_contain_text("allowed")
    # The payment's Stripe PaymentIntent id, to find it in the Stripe Dashboard.
    with _db(app_env) as conn:
        (intent,) = conn.execute(
            "SELECT p.provider_ref FROM payment p JOIN purchase_order o ON o.payment_id = p.id"
            " WHERE o.id = ?",
            (order_id,),
        ).fetchone()
    assert intent.startswith("pi_")
    expect(page.get_by_test_id("payment-status")).to_contain_text(intent)
    shot(page, "admin-order-desktop")
    page.get_by_role("button", name="Resend installation email").click()
    _notice(page, "ok", "installation email queued")
    with _db(app_env) as conn:
        sent = conn.execute(
            "SELECT COUNT(*) FROM outbox_email WHERE to_address = ? AND kind = 'installation'",
            (traveler_email,),
        ).fetchone()[0]
    assert sent == 2

    # eSIMs: simulator data use, then the figures in the admin and on the traveler's page.
    page.goto(f"{app_url}/admin/esims?esim={esim_id}")
    expect(page.get_by_test_id("esim-iccid")).to_have_text(iccid)
    page.get_by_label("Megabytes to consume").fill("200")
    page.get_by_role("button", name="Consume data").click()
    _notice(page, "ok", "200 MB billed")
    (addon,) = app_sim.addons(endpoint)
    assert (addon["plan_id"], addon["volume"]) == ("870101", 1024 * MB)
    assert app_sim.billed_bytes(endpoint) == 200 * MB
    remaining = addon["volume"] - 200 * MB
    expect(page.get_by_test_id("admin-addon").first).to_contain_text(format_bytes(remaining))
    traveler.goto(f"{app_url}/esims/{esim_id}")
    expect(traveler.get_by_test_id("data-gauge")).to_have_attribute(
        "aria-valuetext", re.compile(re.escape(f"{format_bytes(remaining)} of 1 GB left"))
    )

    # Refund refused: data was used (docs/business-rules.md#voids-and-refunds).
    page.goto(f"{app_url}/admin/orders?order={order_id}")
    page.get_by_role("button", name="Refund payment").click()
    _notice(page, "refused", "200 MB of data already used")

    # Suspend as staff: the platform says Suspended; the traveler is told to contact support.
    page.goto(f"{app_url}/admin/esims?esim={esim_id}")
    page.get_by_role("button", name="Suspend endpoint").click()
    _notice(page, "ok", re.compile(r"endpoint suspended", re.IGNORECASE))
    assert app_sim.endpoint_status(endpoint) == "Suspended"
    expect(page.get_by_test_id("esim-endpoint-status")).to_contain_text("Staff (CSR)")
    traveler.goto(f"{app_url}/esims/{esim_id}")
    expect(traveler.get_by_text("This eSIM is suspended. Please contact support")).to_be_visible()
    page.get_by_role("button", name="Resume endpoint").click()
    # Wait for this action's own notice (the suspend notice above also says "ok").
    _notice(page, "ok", re.compile(r"endpoint active", re.IGNORECASE))
    assert app_sim.endpoint_status(endpoint) == "Active"

    # Goodwill add-on: one more instance of 870102 on the platform.
    page.get_by_label("Goodwill plan").click()
    page.get_by_role("option", name=re.compile(r"^870102")).click()
    page.get_by_label("Goodwill note").fill("sorry for the outage")
    page.get_by_role("button", name="Give goodwill add-on").click()
    _notice(page, "ok", re.compile(r"goodwill 870102 as order \S+: delivered"))
    assert [a["plan_id"] for a in app_sim.addons(endpoint)] == ["870101", "870102"]
    expect(page.get_by_test_id("admin-addon")).to_have_count(2)

    # Simulator: the profile is installed (F1), then refresh from SFT shows it.
    page.get_by_label("Profile status").click()
    page.get_by_role("option", name="deleted", exact=True).click()
    page.get_by_role("button", name="Set profile status").click()
    _notice(page, "ok", "-> deleted")
    assert app_sim.sim_row(iccid)["profile_status"] == "deleted"
    page.get_by_role("button", name="Refresh from SFT").click()
    _notice(page, "ok", "refreshed from SFT")
    expect(page.get_by_test_id("esim-install")).to_contain_text("deleted")
    shot(page, "admin-esim-desktop")

    # Replace: a new eSIM with the live plans; the old endpoint suspended.
    page.get_by_label("Replacement note").fill("profile deleted (F1)")
    page.get_by_role("button", name="Replace eSIM").click()
    _notice(page, "ok", "new eSIM")
    with _db(app_env) as conn:
        new_id, new_endpoint = conn.execute(
            "SELECT e.id, e.endpoint_id FROM esim_replacement r JOIN esim e"
            " ON e.id = r.new_esim_id WHERE r.old_esim_id = ?",
            (esim_id,),
        ).fetchone()
    assert app_sim.endpoint_status(endpoint) == "Suspended"
    assert app_sim.endpoint_status(new_endpoint) == "Active"
    assert sorted(a["plan_id"] for a in app_sim.addons(new_endpoint)) == ["870101", "870102"]
    expect(page.get_by_test_id("replaced-by")).to_contain_text(str(new_id))
    traveler.goto(f"{app_url}/account")
    expect(traveler.get_by_test_id("esim-card")).to_have_count(2)

    # Catalogue: price and name of the UK plan; the traveler's plan list shows them.
    # Opened directly, a staff page's header names the currency as a traveler page does.
    page.goto(app_url)
    expect(page.get_by_test_id("currency-menu").first).to_have_text(re.compile(r"^[A-Z]{3}$"))
    currency = page.get_by_test_id("currency-menu").first.inner_text()
    page.goto(f"{app_url}/admin/catalogue")
    expect(page.get_by_test_id("currency-menu").first).to_have_text(currency)
    page.locator("[data-testid='plan-row'][data-plan-id='870161']").get_by_role(
        "button", name="Edit"
    ).click()
    editor = page.get_by_test_id("plan-editor")
    editor.get_by_label("Display name").fill("UK 3 GB Special")
    editor.get_by_label("Price (e.g. 4.50; empty = none)").fill("7.90")
    shot(page, "admin-catalogue-desktop")
    editor.get_by_role("button", name="Save").click()
    _notice(page, "ok", "€7.90")
    traveler.goto(app_url)
    traveler.get_by_label("Where are you going?").fill("united king")
    traveler.get_by_test_id("destination-option").filter(has_text="United Kingdom").click()
    offer = traveler.locator("[data-testid='offer'][data-plan-id='870161']")
    expect(offer.get_by_test_id("offer-price")).to_have_text("€7.90")
    expect(offer).to_contain_text("UK 3 GB Special")

    # Outbox: the traveler's emails with their state.
    page.goto(f"{app_url}/admin/outbox")
    page.get_by_label("To contains").fill(traveler_email)
    page.get_by_role("button", name="Search").click()
    expect(
        page.get_by_test_id("mail-row").and_(page.locator("[data-kind='installation']"))
    ).to_have_count(3)

    # Travelers: the traveler's eSIMs; grant and revoke the staff role.
    page.goto(f"{app_url}/admin/travelers")
    page.get_by_label("Email contains").fill(traveler_email)
    page.get_by_role("button", name="Search").click()
    page.get_by_test_id("traveler-row").get_by_role("link", name=traveler_email).click()
    expect(page.get_by_test_id("person-email")).to_have_text(traveler_email)
    page.get_by_label("Grant the staff role to (email)").fill(traveler_email)
    page.get_by_role("button", name="Grant staff role").click()
    _notice(page, "ok", "granted")
    page.get_by_role("button", name="Revoke staff").click()
    _notice(page, "ok", "revoked")
    with _db(app_env) as conn:
        assert conn.execute(
            "SELECT is_staff FROM app_user WHERE email = ?", (traveler_email,)
        ).fetchone() == (0,)

    # Simulator page: the clock and a fault.
    page.goto(f"{app_url}/admin/simulator")
    before = page.get_by_test_id("sim-clock").inner_text()
    page.get_by_label("Hours to advance").fill("2")
    page.get_by_role("button", name="Advance clock").click()
    _notice(page, "ok", "simulator clock now")
    expect(page.get_by_test_id("sim-clock")).not_to_have_text(before)
    # The page moved the app's own simulator clock (its control says so).
    assert app_sim.clock_offset() >= 2 * 3600
    page.get_by_label("Operation").fill("GetStatistics")
    page.get_by_label("Fault kind").click()
    page.get_by_role("option", name="http500").click()
    page.get_by_role("button", name="Inject fault").click()
    _notice(page, "ok", "http500 on GetStatistics")
    # Faults live in the memory of the app's in-process simulator: its own list shows it.
    expect(page.get_by_test_id("fault-row")).to_have_count(1)
    expect(page.get_by_test_id("fault-row")).to_contain_text("getstatistics")
    page.get_by_role("button", name="Clear all faults").click()
    _notice(page, "ok", "1 fault cleared")
    expect(page.get_by_test_id("fault-row")).to_have_count(0)

    # Audit log: every action above, with who and the result.
    page.goto(f"{app_url}/admin/audit")
    page.get_by_label("Actor contains").fill(staff_email)
    page.get_by_role("button", name="Search").click()
    rows = page.get_by_test_id("audit-row")
    expect(rows.first).to_be_visible()
    actions = set(rows.evaluate_all("rs => rs.map(r => r.dataset.action + ':' + r.dataset.result)"))
    for expected in (
        "order.resend_email:ok",
        "order.refund:refused",
        "esim.suspend:ok",
        "esim.resume:ok",
        "esim.goodwill:ok",
        "esim.replace:ok",
        "esim.refresh:ok",
        "sim.consume:ok",
        "sim.profile_status:ok",
        "plan.update:ok",
        "staff.grant:ok",
        "staff.revoke:ok",
        "sim.clock:ok",
        "sim.fault:ok",
        "sim.clear_faults:ok",
    ):
        assert expected in actions, (expected, actions)
    shot(page, "admin-audit-desktop")

    # Phone width: the same pages, readable, tables scroll inside their box.
    phone_ctx = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    phone_ctx.add_cookies(ctx.cookies())
    phone = phone_ctx.new_page()
    phone.goto(f"{app_url}/admin")
    expect(phone.get_by_test_id("fig-orders-today")).to_be_visible()
    _no_horizontal_scroll(phone)
    shot(phone, "admin-overview-phone")
    for scheme in ("light", "dark"):  # the unrecognised-event list in both colour schemes
        for view in (phone, page):
            view.goto(f"{app_url}/admin")
            view.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
            expect(view.get_by_test_id("unrecognised-row").first).to_be_visible()
            size = "phone" if view is phone else "desktop"
            shot(view, f"admin-overview-unrecognised-{size}-{scheme}")
    page.emulate_media(color_scheme="light")
    phone.goto(f"{app_url}/admin/esims?esim={new_id}")
    expect(phone.get_by_test_id("esim-detail")).to_be_visible()
    _no_horizontal_scroll(phone)
    shot(phone, "admin-esim-phone")
    phone_ctx.close()
    traveler_ctx.close()
    ctx.close()


def test_non_staff_and_half_signed_in_staff_get_no_admin(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    page.goto(f"{app_url}/admin/audit")
    expect(page).to_have_url(re.compile(r"/signin/?\?next="))
    email = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    for path in ("/admin", "/admin/orders", "/admin/esims", "/admin/audit", "/admin/simulator"):
        page.goto(f"{app_url}{path}")
        expect(page).to_have_url(re.compile(re.escape(app_url) + r"/?$"))
    expect(page.get_by_test_id("audit-row")).to_have_count(0)
    # Granted the role but without the second factor in this session: sent to set it up.
    _cli_staff(app_env, "grant", email)
    page.goto(f"{app_url}/admin/orders")
    expect(page).to_have_url(re.compile(r"/security/totp"))
    expect(page.get_by_test_id("order-row")).to_have_count(0)
    _cli_staff(app_env, "revoke", email)
    ctx.close()

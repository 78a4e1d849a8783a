"""Staff find a discrepancy on /admin/reconciliation and resolve it (docs/reconciliation.md):
a capture made at the app's localstripe outside the portal appears after "Run reconciliation
now", the overview counts it, and "Refund at Stripe" with a note refunds it at Stripe, is
audited and moves it to the history. Desktop and phone, light and dark."""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, shot
from tests.e2e.test_purchase import sign_up_and_verify
from tests.e2e.test_security_pages import rfc6238
from tests.e2e.test_staff_admin import _cli_staff
from tests.harness import AppServer
from tests.stripe_support import CARD_OK, SECRET_KEY, card_token

#: Where this task's screenshots are kept for review (besides tests/e2e/screenshots/).
SHOTS = Path("/work/shots/i22-recon")


def _capture_outside_portal(base: str, amount: int) -> str:
    """A PaymentIntent captured at the app's localstripe that no portal payment names (a
    charge made in the Stripe dashboard): customer, card, automatically captured."""
    auth = {"Authorization": f"Bearer {SECRET_KEY}"}
    with httpx.Client(base_url=base, headers=auth, timeout=10) as http:
        customer = http.post("/v1/customers", data={"email": "walk-in@example.com"}).json()
        card = http.post(
            f"/v1/customers/{customer['id']}/sources",
            data={"source": card_token(base, CARD_OK)},
        ).json()
        pi = http.post(
            "/v1/payment_intents",
            data={
                "amount": str(amount),
                "currency": "eur",
                "customer": customer["id"],
                "payment_method": card["id"],
                "confirm": "true",
            },
        ).json()
    assert pi["status"] == "succeeded", pi
    return str(pi["id"])


def _refunded(base: str, pi: str) -> int:
    r = httpx.get(
        f"{base}/v1/payment_intents/{pi}",
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=10,
    )
    return int(r.json()["latest_charge"]["amount_refunded"])


def _shots(page: Page, name: str) -> None:
    for scheme in ("light", "dark"):
        for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.emulate_media(color_scheme=scheme)
            page.set_viewport_size(size)
            path = shot(page, f"{name}-{width}-{scheme}")
            SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, SHOTS / path.name)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(DESKTOP)


def test_staff_see_a_discrepancy_and_resolve_it(
    app_url: str, app_env: dict[str, str], app_server: AppServer, browser: Browser
) -> None:
    pi = _capture_outside_portal(app_server.stripe_base, 1234)
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    staff = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    assert "ok: staff role granted" in _cli_staff(app_env, "grant", staff)
    page.goto(f"{app_url}/admin/reconciliation")
    expect(page).to_have_url(re.compile(r"/security/totp"))
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    page.get_by_label("6-digit code").fill(rfc6238(secret, time.time()))
    page.get_by_role("button", name="Verify").click()
    page.goto(f"{app_url}/admin/reconciliation")
    expect(page.get_by_test_id("reconciliation-counts")).to_be_visible()

    page.get_by_test_id("reconciliation-run").click()
    notice = page.get_by_test_id("admin-notice")
    expect(notice).to_have_attribute("data-result", "ok", timeout=60_000)
    expect(notice).to_contain_text("Reconciliation run:")
    row = page.get_by_test_id("discrepancy-row").filter(has_text=pi)
    expect(row).to_have_attribute("data-kind", "stripe_unknown_capture")
    expect(row).to_contain_text("€12.34")
    expect(row.get_by_test_id("discrepancy-resolve")).to_have_text("Refund at Stripe")
    _shots(page, "admin-reconciliation-open")

    page.goto(f"{app_url}/admin")
    figure = page.get_by_test_id("fig-reconciliation")
    expect(figure).not_to_have_text("0")
    _shots(page, "admin-overview-reconciliation")
    figure.click()
    expect(page).to_have_url(re.compile(r"/admin/reconciliation"))

    row = page.get_by_test_id("discrepancy-row").filter(has_text=pi)
    row.get_by_label("Note").fill("dashboard charge by mistake")
    row.get_by_test_id("discrepancy-resolve").click()
    expect(notice).to_have_attribute("data-result", "ok", timeout=30_000)
    expect(notice).to_contain_text(f"Refund at Stripe: {pi} refunded at Stripe")
    expect(page.get_by_test_id("discrepancy-row").filter(has_text=pi)).to_have_count(0)
    done = page.get_by_test_id("discrepancy-history-row").filter(has_text=pi)
    expect(done.first).to_contain_text("dashboard charge by mistake")
    _shots(page, "admin-reconciliation-resolved")

    assert _refunded(app_server.stripe_base, pi) == 1234
    with sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db") as conn:
        audit = conn.execute(
            "SELECT actor, result FROM audit_log WHERE action = 'reconciliation.refund_stripe'"
        ).fetchall()
        status = conn.execute(
            "SELECT status, resolved_by FROM reconciliation_discrepancy WHERE payment_intent = ?",
            (pi,),
        ).fetchone()
    assert audit == [(staff, "ok")]
    assert status == ("resolved", staff)
    ctx.close()

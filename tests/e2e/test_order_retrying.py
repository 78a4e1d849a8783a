"""The order page while provisioning retries a transient platform fault, in a real browser.

Two HTTP 500 answers are injected on SubscribeAddon in the app's own simulator
(``/_sim/faults``, docs/simulator.md#fault-kinds: ``http500`` answers that status without
doing anything). A 5xx is transient (``provisioning.is_transient``) and the run retries the
step in place (3 attempts per step, docs/business-rules.md#provisioning-retries), so the
order is delivered by itself. Meanwhile the step the fault hit reads "retrying" (never
"failed", which is for an order that needs attention) and the page says "We are still
setting up your eSIM".

Then /account after an eSIM ran out of data: one "all data used" notice, its time in the
viewer's browser zone (Asia/Tokyo, "JST"), not UTC.

Screenshots: the order page while it retries, desktop and phone, light and dark; /account
with the notice at phone width, light and dark.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import DESKTOP, PHONE, ROOT, AppSimulator, shot
from tests.e2e.test_order_page import _pay
from tests.e2e.test_purchase import buy_france_1gb, sign_up_and_verify

pytestmark = pytest.mark.e2e
#: Two failed attempts out of the three a run makes per step: the third one succeeds.
FAULTS = 2
GB = 1_073_741_824  # the France plan's 1 GB, in bytes


@pytest.mark.timeout(600)
def test_transient_fault_reads_retrying_then_delivered(
    app_url: str, app_env: dict[str, str], app_sim: AppSimulator, browser: Browser
) -> None:
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    buy_france_1gb(page, app_url)
    app_sim.ctl("DELETE", "faults")
    added = app_sim.ctl(
        "POST", "faults", {"operation": "SubscribeAddon", "kind": "http500", "count": FAULTS}
    )
    assert added["fault"]["kind"] == "http500"
    try:
        _pay(page)
        subscribe = page.locator("[data-testid='step'][data-step='subscribe']")
        # The first 500 has been answered: the step waits for its next attempt.
        expect(subscribe).to_have_attribute("data-status", "retrying", timeout=60_000)
        expect(subscribe.get_by_test_id("step-badge")).to_have_text("retrying")
        expect(page.get_by_test_id("order-retrying")).to_contain_text(
            "We are still setting up your eSIM"
        )
        expect(page.get_by_text("this usually takes a few seconds")).to_have_count(0)
        expect(page.locator("[data-testid='step'][data-status='failed']")).to_have_count(0)
        expect(page.get_by_test_id("order-needs-attention")).to_have_count(0)
        order_url = page.url
        for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            for scheme in ("light", "dark"):
                other = browser.new_context(
                    viewport=viewport,
                    color_scheme=scheme,  # type: ignore[arg-type]
                    is_mobile=width_name == "phone",
                    device_scale_factor=2 if width_name == "phone" else 1,
                )
                other.add_cookies(ctx.cookies())
                p = other.new_page()
                p.goto(order_url)
                step = p.locator("[data-testid='step'][data-step='subscribe']")
                if step.get_attribute("data-status", timeout=30_000) == "retrying":
                    shot(p, f"order-retrying-{width_name}-{scheme}")
                other.close()

        # The third attempt succeeds: delivered without anybody acting.
        expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=120_000)
        expect(subscribe).to_have_attribute("data-status", "done")
        expect(subscribe.get_by_test_id("step-badge")).to_have_text("done")
        expect(page.get_by_test_id("order-retrying")).to_have_count(0)
        # Both injected answers were used up (a counted fault disappears once spent).
        assert app_sim.ctl("GET", "faults")["faults"] == []
    finally:
        app_sim.call("DELETE", "faults")
        ctx.close()


def _evaluate_notifications(app_env: dict[str, str]) -> None:
    """One run of the notifications job (``notifications.evaluate``) on the app's database,
    as the scheduler would run it."""
    code = (
        "import asyncio; from travelsim.services import notifications as n; "
        "asyncio.run(n.evaluate())"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=app_env, check=True, timeout=120)


@pytest.mark.timeout(600)
def test_account_all_data_used_notice_in_the_viewers_zone(
    app_url: str, app_env: dict[str, str], app_sim: AppSimulator, browser: Browser
) -> None:
    # Tokyo: UTC+9 all year, abbreviated "JST"; a UTC time would read "UTC".
    ctx = browser.new_context(viewport=PHONE, timezone_id="Asia/Tokyo", is_mobile=True)
    page = ctx.new_page()
    email = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    buy_france_1gb(page, app_url)
    _pay(page)
    expect(page.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    with sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db") as conn:
        esim_id, endpoint = conn.execute(
            "SELECT e.id, e.endpoint_id FROM esim e JOIN app_user u ON u.id = e.user_id"
            " WHERE u.email = ?",
            (email,),
        ).fetchone()
    app_sim.consume(endpoint, GB + GB // 10)  # more than the plan's 1 GB
    page.goto(f"{app_url}/esims/{esim_id}")
    page.get_by_role("button", name="Refresh now").click()
    expect(page.get_by_text("All the data on this eSIM is used up.")).to_be_visible(timeout=60_000)
    _evaluate_notifications(app_env)
    before = datetime.now(UTC)

    page.goto(f"{app_url}/account")
    notice = page.get_by_test_id("notice")
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("all data used")
    expect(notice).to_contain_text("JST", timeout=15_000)
    expect(notice).not_to_contain_text("UTC")
    tokyo = before.astimezone(ZoneInfo("Asia/Tokyo"))
    expect(notice).to_contain_text(f"{tokyo.day} {tokyo:%b %Y}")
    for scheme in ("light", "dark"):
        other = browser.new_context(
            viewport=PHONE,
            color_scheme=scheme,  # type: ignore[arg-type]
            timezone_id="Asia/Tokyo",
            is_mobile=True,
            device_scale_factor=2,
        )
        other.add_cookies(ctx.cookies())
        p = other.new_page()
        p.goto(f"{app_url}/account")
        expect(p.get_by_test_id("notice")).to_contain_text("JST", timeout=15_000)
        assert p.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
        shot(p, f"account-notice-phone-{scheme}")
        other.close()
    ctx.close()

"""The install page in a real browser: the activation data reaches the page only over the
owner-only HTTP route, never through Reflex state
(docs/esim.md#security-installation-data-never-in-page-state).

A traveler signs up, buys and opens the install page while every websocket frame the tab
receives is recorded (``tests/load/test_attack_browser.py``'s ``Frames``). The expected values
come from the platform itself (the app's simulator: the SIM's matching ID). The page must show
the SM-DP+ address, the matching ID and the one-tap links (read from the DOM), the copy button
must put the code on the clipboard, and no frame may carry the matching ID, the activation
code or either link. After "Sign out" in the same tab, the frames the tab receives carry
neither the traveler's email nor the ICCID.

Screenshots (desktop 1280 and phone 390, light and dark) go to ``/tmp/shots-install/``.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.e2e.conftest import DESKTOP, PHONE
from tests.harness import SIM_SMDP_ADDRESS, AppSimulator
from tests.load.test_attack_browser import Frames, buy_and_deliver, settle

SHOTS = Path("/tmp/shots-install")
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def _shots(browser: Browser, owner: BrowserContext, url: str, label: str) -> list[Path]:
    """The install page at ``url`` for the owner (their cookies), desktop and phone, light
    and dark: the saved paths."""
    paths: list[Path] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        for device, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            phone = device == "phone"
            ctx = browser.new_context(
                viewport={"width": 1280, "height": 900} if not phone else viewport,
                color_scheme=scheme,  # type: ignore[arg-type]
                is_mobile=phone,
                has_touch=phone,
                device_scale_factor=2 if phone else 1,
                user_agent=IPHONE if phone else None,
            )
            ctx.add_cookies(cast(Any, owner.cookies()))  # Cookie and SetCookieParam agree
            page = ctx.new_page()
            page.goto(url)
            expect(page.get_by_test_id("matching-id")).to_have_text(re.compile(r"\S"))
            settle(page)
            path = SHOTS / f"{label}-{device}-{scheme}.png"
            page.screenshot(path=str(path), full_page=True)
            paths.append(path)
            ctx.close()
    return paths


def test_probe_install_page_frames_carry_no_activation_data(
    app_url: str, app_env: dict[str, str], browser: Browser, app_sim: AppSimulator
) -> None:
    ctx = browser.new_context(viewport=DESKTOP, color_scheme="light")
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    page = ctx.new_page()
    frames = Frames(page)
    esim_id, _order = buy_and_deliver(page, app_url, app_env["DATA_DIR"])
    with sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db") as conn:
        (iccid,) = conn.execute(
            "SELECT iccid FROM esim WHERE id = ?",
            (esim_id,),
        ).fetchone()
    matching_id = app_sim.sim_row(iccid)["matching_id"]
    lpa = f"LPA:1${SIM_SMDP_ADDRESS}${matching_id}"

    # The page shows what the platform issued (read from the DOM).
    expect(page.get_by_test_id("matching-id")).to_have_text(matching_id, timeout=15_000)
    expect(page.get_by_test_id("smdp")).to_have_text(SIM_SMDP_ADDRESS)
    links = {
        testid: page.get_by_test_id(testid).get_attribute("href") or ""
        for testid in ("ios-link", "android-link", "lpa-link")
    }
    assert "esimsetup.apple.com" in links["ios-link"] and quote(lpa, safe="") in links["ios-link"]
    assert "esimsetup.android.com" in links["android-link"]
    assert links["lpa-link"] == lpa
    # The copy button puts the code on the clipboard.
    page.get_by_role("button", name="Copy Activation code").click()
    assert page.evaluate("navigator.clipboard.readText()") == matching_id
    settle(page)

    shots = _shots(browser, ctx, page.url, os.environ.get("INSTALL_SHOTS_LABEL", "after"))
    print("\nscreenshots: " + ", ".join(str(p) for p in shots))

    seen = frames.joined()
    assert iccid in seen  # positive control: the tab's frames are captured and readable
    carried = [
        name
        for name, value in {
            "matching ID": matching_id,
            "activation code": lpa,
            "activation code (URL-encoded)": quote(lpa, safe=""),
            **{name: href for name, href in links.items()},
        }.items()
        if value in seen
    ]
    assert carried == [], f"websocket frames carried {carried}"
    print(f"\n{len(frames.texts)} websocket frames scanned, {len(seen)} characters")

    ctx.close()


@pytest.mark.parametrize(
    ("where", "control"), [("", "Sign out"), ("/security", "Sign out everywhere")]
)
def test_probe_sign_out_leaves_nothing_in_the_tab(
    app_url: str, app_env: dict[str, str], browser: Browser, where: str, control: str
) -> None:
    """After "Sign out" (the header's) or "Sign out everywhere" (the security page's) in the
    same tab, the frames the tab receives (after the redirect and after a reload, which
    reconnects the tab's state) hold neither the email nor the ICCID."""
    ctx = browser.new_context(viewport=DESKTOP, color_scheme="light")
    page = ctx.new_page()
    frames = Frames(page)
    esim_id, _order = buy_and_deliver(page, app_url, app_env["DATA_DIR"])
    with sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db") as conn:
        iccid, email = conn.execute(
            "SELECT e.iccid, u.email FROM esim e JOIN app_user u ON u.id = e.user_id"
            " WHERE e.id = ?",
            (esim_id,),
        ).fetchone()
    page.goto(f"{app_url}/esims/{esim_id}")
    settle(page)
    assert iccid in frames.joined() and email in frames.joined()  # positive control
    if where:
        page.goto(f"{app_url}{where}")
        settle(page)
    before = len(frames.texts)
    page.get_by_role("button", name=control, exact=True).first.click()
    expect(page.get_by_role("link", name="Sign in").first).to_be_visible()
    settle(page)
    page.reload()
    settle(page)
    after = "\n".join(frames.texts[before:])
    assert after, "no frame after sign-out"
    assert iccid not in after
    assert email not in after
    ctx.close()


def _answer(status: int) -> Any:
    """A Playwright route handler answering ``status`` with no body."""

    def handler(route: Any) -> None:
        route.fulfill(status=status, body="")

    return handler


def test_install_details_say_why_when_the_route_refuses(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    """While the route answers, both cards say they are loading (``role="status"``); a
    refusal (signed out, not found, a server error) shows the traveler's words in an alert
    and no code; once it answers, the copy buttons are reachable from the keyboard."""
    from playwright.sync_api import Route

    from travelsim.components.install_details import (
        FAILED_TEXT,
        LOADING_TEXT,
        NOT_FOUND_TEXT,
        SIGNED_OUT_TEXT,
    )

    ctx = browser.new_context(viewport=DESKTOP, color_scheme="light")
    page = ctx.new_page()
    buy_and_deliver(page, app_url, app_env["DATA_DIR"])
    expect(page.get_by_test_id("matching-id")).to_have_text(re.compile(r"\S"))
    for status, text in ((401, SIGNED_OUT_TEXT), (404, NOT_FOUND_TEXT), (500, FAILED_TEXT)):
        page.route("**/install.json", _answer(status))
        page.reload()
        expect(page.get_by_role("alert").filter(has_text=text)).to_have_count(2)
        expect(page.get_by_test_id("matching-id")).to_have_count(0)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"refused-{status}-desktop-light.png"), full_page=True)
        page.unroute("**/install.json")

    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    page.route("**/install.json", hold)
    page.reload()
    expect(page.get_by_role("status").filter(has_text=LOADING_TEXT)).to_have_count(2)
    assert len(held) == 1  # one fetch for both cards
    held[0].continue_()
    expect(page.get_by_test_id("matching-id")).to_have_text(re.compile(r"\S"))
    expect(page.get_by_role("status").filter(has_text=LOADING_TEXT)).to_have_count(0)
    copy = page.get_by_role("button", name="Copy SM-DP+ address")
    copy.focus()
    expect(copy).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Copy Activation code")).to_be_focused()
    ctx.close()

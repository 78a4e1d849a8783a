"""The app shell in a real browser: layout at phone and desktop widths, light and dark; the
service status page behind the footer link; the simulator's controls on the app's port."""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, AppSimulator, shot


def test_healthz_reports_database(app_url: str) -> None:
    response = httpx.get(f"{app_url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_home_desktop_has_header_nav_footer(app_url: str, desktop: Page) -> None:
    desktop.goto(app_url)
    header = desktop.locator("header")
    expect(header.get_by_text("TravelSIM").first).to_be_visible()
    expect(header.get_by_role("link", name="Plans")).to_be_visible()
    expect(desktop.locator("footer")).to_contain_text("SIM for Things")
    assert desktop.title().endswith("· TravelSIM")
    shot(desktop, "shell-desktop-light")


def test_home_phone_collapses_navigation_into_menu(app_url: str, phone: Page) -> None:
    phone.goto(app_url)
    expect(phone.get_by_role("button", name="Open menu")).to_be_visible()
    expect(phone.locator("header").get_by_role("link", name="Plans")).to_be_hidden()
    # No horizontal scrolling at phone width.
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    phone.get_by_role("button", name="Open menu").click()
    expect(phone.get_by_role("menuitem", name="Plans")).to_be_visible()
    shot(phone, "shell-phone-menu")


def test_dark_mode_toggle_changes_theme(app_url: str, desktop: Page) -> None:
    desktop.goto(app_url)
    background_before = desktop.evaluate(
        "getComputedStyle(document.querySelector('header')).backgroundColor"
    )
    desktop.get_by_role("button", name="Toggle dark mode").first.click()
    expect(desktop.locator("html")).to_have_class(
        __import__("re").compile(r"\bdark\b"), timeout=5000
    )
    background_after = desktop.evaluate(
        "getComputedStyle(document.querySelector('header')).backgroundColor"
    )
    assert background_after != background_before
    shot(desktop, "shell-desktop-dark")


def test_switching_between_sign_in_and_sign_up_keeps_where_the_traveler_was_going(
    app_url: str, desktop: Page
) -> None:
    desktop.goto(f"{app_url}/signin?next=%2Fbuy%2F870101%3Fto%3DFR")
    create = desktop.get_by_role("link", name="Create an account")
    expect(create).to_have_attribute("href", "/signup?next=%2Fbuy%2F870101%3Fto%3DFR")
    create.click()
    expect(desktop).to_have_url(f"{app_url}/signup?next=%2Fbuy%2F870101%3Fto%3DFR")
    expect(desktop.locator("form[action='/auth/signup'] input[name=next]")).to_have_value(
        "/buy/870101?to=FR"
    )
    expect(desktop.get_by_role("link", name="Sign in", exact=True).last).to_have_attribute(
        "href", "/signin?next=%2Fbuy%2F870101%3Fto%3DFR"
    )


def _successful_usage_syncs(data_dir: str) -> list[datetime]:
    """Finish times (UTC) of the usage-sync runs the scheduler recorded as successful (the
    run did not raise, and it synced an eSIM or none failed), read from the database."""
    with sqlite3.connect(Path(data_dir) / "travelsim.db") as conn:
        rows = conn.execute(
            "SELECT finished_at FROM job_run WHERE job = 'usage_sync' AND ok = 1 "
            "AND (errors = 0 OR items > 0) ORDER BY finished_at"
        ).fetchall()
    return [datetime.fromisoformat(r[0]).replace(tzinfo=UTC) for r in rows]


def _singapore(moment: datetime) -> str:
    """``moment`` as a traveler in Singapore (UTC+8 all year) reads it, minute precision."""
    local = moment.astimezone(ZoneInfo("Asia/Singapore"))
    assert local.utcoffset() is not None and local.utcoffset().total_seconds() == 8 * 3600
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} Singapore time"


def test_footer_status_link_opens_the_service_status_page(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    deadline = time.monotonic() + 90
    while not _successful_usage_syncs(app_env["DATA_DIR"]):  # first run a few s after start
        assert time.monotonic() < deadline, "no usage sync ran"
        time.sleep(1)
    for name, viewport, scheme in (
        ("desktop-light", DESKTOP, "light"),
        ("desktop-dark", DESKTOP, "dark"),
        ("phone-light", PHONE, "light"),
        ("phone-dark", PHONE, "dark"),
    ):
        ctx = browser.new_context(
            viewport=viewport, color_scheme=scheme, timezone_id="Asia/Singapore"
        )
        page = ctx.new_page()
        page.goto(app_url)
        link = page.locator("footer").get_by_role("link", name="Service status")
        expect(link).to_have_attribute("href", "/status")
        link.click()
        expect(page).to_have_url(f"{app_url}/status")
        expect(page.get_by_role("heading", name="Service status")).to_be_visible()
        expect(page.get_by_test_id("status-portal")).to_have_text("Up")
        # The scheduler's SFT jobs reached the built-in simulator.
        expect(page.get_by_test_id("status-platform")).to_have_text("Reachable")
        synced = page.get_by_test_id("status-usage-sync")
        expect(synced).to_have_text(re.compile(r"Singapore time"))
        shown = synced.inner_text()
        # The last successful run as of the page's load: one of the recorded runs (a new
        # one may finish while the page loads), in the viewer's zone.
        expected = {_singapore(t) for t in _successful_usage_syncs(app_env["DATA_DIR"])}
        assert shown in expected, (shown, sorted(expected))
        expect(page.get_by_test_id("status-platform-checked")).to_contain_text("Singapore time")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        shot(page, f"status-{name}")
        ctx.close()
    # Machines keep their JSON.
    assert httpx.get(f"{app_url}/healthz", timeout=10).json()["status"] == "ok"


def test_simulator_controls_on_the_app_port(
    app_url: str, app_env: dict[str, str], app_sim: AppSimulator
) -> None:
    with sqlite3.connect(Path(app_env["DATA_DIR"]) / "sft_simulator.db") as conn:
        (seeded,) = conn.execute("SELECT count(*) FROM sim_sims").fetchone()
    assert app_sim.state()["sims"]["total"] == seeded > 0
    before = app_sim.ctl("GET", "clock")["offsetSeconds"]
    assert app_sim.ctl("POST", "clock/advance", {"seconds": 0})["offsetSeconds"] == before
    # Only the controls: the simulated SFT API is not on the app's port.
    r = httpx.post(
        f"{app_url}/api/login", json={"username": "demo", "password": "demo"}, timeout=10
    )
    assert "AccessToken" not in r.text
    r = app_sim.call("POST", "api/login", {"username": "demo", "password": "demo"})
    assert r.status_code == 404 and "AccessToken" not in r.text
    # A web page cannot use them (the browser sends Origin).
    r = httpx.get(f"{app_url}/_sim/state", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403

"""The app shell in a real browser: layout at phone and desktop widths, light and dark."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import shot


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

"""The catalogue in a real browser: the simulator's plans, found by destination."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import shot


def test_search_by_partial_name_lists_every_match(app_url: str, desktop: Page) -> None:
    desktop.goto(app_url)
    desktop.get_by_label("Where are you going?").fill("united")
    options = desktop.get_by_test_id("destination-option")
    # Seed: plans cover the United States and the United Kingdom (and AE via Global).
    expect(options.filter(has_text="United States")).to_be_visible()
    expect(options.filter(has_text="United Kingdom")).to_be_visible()
    expect(options.filter(has_text="United Arab Emirates")).to_be_visible()
    expect(options.filter(has_text="GB")).to_have_count(1)
    shot(desktop, "catalogue-search-desktop")


def test_japan_offers_compare_volume_validity_price(app_url: str, desktop: Page) -> None:
    desktop.goto(app_url)
    desktop.get_by_label("Where are you going?").fill("japa")
    desktop.get_by_test_id("destination-option").filter(has_text="Japan").click()
    offers = desktop.get_by_test_id("offer")
    # Japan is covered by: Japan 3 GB, Asia 5 GB, Global 3 GB, Global 10 GB (seed + simulator).
    expect(offers).to_have_count(4)
    japan = desktop.locator("[data-plan-id='870141']")
    expect(japan).to_contain_text("3 GB")
    expect(japan).to_contain_text("15 days")
    expect(japan).to_contain_text("€11.50")
    expect(japan).to_contain_text("first use")
    global3 = desktop.locator("[data-plan-id='870301']")
    expect(global3).to_contain_text("€19.90")
    expect(global3).to_contain_text("purchase")  # Immediate plans start at purchase
    # The test plan has no price: never on sale.
    expect(desktop.locator("[data-plan-id='870401']")).to_have_count(0)
    shot(desktop, "catalogue-japan-desktop")


def test_phone_catalogue_and_sort_by_price(app_url: str, phone: Page) -> None:
    phone.goto(app_url)
    phone.get_by_test_id("destination-option").filter(has_text="France").click()
    offers = phone.get_by_test_id("offer")
    expect(offers.first).to_be_visible()
    phone.get_by_label("Sort offers").click()
    phone.get_by_role("option", name="Lowest price").click()
    expect(offers.first.get_by_test_id("offer-price")).to_have_text("€4.50")
    prices = [
        float(re.sub(r"[^0-9.]", "", t))
        for t in offers.get_by_test_id("offer-price").all_inner_texts()
    ]
    assert prices == sorted(prices)
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    shot(phone, "catalogue-france-phone")


def test_unknown_destination_says_so(app_url: str, desktop: Page) -> None:
    desktop.goto(app_url)
    desktop.get_by_label("Where are you going?").fill("Antarctica")
    expect(desktop.get_by_text("We have no plan for that destination yet")).to_be_visible()

"""Typing a test card into the Stripe.js card box (``travelsim.components.card_element``) as
the embedded localstripe's fake Stripe.js draws it: five plain inputs named by their
placeholders ``number``, ``exp_month``, ``exp_year`` (2 digits), ``cvc``, ``postal_code``
(localstripe behaviour). Test cards: https://docs.stripe.com/testing (4242… succeeds,
4000 0000 0000 0002 is declined, 4000 0025 0000 3155 asks for 3-D Secure)."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

__all__ = [
    "CARD_3DS",
    "CARD_DECLINED",
    "CARD_OK",
    "accept_terms",
    "fill_card",
    "pay_button",
    "wait_card_ready",
]

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_3DS = "4000002500003155"


def wait_card_ready(page: Page) -> None:
    """Wait until Stripe.js is loaded and the card box mounted."""
    expect(page.get_by_test_id("card-entry")).to_have_attribute(
        "data-phase", "ready", timeout=20_000
    )


def accept_terms(page: Page) -> None:
    """Tick the pay step's two boxes, the terms and the immediate-start request
    (docs/legal.md#acceptance-at-checkout), unless ticked already; waits until the page shows
    them ticked (the state mirrors what the checkout records on the server). A click the page
    dropped (made while the page that just opened was still connecting, as a traveler's first
    click can be) is made again, once the box still shows unticked after 5 s."""
    for test_id in ("accept-terms", "accept-immediate-start"):
        box = page.get_by_test_id(test_id)
        expect(box).to_be_visible(timeout=20_000)
        for _ in range(3):
            if box.get_attribute("data-state") == "checked":
                break
            box.click()
            try:
                expect(box).to_have_attribute("data-state", "checked", timeout=5_000)
                break
            except AssertionError:
                continue
        expect(box).to_have_attribute("data-state", "checked")


def fill_card(
    page: Page,
    number: str = CARD_OK,
    *,
    month: str = "12",
    year: str = "39",
    cvc: str = "123",
    accept: bool = True,
) -> None:
    """Tick the terms boxes (:func:`accept_terms`; not with ``accept=False``) and type a
    card into the fake element (expiry ``month``/``year``, 2 digits each)."""
    if accept:
        accept_terms(page)
    wait_card_ready(page)
    box = page.get_by_test_id("card-element")
    for field, value in (
        ("number", number),
        ("exp_month", month),
        ("exp_year", year),
        ("cvc", cvc),
    ):
        box.locator(f"input[placeholder='{field}']").fill(value)


def pay_button(page: Page) -> Locator:
    """The checkout's Pay button ("Pay €4.50"), once the terms boxes are ticked
    (:func:`accept_terms`: a payment without them is refused)."""
    accept_terms(page)
    return page.get_by_role("button", name=re.compile(r"^Pay"))

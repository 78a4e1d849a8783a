"""axe-core on every traveler page, in light and dark, at phone and desktop width
(docs/accessibility.md#what-is-tested): zero serious or critical WCAG 2.1 A/AA violations.

The pages are two lists of paths: :data:`PUBLIC_PATHS` (opened signed out) and
:data:`TRAVELER_PATHS` (opened by a signed-in traveler with one delivered order, the
``bought`` fixture of ``tests/e2e/test_flow.py``; ``{order}`` and ``{esim}`` are its ids). A new
page is one more path in one of them. States a path alone cannot reach (the checkout's card
form, the sign-up's "check your inbox", the second-factor prompt) have their own tests below.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.a11y import VARIANTS, assert_accessible, settle, variant_context
from tests.e2e.conftest import shot
from tests.e2e.stripe_card import wait_card_ready
from tests.e2e.test_flow import bought
from tests.e2e.test_purchase import PASSWORD, buy_france_1gb, sign_up_and_verify
from tests.e2e.test_security_pages import rfc6238

__all__ = ["PUBLIC_PATHS", "TRAVELER_PATHS", "bought"]

#: Pages opened signed out.
PUBLIC_PATHS: list[str] = [
    "/",
    "/?to=FR",
    "/fr/?to=JP",
    "/signin",
    "/signin?error=invalid",
    "/signup",
    "/password/forgot",
    "/password/reset?token=not-a-token",
    "/status",
    "/gifts/claim?token=not-a-token",
    "/buy/870101?to=FR",
    "/auth/verify?token=not-a-token",
    "/terms",
    "/fr/terms",
    "/privacy",
    "/imprint",
    "/cookies",
    "/no-such-page",
]
#: Pages opened by the signed-in traveler of ``bought`` (``{order}``, ``{esim}``: its ids).
TRAVELER_PATHS: list[str] = [
    "/account",
    "/security",
    "/security/totp",
    "/account/delete",
    "/buy/870101?to=FR",
    "/orders/{order}",
    "/orders/{order}/receipt",
    "/esims/{esim}",
    "/fr/esims/{esim}",
    "/esims/{esim}/install",
    "/esims/{esim}/topup",
    "/esims/{esim}/card",
    "/esims/999999999",
]


def _name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


def _check(browser: Browser, url: str, name: str, width: str, scheme: str, state: Any) -> None:
    ctx = variant_context(browser, width, scheme, state)
    try:
        page = ctx.new_page()
        page.goto(url)
        settle(page, scheme)
        shot(page, f"a11y-{name}-{width}-{scheme}")
        assert_accessible(page, f"{url} ({width}, {scheme})")
    finally:
        ctx.close()


@pytest.mark.parametrize(("width", "scheme"), VARIANTS)
@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_public_page(app_url: str, browser: Browser, path: str, width: str, scheme: str) -> None:
    _check(browser, app_url + path, _name(path), width, scheme, None)


@pytest.mark.parametrize(("width", "scheme"), VARIANTS)
@pytest.mark.parametrize("path", TRAVELER_PATHS)
def test_traveler_page(
    app_url: str, browser: Browser, bought: dict[str, Any], path: str, width: str, scheme: str
) -> None:
    url = app_url + path.format(order=bought["order_id"], esim=bought["esim_id"])
    _check(browser, url, "t-" + _name(path), width, scheme, bought["state"])


def test_checkout_card_form_and_sign_up_states(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    """The pay step with the card box mounted and filled, then the same checkout in every
    variant; the sign-up's "check your inbox" answer."""
    ctx = variant_context(browser, "desktop", "light")
    page = ctx.new_page()
    sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    checkout_url = buy_france_1gb(page, app_url)
    assert_accessible(page, "checkout, card typed")
    state = ctx.storage_state()
    ctx.close()
    for width, scheme in VARIANTS:
        other = variant_context(browser, width, scheme, state)
        pay = other.new_page()
        pay.goto(checkout_url)
        wait_card_ready(pay)
        settle(pay, scheme)
        shot(pay, f"a11y-checkout-pay-{width}-{scheme}")
        assert_accessible(pay, f"checkout pay step ({width}, {scheme})")
        other.close()

    for width, scheme in VARIANTS:
        signup_ctx = variant_context(browser, width, scheme)
        signup = signup_ctx.new_page()
        signup.goto(f"{app_url}/signup")
        signup.get_by_label("Email").fill(f"new-{uuid.uuid4().hex[:8]}@example.com")
        signup.get_by_label("Password (at least 10 characters)").fill("correct horse battery")
        signup.get_by_role("button", name="Create account").click()
        expect(signup.get_by_text("Check your inbox")).to_be_visible()
        settle(signup, scheme)
        shot(signup, f"a11y-signup-sent-{width}-{scheme}")
        assert_accessible(signup, f"sign-up sent ({width}, {scheme})")
        signup_ctx.close()


def test_second_factor_prompt(app_url: str, app_env: dict[str, str], browser: Browser) -> None:
    """Two-step verification turned on, then a sign-in with the password alone: the code
    prompt (``/security/totp`` while the factor is owed) in every variant."""
    ctx = variant_context(browser, "desktop", "light")
    page = ctx.new_page()
    email = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    page.goto(f"{app_url}/security")
    page.get_by_role("button", name="Set up two-step verification").click()
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    page.get_by_label("6-digit code").fill(rfc6238(secret, time.time()))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("Two-step verification is on.")).to_be_visible()
    ctx.close()

    ctx = variant_context(browser, "desktop", "light")
    page = ctx.new_page()
    page.goto(f"{app_url}/signin")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/security/totp"))
    pending = ctx.storage_state()  # a session that still owes its second factor
    ctx.close()
    for width, scheme in VARIANTS:
        other = variant_context(browser, width, scheme, pending)
        prompt = other.new_page()
        prompt.goto(f"{app_url}/security/totp")
        expect(prompt.get_by_role("heading", name="Two-step verification")).to_be_visible()
        expect(prompt.get_by_label("6-digit code")).to_be_visible()
        settle(prompt, scheme)
        shot(prompt, f"a11y-second-factor-{width}-{scheme}")
        assert_accessible(prompt, f"second-factor prompt ({width}, {scheme})")
        other.close()

"""Sign-in with an identity provider in a real browser: the sign-in page's "Sign in with …"
button, the test provider's consent page on loopback (``tests/oidc_provider.py``), back to
the portal, signed in; then sign-out at both ends. And the failure paths, each ending on the
sign-in page with the error and nobody signed in: wrong state, wrong nonce, expired ID
token, forged ID token (signed with another key), unverified email.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, shot
from tests.oidc_provider import ProviderServer

pytestmark = pytest.mark.e2e


def provider_round_trip(
    page: Page,
    app_url: str,
    provider: ProviderServer,
    email: str,
    *,
    verified: bool = True,
    fault: str = "none",
    screenshot: str | None = None,
) -> None:
    page.goto(f"{app_url}/signin")
    page.get_by_role("button", name="Sign in with Test IdP").click()
    expect(page).to_have_url(re.compile(re.escape(provider.issuer) + r"/authorize\?"))
    expect(page.get_by_role("heading", name="Test IdP")).to_be_visible()
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Subject").fill(f"sub-{email}")
    if not verified:
        page.get_by_label("Email verified").uncheck()
    page.get_by_label("Fault").select_option(fault)
    if screenshot:
        shot(page, screenshot)
    page.get_by_role("button", name="Approve").click()


def session_rows(data_dir: str, email: str) -> int:
    with sqlite3.connect(Path(data_dir) / "travelsim.db") as conn:
        return int(
            conn.execute(
                "SELECT COUNT(*) FROM auth_session s JOIN app_user u ON u.id = s.user_id"
                " WHERE u.email = ?",
                (email,),
            ).fetchone()[0]
        )


def test_sign_in_with_the_provider_and_sign_out_at_both_ends(
    app_url: str, app_env: dict[str, str], browser: Browser, oidc_provider: ProviderServer
) -> None:
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    page.goto(f"{app_url}/signin")
    expect(page.get_by_role("button", name="Sign in with Test IdP")).to_be_visible()
    shot(page, "signin-with-provider-desktop")

    email = f"idp-{uuid.uuid4().hex[:8]}@example.com"
    provider_round_trip(page, app_url, oidc_provider, email, screenshot="oidc-provider-consent")
    expect(page).to_have_url(re.compile(re.escape(app_url) + r"/?$"))
    expect(page.get_by_role("button", name="Sign out").first).to_be_visible()
    cookies = {c["name"]: c for c in ctx.cookies()}
    session = cookies["travelsim_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert "travelsim_oidc" not in cookies  # the flow cookie is gone after the callback

    page.goto(f"{app_url}/security")
    row = page.get_by_test_id("session-row").filter(has_text="This device")
    expect(row).to_contain_text("Identity provider")
    expect(page.get_by_text(oidc_provider.issuer)).to_be_visible()
    shot(page, "security-after-provider-signin-desktop")

    logouts_before = len(oidc_provider.provider.logouts)
    page.get_by_role("button", name="Sign out").first.click()
    expect(page.get_by_role("link", name="Sign in").first).to_be_visible()
    expect(page).to_have_url(re.compile(re.escape(app_url) + r"/(\?state=.*)?$"))
    assert len(oidc_provider.provider.logouts) == logouts_before + 1
    logout = oidc_provider.provider.logouts[-1]
    assert logout["post_logout_redirect_uri"] == f"{app_url}/"
    assert logout["client_id"] == oidc_provider.provider.client_id
    with sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db") as conn:
        revoked = conn.execute(
            "SELECT COUNT(*) FROM auth_session s JOIN app_user u ON u.id = s.user_id"
            " WHERE u.email = ? AND s.revoked_at IS NULL",
            (email,),
        ).fetchone()[0]
    assert revoked == 0
    ctx.close()


@pytest.mark.parametrize(
    ("fault", "verified", "message"),
    [
        ("state", True, "could not be completed"),
        ("nonce", True, "could not be completed"),
        ("expired", True, "could not be completed"),
        ("forged", True, "could not be completed"),
        ("none", False, "is not verified"),
    ],
)
def test_failure_paths_sign_nobody_in(
    app_url: str,
    app_env: dict[str, str],
    browser: Browser,
    oidc_provider: ProviderServer,
    fault: str,
    verified: bool,
    message: str,
) -> None:
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    email = f"bad-{fault}-{uuid.uuid4().hex[:6]}@example.com"
    provider_round_trip(page, app_url, oidc_provider, email, verified=verified, fault=fault)
    expect(page).to_have_url(re.compile(r"/signin/?\?error=oidc_"))
    expect(page.get_by_role("alert")).to_contain_text(message)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert "travelsim_session" not in {c["name"] for c in ctx.cookies()}
    assert session_rows(app_env["DATA_DIR"], email) == 0
    if fault in ("forged", "none"):
        shot(page, f"oidc-refused-{'unverified' if not verified else fault}-desktop")
    ctx.close()


def test_provider_button_on_a_phone(app_url: str, browser: Browser) -> None:
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = ctx.new_page()
    page.goto(f"{app_url}/signin")
    expect(page.get_by_role("button", name="Sign in with Test IdP")).to_be_visible()
    shot(page, "signin-with-provider-phone")
    ctx.close()

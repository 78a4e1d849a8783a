"""Security & privacy pages in a real browser: two-step verification set up from the QR
page's key, password reset by emailed link, sign-out everywhere, data download, and account
deletion after the warning page.

TOTP codes come from an independent RFC 6238 implementation (below), not from the portal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sqlite3
import struct
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, shot
from tests.e2e.test_purchase import PASSWORD, sign_up_and_verify

pytestmark = pytest.mark.e2e


def rfc6238(secret_b32: str, unix: float) -> str:
    key = base64.b32decode(secret_b32)
    mac = hmac.new(key, struct.pack(">Q", int(unix) // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 1_000_000).zfill(6)


def outbox_link(data_dir: str, email: str, pattern: str) -> str:
    with sqlite3.connect(Path(data_dir) / "travelsim.db") as conn:
        rows = conn.execute(
            "SELECT body_text FROM outbox_email WHERE to_address = ? ORDER BY id DESC", (email,)
        ).fetchall()
    for (body,) in rows:
        match = re.search(pattern, body)
        if match:
            return match.group(0)
    raise AssertionError(f"no email to {email} matching {pattern}")


def test_two_step_verification_setup_and_sign_in(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    email = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    page.goto(f"{app_url}/security")
    expect(page.get_by_role("heading", name="Security & privacy")).to_be_visible()
    shot(page, "security-desktop")
    page.get_by_role("button", name="Set up two-step verification").click()
    expect(page).to_have_url(re.compile(r"/security/totp"))
    expect(page.get_by_test_id("totp-qr")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    assert len(secret) == 32
    shot(page, "totp-enrol-desktop")
    page.get_by_label("6-digit code").fill(rfc6238(secret, time.time()))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("Two-step verification is on.")).to_be_visible()

    # Another browser: password, then the code.
    other = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    phone = other.new_page()
    phone.goto(f"{app_url}/signin")
    phone.get_by_label("Email", exact=True).fill(email)
    phone.get_by_label("Password", exact=True).fill(PASSWORD)
    phone.get_by_role("button", name="Sign in", exact=True).click()
    expect(phone).to_have_url(re.compile(r"/security/totp"))
    expect(phone.get_by_role("heading", name="Two-step verification")).to_be_visible()
    shot(phone, "totp-verify-phone")
    # The header offers only "Sign out" while the code is owed (no account links).
    expect(phone.get_by_role("button", name="Sign out", exact=True)).to_be_visible()
    phone.get_by_role("button", name="Open menu").click()
    expect(phone.get_by_role("menuitem").filter(has_text="My eSIMs")).to_have_count(0)
    expect(phone.get_by_role("menuitem").filter(has_text="Sign in")).to_have_count(0)
    phone.keyboard.press("Escape")
    # The password alone signs nobody in: My eSIMs sends the phone back to the code.
    phone.goto(f"{app_url}/account")
    expect(phone).to_have_url(re.compile(r"/security/totp\?next=%2Faccount(%2F)?$"))
    expect(phone.get_by_role("heading", name="Two-step verification")).to_be_visible()
    phone.get_by_label("6-digit code").fill(rfc6238(secret, time.time() + 30))
    phone.get_by_role("button", name="Verify").click()
    expect(phone).to_have_url(re.compile(re.escape(app_url) + r"/account/?$"))

    # Sign out everywhere from the desktop: the phone's session ends too.
    page.goto(f"{app_url}/security")
    expect(page.get_by_test_id("session-row")).to_have_count(2)
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page.get_by_text("You are signed out on every device.")).to_be_visible()
    phone.goto(f"{app_url}/account")
    expect(phone).to_have_url(re.compile(r"/signin/?\?next="))
    other.close()
    ctx.close()


def test_password_reset_by_emailed_link(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = browser.new_context(viewport=DESKTOP)
    page = ctx.new_page()
    email = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    page.get_by_role("button", name="Sign out").first.click()
    page.goto(f"{app_url}/signin")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_text("we sent it a link to choose a new password")).to_be_visible()
    link = outbox_link(app_env["DATA_DIR"], email, r"https?://\S+/password/reset\?token=[\w\-]+")
    page.goto(re.sub(r"^https?://[^/]+", app_url, link))
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    shot(page, "password-reset-desktop")
    page.get_by_label("New password (at least 10 characters)").fill("a brand new password")
    page.get_by_label("Repeat the new password").fill("a brand new password")
    page.get_by_role("button", name="Save my new password").click()
    expect(page).to_have_url(re.compile(r"/account/?$"))
    expect(page.get_by_role("button", name="Sign out").first).to_be_visible()
    # The link is single use.
    page.goto(re.sub(r"^https?://[^/]+", app_url, link))
    expect(page).to_have_url(re.compile(r"/password/forgot/?\?error=reset_token_used"))
    expect(page.get_by_role("alert")).to_contain_text("already used")
    ctx.close()


def _sign_up(page: Page, app_url: str, email: str, password: str) -> None:
    page.goto(f"{app_url}/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password (at least 10 characters)").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Check your inbox")).to_be_visible()


def test_competing_signups_link_opened_on_a_phone_chooses_the_password(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    """Two sign-ups for one address (the owner's, then someone else's); the owner opens the
    newest link on a phone: the address is confirmed, no sign-up's password is kept and the
    phone chooses one (docs/architecture.md#security-accounts-and-throttling)."""
    email = f"owner-{int(time.time() * 1000)}@example.com"
    owner = browser.new_context(viewport=DESKTOP)
    other = browser.new_context(viewport=DESKTOP)
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    _sign_up(owner.new_page(), app_url, email, PASSWORD)
    _sign_up(other.new_page(), app_url, email, "someone else's password")
    link = outbox_link(app_env["DATA_DIR"], email, r"https?://\S+/auth/verify\?token=[\w\-]+")
    page = phone.new_page()
    page.goto(re.sub(r"^https?://[^/]+", app_url, link))
    expect(page).to_have_url(re.compile(r"/password/reset/?\?token="))
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your email address is confirmed")
    expect(page.get_by_test_id("reset-account")).to_contain_text(email)
    shot(page, "choose-password-phone")
    page.get_by_label("Password (at least 10 characters)").fill("chosen on the phone 1")
    page.get_by_label("Repeat the password").fill("chosen on the phone 1")
    page.get_by_role("button", name="Save my password").click()
    expect(page).to_have_url(re.compile(r"/account/?$"))
    expect(page.get_by_role("button", name="Sign out").first).to_be_visible()
    # Neither sign-up's password signs in.
    for password in (PASSWORD, "someone else's password"):
        signin = other.new_page()
        signin.goto(f"{app_url}/signin")
        signin.get_by_label("Email", exact=True).fill(email)
        signin.get_by_label("Password", exact=True).fill(password)
        signin.get_by_role("button", name="Sign in", exact=True).click()
        expect(signin.get_by_role("alert")).to_contain_text("Wrong email or password")
    for ctx in (owner, other, phone):
        ctx.close()


def test_download_my_data_then_delete_my_account(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    ctx = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page: Page = ctx.new_page()
    email = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
    page.goto(f"{app_url}/security")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download my data").click()
    download = info.value
    assert download.suggested_filename.startswith("travelsim-data-")
    data = json.loads(Path(download.path()).read_text())
    assert data["account"]["email"] == email

    page.get_by_role("button", name="Delete my account…").click()
    expect(page).to_have_url(re.compile(r"/account/delete/?$"))
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    shot(page, "delete-account-desktop")
    page.get_by_label("Type your email address to confirm").fill(email)
    page.get_by_text("I understand my account and eSIMs stop working for good.").click()
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("Your account is deleted.")).to_be_visible()
    with sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db") as conn:
        left = conn.execute("SELECT COUNT(*) FROM app_user WHERE email = ?", (email,)).fetchone()
    assert left[0] == 0
    ctx.close()


CHROME_126_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def test_signed_in_sessions_name_the_browser_and_use_the_viewers_zone(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    for name, viewport, scheme in (
        ("desktop-light", DESKTOP, "light"),
        ("desktop-dark", DESKTOP, "dark"),
        ("phone-light", PHONE, "light"),
        ("phone-dark", PHONE, "dark"),
    ):
        ctx = browser.new_context(
            viewport=viewport,
            color_scheme=scheme,
            timezone_id="Asia/Singapore",
            user_agent=CHROME_126_WINDOWS,
        )
        page = ctx.new_page()
        email = sign_up_and_verify(page, app_url, app_env["DATA_DIR"])
        page.goto(f"{app_url}/security")
        row = page.get_by_test_id("session-row")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Chrome 126 on Windows")
        expect(row).to_contain_text("This device")
        assert "Mozilla/5.0" not in page.content()
        # "Since": the session's start from the database, as a reader in Singapore (UTC+8,
        # no abbreviation in the tz database) reads it.
        with sqlite3.connect(Path(app_env["DATA_DIR"]) / "travelsim.db") as conn:
            (created,) = conn.execute(
                "SELECT s.created_at FROM auth_session s JOIN app_user u ON u.id = s.user_id "
                "WHERE u.email = ? AND s.revoked_at IS NULL",
                (email,),
            ).fetchone()
        local = datetime.fromisoformat(created).replace(tzinfo=UTC)
        local = local.astimezone(ZoneInfo("Asia/Singapore"))
        since = f"{local:%a} {local.day} {local:%b %Y, %H:%M} Singapore time"
        expect(row).to_contain_text(since)
        expect(row).not_to_contain_text("UTC")
        shot(page, f"security-sessions-{name}")
        ctx.close()

"""Session security over HTTP against a real database: throttling of failed sign-ins per
account and per address, the staff second factor (enrolment, verification, replay,
throttling, ``require_staff``), password reset by single-use expiring link, sign-out
everywhere, and the same-origin check on every new state-changing route.

TOTP codes here come from an independent RFC 6238 implementation (``rfc6238`` below, from
the RFC's own algorithm), not from the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from oidc_support import (
    HOST,
    PASSWORD,
    SESSION_COOKIE,
    Browser,
    configure_oidc,
    location,
    make_user,
    set_cookie_attrs,
)
from sqlmodel import col, select

from tests.oidc_provider import start_provider
from travelsim import db
from travelsim.keys import secret_box
from travelsim.models import (
    AuthSession,
    EmailToken,
    OutboxEmail,
    SessionFactor,
    User,
    UserTotp,
    utcnow,
)
from travelsim.services.auth import sessions
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.staff import require_staff
from travelsim.services.auth.totp import begin_totp_enrolment
from travelsim.settings import Settings, get_settings


def rfc6238(secret_b32: str, unix: float, digits: int = 6) -> str:
    """RFC 6238 TOTP with HMAC-SHA-1 and 30 s steps (RFC 4226 dynamic truncation)."""
    key = base64.b32decode(secret_b32)
    counter = struct.pack(">Q", int(unix) // 30)
    mac = hmac.new(key, counter, hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


@pytest.fixture
async def browser(sqlite_db: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Browser]:
    monkeypatch.setenv("PUBLIC_URL", HOST)
    get_settings.cache_clear()
    b = Browser()
    yield b
    await b.close()
    await db.async_engine().dispose()


async def signin(
    b: Browser, email: str, password: str = PASSWORD, next_path: str = ""
) -> tuple[str, dict[str, str]]:
    data = {"email": email, "password": password}
    if next_path:
        data["next"] = next_path
    return location(await b.post("/auth/signin", data=data))


def later(monkeypatch: pytest.MonkeyPatch, seconds: int) -> None:
    """Move the clock of the rate limits (``time.time``) ``seconds`` forward."""
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + seconds)


# --- throttling -----------------------------------------------------------------------------


async def test_five_failures_lock_that_address_out_of_the_account(
    browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_user("ana@example.com")
    for _ in range(5):
        assert (await signin(browser, "ana@example.com", "wrong password!"))[1]["error"] == (
            "invalid_credentials"
        )
    # Sixth attempt from this address: refused before the password is checked, even the
    # right one.
    path, query = await signin(browser, "ANA@example.com")
    assert (path, query["error"]) == ("/signin", "throttled")
    assert SESSION_COOKIE not in browser.cookies
    # Another address is not locked out: a stranger cannot lock the owner out.
    other = Browser(address="198.51.100.9")
    try:
        assert await signin(other, "ana@example.com") == ("/", {})
    finally:
        await other.close()
    # Once the attempts are older than the window (15 min), the first address gets in too.
    later(monkeypatch, 901)
    assert await signin(browser, "ana@example.com") == ("/", {})


async def test_a_success_clears_the_account_failures(browser: Browser) -> None:
    await make_user("bo@example.com")
    for _ in range(4):
        await signin(browser, "bo@example.com", "wrong password!")
    assert await signin(browser, "bo@example.com") == ("/", {})
    for _ in range(4):
        await signin(browser, "bo@example.com", "wrong password!")
    assert (await signin(browser, "bo@example.com"))[0] == "/"


async def test_twenty_attempts_from_one_address_lock_that_address(browser: Browser) -> None:
    await make_user("cy@example.com")
    for i in range(20):
        await signin(browser, f"nobody{i}@example.com", "wrong password!")
    assert (await signin(browser, "cy@example.com"))[1]["error"] == "throttled"
    other = Browser(address="198.51.100.10")
    try:
        assert await signin(other, "cy@example.com") == ("/", {})
    finally:
        await other.close()


# --- second factor --------------------------------------------------------------------------


async def secret_of(user_id: int) -> str:
    async with db.session() as s:
        row = await s.get(UserTotp, user_id)
        assert row is not None
        return secret_box().decrypt(row.secret_enc)


async def start_enrolment(user: User) -> str:
    async with db.session() as s:
        secret = await begin_totp_enrolment(s, user)
        await s.commit()
    return secret


async def test_staff_enrol_then_verify_and_codes_are_single_use(browser: Browser) -> None:
    staff = await make_user("ops@example.com", staff=True)
    assert staff.id is not None
    # Password alone: a partial session, sent to the second-factor page.
    assert await signin(browser, "ops@example.com", next_path="/admin") == (
        "/security/totp",
        {"next": "/admin"},
    )
    token = browser.cookies[SESSION_COOKIE]
    with pytest.raises(AccountError) as refused:
        await require_staff(staff, token)
    assert refused.value.code == "second_factor_required"
    # The data export also waits for the second factor.
    assert location(await browser.get("/account/export.json")) == (
        "/security/totp",
        {"next": "/security"},
    )

    secret = await start_enrolment(staff)  # what the enrolment page does
    assert await start_enrolment(staff) == secret  # same pending secret on reload
    async with db.session() as s:
        stored = (await s.get(UserTotp, staff.id)).secret_enc  # type: ignore[union-attr]
    assert secret not in stored  # encrypted at rest

    wrong = await browser.post("/auth/totp", data={"code": "000000", "next": "/admin"})
    if rfc6238(secret, time.time()) == "000000":  # pragma: no cover - 1 in a million
        pytest.skip("the random secret's code happens to be 000000")
    assert location(wrong) == ("/security/totp", {"error": "totp_invalid", "next": "/admin"})

    code = rfc6238(secret, time.time())
    ok = await browser.post("/auth/totp", data={"code": code, "next": "/admin"})
    assert location(ok) == ("/admin", {})
    assert await require_staff(staff, token) == staff
    async with db.session() as s:
        totp = await s.get(UserTotp, staff.id)
        assert totp is not None and totp.confirmed_at is not None

    # Next sign-in (another browser): verification, and the code just used is refused.
    other = Browser()
    try:
        assert (await signin(other, "ops@example.com"))[0] == "/security/totp"
        replay = await other.post("/auth/totp", data={"code": code})
        assert location(replay)[1]["error"] == "totp_invalid"
        other_token = other.cookies[SESSION_COOKIE]
        with pytest.raises(AccountError):
            await require_staff(staff, other_token)
        # A code of the next step (30 s later: within the accepted drift) passes.
        fresh = rfc6238(secret, time.time() + 30)
        assert location(await other.post("/auth/totp", data={"code": fresh})) == ("/", {})
        assert await require_staff(staff, other_token) == staff
    finally:
        await other.close()


async def test_require_staff_refusals(browser: Browser) -> None:
    traveler = await make_user("tr@example.com")
    staff = await make_user("st@example.com", staff=True)
    await signin(browser, "tr@example.com")
    traveler_token = browser.cookies[SESSION_COOKIE]
    for user, token in [
        (None, traveler_token),
        (traveler, traveler_token),  # not staff
        (staff, traveler_token),  # someone else's session
        (staff, None),
        (staff, "not-a-token"),
    ]:
        with pytest.raises(AccountError) as refused:
            await require_staff(user, token)
        assert refused.value.code == "forbidden"


async def test_wrong_codes_are_throttled(browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    staff = await make_user("th@example.com", staff=True)
    await signin(browser, "th@example.com")
    secret = await start_enrolment(staff)
    for _ in range(5):
        await browser.post("/auth/totp", data={"code": "abcdef"})
    good = rfc6238(secret, time.time())
    refused = await browser.post("/auth/totp", data={"code": good})
    assert location(refused)[1]["error"] == "throttled"
    later(monkeypatch, 901)
    assert location(await browser.post("/auth/totp", data={"code": good})) == ("/", {})


async def test_totp_post_needs_a_session(browser: Browser) -> None:
    response = await browser.post("/auth/totp", data={"code": "123456"})
    assert location(response) == ("/signin", {"error": "signin_required"})


async def test_travelers_with_totp_are_asked_for_it_too(browser: Browser) -> None:
    user = await make_user("tt@example.com")
    assert user.id is not None
    secret = await start_enrolment(user)
    async with db.session() as s:
        row = await s.get(UserTotp, user.id)
        assert row is not None
        row.confirmed_at = utcnow()
        s.add(row)
        await s.commit()
    assert (await signin(browser, "tt@example.com"))[0] == "/security/totp"
    ok = await browser.post("/auth/totp", data={"code": rfc6238(secret, time.time())})
    assert location(ok) == ("/", {})


# --- password reset -------------------------------------------------------------------------


async def reset_link(email: str) -> str:
    async with db.session() as s:
        mail = (
            await s.exec(
                select(OutboxEmail)
                .where(OutboxEmail.to_address == email)
                .where(OutboxEmail.kind == "password_reset")
                .order_by(col(OutboxEmail.id).desc())
            )
        ).first()
    assert mail is not None, "no reset email"
    match = re.search(r"(\S+/password/reset\?token=[\w\-]+)", mail.body_text)
    assert match
    return match.group(1)


async def test_reset_by_emailed_link_signs_out_everywhere_else(browser: Browser) -> None:
    await make_user("re@example.com", verified=False)
    laptop = Browser()
    try:
        await make_user("other@example.com")
        # An old session of the account (e.g. a stolen one) exists somewhere.
        async with db.session() as s:
            user = (await s.exec(select(User).where(User.email == "re@example.com"))).one()
            old_token = await sessions.create_session(s, user)
            await s.commit()

        answer = await laptop.post("/auth/password/forgot", data={"email": "RE@example.com"})
        assert location(answer) == ("/signin", {"notice": "reset_sent"})
        link = urlsplit(await reset_link("re@example.com"))
        assert f"{link.scheme}://{link.netloc}" == HOST and link.path == "/password/reset"
        token = link.query.split("=", 1)[1]

        mismatch = await laptop.post(
            "/auth/password/reset",
            data={"token": token, "password": "a new password 1", "password2": "different"},
        )
        assert location(mismatch)[1]["error"] == "passwords_differ"
        too_short = await laptop.post(
            "/auth/password/reset", data={"token": token, "password": "short", "password2": "short"}
        )
        assert location(too_short)[1] == {"token": token, "error": "password_too_short"}

        done = await laptop.post(
            "/auth/password/reset",
            data={"token": token, "password": "a new password 1", "password2": "a new password 1"},
        )
        assert location(done) == ("/account", {})
        assert await laptop.whoami() == "re@example.com"
        assert await sessions.user_for_token(old_token) is None
        # The link proved the address: the account is verified now; the new password works.
        async with db.session() as s:
            user = (await s.exec(select(User).where(User.email == "re@example.com"))).one()
            assert user.email_verified_at is not None
        assert await signin(browser, "re@example.com", "a new password 1") == ("/", {})
        assert (await signin(Browser(), "re@example.com"))[1]["error"] == "invalid_credentials"

        # Single use.
        again = await laptop.post(
            "/auth/password/reset",
            data={"token": token, "password": "another password", "password2": "another password"},
        )
        assert location(again) == ("/password/forgot", {"error": "reset_token_used"})
    finally:
        await laptop.close()


async def test_reset_links_expire(browser: Browser) -> None:
    await make_user("ex@example.com")
    await browser.post("/auth/password/forgot", data={"email": "ex@example.com"})
    token = urlsplit(await reset_link("ex@example.com")).query.split("=", 1)[1]
    async with db.session() as s:
        row = (await s.exec(select(EmailToken).where(EmailToken.purpose == "reset"))).one()
        # Issued for the configured 60 minutes.
        assert row.expires_at - row.created_at == timedelta(minutes=60)
        row.expires_at = utcnow() - timedelta(seconds=1)
        s.add(row)
        await s.commit()
    response = await browser.post(
        "/auth/password/reset",
        data={"token": token, "password": "a new password 1", "password2": "a new password 1"},
    )
    assert location(response) == ("/password/forgot", {"error": "reset_token_expired"})
    bogus = await browser.post(
        "/auth/password/reset",
        data={"token": "nope", "password": "a new password 1", "password2": "a new password 1"},
    )
    assert location(bogus) == ("/password/forgot", {"error": "reset_token_invalid"})


async def test_reset_request_is_neutral_and_rate_limited(browser: Browser) -> None:
    await make_user("ne@example.com")
    unknown = await browser.post("/auth/password/forgot", data={"email": "nobody@example.com"})
    known = await browser.post("/auth/password/forgot", data={"email": "ne@example.com"})
    assert location(unknown) == location(known) == ("/signin", {"notice": "reset_sent"})
    await browser.post("/auth/password/forgot", data={"email": "ne@example.com"})
    async with db.session() as s:
        mails = (
            await s.exec(select(OutboxEmail).where(OutboxEmail.kind == "password_reset"))
        ).all()
    # One per request to the owner; the unknown address got the "no account" note.
    assert [m.to_address for m in mails] == ["ne@example.com"] * 2
    async with db.session() as s:
        notes = (
            await s.exec(select(OutboxEmail).where(OutboxEmail.kind == "reset_no_account"))
        ).all()
    assert [m.to_address for m in notes] == ["nobody@example.com"]
    for _ in range(2):  # three per email and hour, then the clear refusal
        refused = await browser.post("/auth/password/forgot", data={"email": "ne@example.com"})
    assert location(refused) == ("/password/forgot", {"error": "rate_limited"})


# --- sign-out everywhere --------------------------------------------------------------------


async def test_sign_out_everywhere(browser: Browser) -> None:
    await make_user("ev@example.com")
    phone = Browser()
    try:
        await signin(browser, "ev@example.com")
        await signin(phone, "ev@example.com")
        tokens = [browser.cookies[SESSION_COOKIE], phone.cookies[SESSION_COOKIE]]
        response = await phone.post("/auth/signout-all")
        assert location(response) == ("/signin", {"notice": "signed_out_everywhere"})
        assert SESSION_COOKIE not in phone.cookies
        for token in tokens:
            assert await sessions.user_for_token(token) is None
        async with db.session() as s:
            rows = (await s.exec(select(AuthSession))).all()
        assert rows and all(r.revoked_at is not None for r in rows)
    finally:
        await phone.close()


async def test_sessions_record_how_they_started(browser: Browser) -> None:
    await make_user("hw@example.com")
    await signin(browser, "hw@example.com")
    async with db.session() as s:
        infos = await sessions.list_sessions(
            s,
            (await s.exec(select(User.id).where(User.email == "hw@example.com"))).one(),
            browser.cookies[SESSION_COOKIE],
        )
        factor = (await s.exec(select(SessionFactor))).one()
    assert [(i.method, i.current) for i in infos] == [("password", True)]
    assert factor.method == "password" and factor.totp_verified_at is None


# --- CSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/auth/password/forgot",
        "/auth/password/reset",
        "/auth/totp",
        "/auth/signout-all",
        "/account/delete",
        "/auth/oidc/login",
    ],
)
async def test_cross_origin_posts_are_refused(browser: Browser, path: str) -> None:
    await make_user("cs@example.com")
    await signin(browser, "cs@example.com")
    for header in ({"origin": "https://evil.example"}, {"referer": "https://evil.example/x"}):
        response = await browser.post(path, data={"email": "cs@example.com"}, headers=header)
        assert response.status_code == 403, path
    assert await browser.whoami() == "cs@example.com"


async def test_oidc_flow_cookie_flags_in_production(
    browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_provider(redirect_uris=[f"{HOST}/auth/oidc/callback"])
    try:
        configure_oidc(monkeypatch, server)
        monkeypatch.setenv("APP_ENV", "production")
        monkeypatch.setenv("SECRET_KEY", "a-production-secret-key-for-this-test")
        get_settings.cache_clear()
        b = Browser()
        try:
            response = await b.post("/auth/oidc/login", data={"next": "/"})
        finally:
            await b.close()
        attrs = set_cookie_attrs(response, "travelsim_oidc")
        assert attrs is not None
        assert attrs.get("httponly") is True and attrs.get("secure") is True
        assert str(attrs.get("samesite")).lower() == "lax"
        assert attrs.get("path") == "/auth/oidc" and attrs.get("max-age") == "600"
    finally:
        server.stop()

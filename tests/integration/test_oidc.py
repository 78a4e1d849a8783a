"""Sign-in with an OpenID Connect provider, end to end over HTTP: the portal's routes in
process, the test provider (``tests/oidc_provider.py``) on a loopback socket.

Expected behaviour comes from OpenID Connect Core 1.0 (section 3.1.2.1 state/nonce, section 3.1.3.7
ID token validation: signature, ``iss``, ``aud``, ``exp``, ``nonce``), RFC 7636 (PKCE S256), OpenID
Connect RP-Initiated Logout 1.0 and the linking rules of
docs/business-rules.md#sign-in-with-a-provider (link only when both sides verified the email).
"""

# ruff: noqa: F811  (pytest fixtures imported from oidc_support)

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
from oidc_support import (  # noqa: F401 - fixture
    FLOW_COOKIE,
    HOST,
    SESSION_COOKIE,
    Browser,
    configure_oidc,
    location,
    make_user,
    provider,
    provider_login,
    set_cookie_attrs,
)
from sqlmodel import col, select

from tests.oidc_provider import ProviderServer, s256
from travelsim import db
from travelsim.keys import secret_box
from travelsim.models import AuthSession, OidcIdentity, SessionFactor, User, UserTotp, utcnow
from travelsim.services.auth import sessions
from travelsim.services.auth.totp import new_totp_secret
from travelsim.settings import Settings


@pytest.fixture
async def browser(
    sqlite_db: Settings, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Browser]:
    configure_oidc(monkeypatch, provider)
    b = Browser()
    yield b
    await b.close()
    await db.async_engine().dispose()


async def identities() -> list[OidcIdentity]:
    async with db.session() as s:
        return list((await s.exec(select(OidcIdentity))).all())


async def user_by_email(email: str) -> User | None:
    async with db.session() as s:
        return (await s.exec(select(User).where(User.email == email))).first()


# --- the happy paths ------------------------------------------------------------------------


async def test_first_provider_sign_in_creates_a_verified_account(
    browser: Browser, provider: ProviderServer
) -> None:
    response = await provider_login(
        browser, provider, email="Ana@Example.com", next_path="/account"
    )

    assert location(response) == ("/account", {})
    attrs = set_cookie_attrs(response, SESSION_COOKIE)
    assert attrs is not None and attrs.get("httponly") is True
    assert str(attrs.get("samesite")).lower() == "lax" and attrs.get("path") == "/"
    assert await browser.whoami() == "ana@example.com"
    user = await user_by_email("ana@example.com")
    assert user is not None and user.email_verified_at is not None
    [identity] = await identities()
    assert (identity.issuer, identity.subject, identity.user_id) == (
        provider.issuer,
        "user-1",
        user.id,
    )
    # The flow cookie was single use: cleared by the callback.
    assert FLOW_COOKIE not in browser.cookies

    # What the provider saw: PKCE S256 with a verifier matching the challenge, state, nonce.
    [authz] = provider.provider.authorize_requests
    assert authz["code_challenge_method"] == "S256" and authz["state"] and authz["nonce"]
    assert "openid" in authz["scope"].split()
    [token_request] = provider.provider.token_requests
    assert token_request["ok"] and token_request["form"]["grant_type"] == "authorization_code"
    assert s256(token_request["form"]["code_verifier"]) == authz["code_challenge"]

    # The session remembers it came from the provider; the ID token is stored encrypted.
    async with db.session() as s:
        factor = (await s.exec(select(SessionFactor))).one()
    assert factor.method == "oidc" and factor.oidc_identity_id == identity.id
    assert factor.id_token_enc and "eyJ" not in factor.id_token_enc


async def test_links_to_an_existing_account_when_both_sides_verified(
    browser: Browser, provider: ProviderServer
) -> None:
    user = await make_user("bo@example.com", verified=True)
    response = await provider_login(browser, provider, email="bo@example.com", sub="bo-42")
    assert location(response)[0] == "/account"
    assert await browser.whoami() == "bo@example.com"
    [identity] = await identities()
    assert identity.user_id == user.id and identity.subject == "bo-42"


async def test_a_linked_identity_signs_in_by_subject_even_after_an_email_change(
    browser: Browser, provider: ProviderServer
) -> None:
    await provider_login(browser, provider, email="cy@example.com", sub="cy-1")
    other = Browser()
    try:
        response = await provider_login(other, provider, email="cy.new@example.com", sub="cy-1")
        assert location(response)[0] == "/account"
        assert await other.whoami() == "cy@example.com"
    finally:
        await other.close()
    assert await user_by_email("cy.new@example.com") is None
    [identity] = await identities()
    assert identity.email == "cy.new@example.com"


async def test_provider_sign_in_rotates_the_session(
    browser: Browser, provider: ProviderServer
) -> None:
    await make_user("di@example.com")
    first = await browser.post(
        "/auth/signin", data={"email": "di@example.com", "password": "correct horse battery"}
    )
    old_token = browser.cookies[SESSION_COOKIE]
    assert location(first)[0] == "/"
    await provider_login(browser, provider, email="di@example.com")
    new_token = browser.cookies[SESSION_COOKIE]
    assert new_token != old_token
    assert await sessions.user_for_token(old_token) is None
    assert await browser.whoami() == "di@example.com"


async def test_sign_out_ends_the_session_here_and_at_the_provider(
    browser: Browser, provider: ProviderServer
) -> None:
    await provider_login(browser, provider, email="ed@example.com")
    token = browser.cookies[SESSION_COOKIE]
    response = await browser.post("/auth/signout")
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{provider.issuer}/logout"
    params = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert params["post_logout_redirect_uri"] == f"{HOST}/"
    assert params["client_id"] == provider.provider.client_id
    assert params["id_token_hint"].count(".") == 2  # the ID token we were given
    assert SESSION_COOKIE not in browser.cookies
    assert await sessions.user_for_token(token) is None
    async with db.session() as s:
        row = (await s.exec(select(AuthSession))).one()
    assert row.revoked_at is not None


async def test_password_sign_out_stays_local(browser: Browser, provider: ProviderServer) -> None:
    await make_user("fa@example.com")
    await browser.post(
        "/auth/signin", data={"email": "fa@example.com", "password": "correct horse battery"}
    )
    response = await browser.post("/auth/signout")
    assert location(response) == ("/", {})


async def test_totp_users_signing_in_with_the_provider_still_need_the_second_factor(
    browser: Browser, provider: ProviderServer
) -> None:
    """(Staff are refused outright: tests/integration/test_oidc_linking.py.)"""
    user = await make_user("ops@example.com")
    async with db.session() as s:
        s.add(
            UserTotp(
                user_id=user.id or 0,
                secret_enc=secret_box().encrypt(new_totp_secret()),
                confirmed_at=utcnow(),
            )
        )
        await s.commit()
    response = await provider_login(browser, provider, email="ops@example.com", next_path="/esims")
    assert location(response) == ("/security/totp", {"next": "/esims"})
    assert await browser.whoami() is None  # the session owes its second factor


# --- refusals -------------------------------------------------------------------------------


async def assert_nobody_signed_in(browser: Browser) -> None:
    assert SESSION_COOKIE not in browser.cookies
    async with db.session() as s:
        assert (await s.exec(select(AuthSession))).first() is None


@pytest.mark.parametrize("fault", ["state", "nonce", "expired", "forged", "audience", "issuer"])
async def test_tampered_flows_and_bad_id_tokens_are_refused(
    browser: Browser, provider: ProviderServer, fault: str
) -> None:
    response = await provider_login(browser, provider, email="gi@example.com", fault=fault)
    assert location(response) == ("/signin", {"error": "oidc_failed"})
    await assert_nobody_signed_in(browser)
    assert await identities() == []
    assert await user_by_email("gi@example.com") is None
    if fault == "state":
        # A wrong state stops the flow before the code is ever redeemed.
        assert provider.provider.token_requests == []


async def test_a_callback_replayed_or_opened_in_another_browser_is_refused(
    browser: Browser, provider: ProviderServer
) -> None:
    start = await browser.post("/auth/oidc/login", data={"next": "/"})
    params = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    import httpx

    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{provider.issuer}/authorize",
            data={**params, "sub": "u", "email": "hu@example.com", "email_verified": "true"},
        )
    callback = answer.headers["location"][len(HOST) :]
    # Login CSRF: the attacker's callback URL opened in a victim's browser (no flow cookie).
    victim = Browser()
    try:
        refused = await victim.get(callback)
        assert location(refused) == ("/signin", {"error": "oidc_failed"})
        assert SESSION_COOKIE not in victim.cookies
    finally:
        await victim.close()
    # The rightful browser completes once; the same callback again is refused.
    ok = await browser.get(callback)
    assert location(ok)[0] == "/"
    browser.cookies.pop(SESSION_COOKIE)
    again = await browser.get(callback)
    assert location(again) == ("/signin", {"error": "oidc_failed"})


async def test_denied_at_the_provider(browser: Browser, provider: ProviderServer) -> None:
    response = await provider_login(browser, provider, email="ia@example.com", action="deny")
    assert location(response) == ("/signin", {"error": "oidc_denied"})
    await assert_nobody_signed_in(browser)


async def test_unverified_provider_email_never_links_to_an_existing_account(
    browser: Browser, provider: ProviderServer
) -> None:
    await make_user("jo@example.com", verified=True)
    response = await provider_login(browser, provider, email="jo@example.com", verified=False)
    assert location(response) == ("/signin", {"error": "oidc_unverified"})
    await assert_nobody_signed_in(browser)
    assert await identities() == []


async def test_unverified_provider_email_creates_no_account(
    browser: Browser, provider: ProviderServer
) -> None:
    response = await provider_login(browser, provider, email="ka@example.com", verified=False)
    assert location(response) == ("/signin", {"error": "oidc_unverified"})
    assert await user_by_email("ka@example.com") is None
    await assert_nobody_signed_in(browser)


async def test_no_link_to_an_account_whose_email_we_never_verified(
    browser: Browser, provider: ProviderServer
) -> None:
    await make_user("lu@example.com", verified=False)
    response = await provider_login(browser, provider, email="lu@example.com", verified=True)
    assert location(response) == ("/signin", {"error": "oidc_unverified"})
    await assert_nobody_signed_in(browser)
    assert await identities() == []


async def test_no_email_claim(browser: Browser, provider: ProviderServer) -> None:
    response = await provider_login(browser, provider, email=None)
    assert location(response) == ("/signin", {"error": "oidc_no_email"})
    await assert_nobody_signed_in(browser)


async def test_login_start_is_a_same_origin_post(
    browser: Browser, provider: ProviderServer
) -> None:
    response = await browser.post(
        "/auth/oidc/login", data={"next": "/"}, headers={"origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert provider.provider.authorize_requests == []


async def test_unsafe_next_is_ignored(browser: Browser, provider: ProviderServer) -> None:
    response = await provider_login(
        browser, provider, email="mo@example.com", next_path="https://evil.example/"
    )
    assert location(response) == ("/", {})


async def test_routes_answer_404_when_no_provider_is_configured(
    sqlite_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from travelsim.settings import get_settings

    monkeypatch.delenv("OIDC_ISSUER_URL", raising=False)
    get_settings.cache_clear()
    b = Browser()
    try:
        assert (await b.post("/auth/oidc/login", data={})).status_code == 404
        assert (await b.get("/auth/oidc/callback?code=x&state=y")).status_code == 404
    finally:
        await b.close()
        await db.async_engine().dispose()


@pytest.mark.postgres
async def test_provider_sign_in_on_postgres(
    pg_db: Settings, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_oidc(monkeypatch, provider)
    b = Browser()
    try:
        response = await provider_login(b, provider, email="pg@example.com")
        assert location(response)[0] == "/account"
        assert await b.whoami() == "pg@example.com"
        async with db.session() as s:
            rows = (
                await s.exec(select(OidcIdentity).where(col(OidcIdentity.subject) == "user-1"))
            ).all()
        assert len(rows) == 1
    finally:
        await b.close()
        await db.async_engine().dispose()


async def test_a_provider_whose_discovery_names_another_issuer_is_not_used(
    browser: Browser, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from travelsim.settings import get_settings

    # Same server, reached under another name: its discovery says "http://127.0.0.1:…".
    monkeypatch.setenv("OIDC_ISSUER_URL", provider.issuer.replace("127.0.0.1", "localhost"))
    get_settings.cache_clear()
    response = await browser.post("/auth/oidc/login", data={"next": "/"})
    assert location(response) == ("/signin", {"error": "oidc_unavailable"})
    assert provider.provider.authorize_requests == []

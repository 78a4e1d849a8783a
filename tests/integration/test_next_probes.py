"""Attack: an open redirect through ``next``, on every route and page state that takes one.

The attacker sends a traveler a portal link whose ``next`` points off-site (or hides a
backslash, a tab, a NUL, a percent-encoded backslash...), hoping the portal redirects there
after sign-in. Each value below reaches the portal exactly as written (it is the decoded
query or form value), through:

* the routes (real routes app over ASGI, real SQLite file): ``POST /auth/signup`` (refused
  and accepted), ``GET /auth/verify``, ``POST /auth/signin`` (right and wrong password),
  ``POST /auth/totp`` (right and wrong code), ``POST /auth/oidc/login`` → callback (test
  provider on loopback);
* the page states (Reflex handlers called as Reflex calls them): the sign-in/sign-up pages
  (``AuthPageState.load``, signed out and signed in) and the second-factor page
  (``TotpState.load``, verify and enrol).

Every one lands on ``/`` (or on the route's refusal page whose ``next`` is ``/``), never
elsewhere. ``tests/unit/test_next_checks.py`` proves no module reads a ``next`` without
:func:`travelsim.services.auth.signin.safe_next`.
"""

# ruff: noqa: F811  (pytest fixtures imported from oidc_support)

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote, urlsplit

import httpx
import pytest
from oidc_support import (  # noqa: F401 - fixture
    HOST,
    PASSWORD,
    SESSION_COOKIE,
    Browser,
    configure_oidc,
    location,
    make_user,
    provider,
    provider_login,
)
from sqlmodel import col, select

from tests.load.test_attack import call, tab
from tests.oidc_provider import ProviderServer
from travelsim import db
from travelsim.keys import secret_box
from travelsim.models import OutboxEmail, User, UserTotp, utcnow
from travelsim.services.auth import sessions, totp
from travelsim.settings import Settings, get_settings

EVIL = [
    "/\\evil.example",
    "/%5Cevil.example",
    "/\tevil.example",
    "/\\tevil.example",
    "//evil.example",
    "https://evil.example",
    "/ok\x00",
    "/%2F/evil.example",
    "/%09/evil.example",
]


@pytest.fixture
async def browser(
    sqlite_db: Settings, provider: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Browser]:
    configure_oidc(monkeypatch, provider)
    b = Browser(Origin=HOST)  # a same-origin form post, as the browser sends it
    yield b
    await b.close()
    await db.async_engine().dispose()


def lands_home(response: httpx.Response) -> None:
    """The redirect goes to ``/``, or to one of our pages whose ``next`` is ``/``."""
    assert not urlsplit(response.headers["location"]).netloc, response.headers["location"]
    path, query = location(response)
    target = "/" if path == "/" else query.get("next", "/")
    assert target == "/", response.headers["location"]


async def with_totp(email: str) -> tuple[User, str]:
    user = await make_user(email)
    secret = totp.new_totp_secret()
    async with db.session() as s:
        s.add(
            UserTotp(
                user_id=user.id or 0,
                secret_enc=secret_box().encrypt(secret),
                confirmed_at=utcnow(),
            )
        )
        await s.commit()
    return user, secret


async def verification_link(email: str) -> str:
    async with db.session() as s:
        mail = (
            await s.exec(
                select(OutboxEmail)
                .where(OutboxEmail.to_address == email)
                .where(OutboxEmail.kind == "verify")
                .order_by(col(OutboxEmail.id).desc())
            )
        ).first()
    assert mail is not None
    match = re.search(r"https?://\S+(/auth/verify\?token=[^\s&]+)", mail.body_text)
    assert match
    return match.group(1)


# --- routes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("evil", EVIL)
async def test_probe_next_signup_and_verify(browser: Browser, evil: str) -> None:
    refused = await browser.post(
        "/auth/signup", data={"email": "ana@example.com", "password": "short", "next": evil}
    )
    assert location(refused)[0] == "/signup"
    lands_home(refused)
    accepted = await browser.post(
        "/auth/signup", data={"email": "ana@example.com", "password": PASSWORD, "next": evil}
    )
    lands_home(accepted)
    link = await verification_link("ana@example.com")
    assert "next=" not in link  # an unsafe next never reaches the email
    verified = await browser.get(f"{link}&next={quote(evil, safe='')}")
    lands_home(verified)


@pytest.mark.parametrize("evil", EVIL)
async def test_probe_next_signin(browser: Browser, evil: str) -> None:
    await make_user("bo@example.com")
    wrong = await browser.post(
        "/auth/signin",
        data={"email": "bo@example.com", "password": "wrong password!", "next": evil},
    )
    lands_home(wrong)
    right = await browser.post(
        "/auth/signin", data={"email": "bo@example.com", "password": PASSWORD, "next": evil}
    )
    lands_home(right)
    assert SESSION_COOKIE in browser.cookies


@pytest.mark.parametrize("evil", EVIL)
async def test_probe_next_second_factor_route(browser: Browser, evil: str) -> None:
    _user, secret = await with_totp("cy@example.com")
    signin = await browser.post(
        "/auth/signin", data={"email": "cy@example.com", "password": PASSWORD, "next": evil}
    )
    assert location(signin) == ("/security/totp", {})
    wrong = await browser.post("/auth/totp", data={"code": "000000", "next": evil})
    assert location(wrong)[0] == "/security/totp"
    lands_home(wrong)
    right = await browser.post("/auth/totp", data={"code": totp._totp(secret).now(), "next": evil})
    lands_home(right)
    assert await browser.whoami() == "cy@example.com"


@pytest.mark.parametrize("evil", EVIL)
async def test_probe_next_provider_sign_in(
    browser: Browser, provider: ProviderServer, evil: str
) -> None:
    response = await provider_login(browser, provider, email="di@example.com", next_path=evil)
    lands_home(response)
    assert await browser.whoami() == "di@example.com"


# --- page states ----------------------------------------------------------------------------
@pytest.fixture
def loopback_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Driving a Reflex state loads ``rxconfig.py``, whose start-up checks answer on loopback
    only in test mode; the provider's ``PUBLIC_URL`` (:data:`HOST`) is not needed here."""
    monkeypatch.setenv("PUBLIC_URL", "http://localhost:3000")
    get_settings.cache_clear()


async def _session(user: User) -> str:
    async with db.session() as s:
        token = await sessions.start_session(s, user, method="password")
        await s.commit()
    return token


@pytest.mark.parametrize("evil", EVIL)
async def test_probe_next_auth_page_states(
    browser: Browser, loopback_public_url: None, evil: str
) -> None:
    from travelsim.state.auth_pages import AuthPageState

    query = "?next=" + quote(evil, safe="")
    for page in ("/signin", "/signup"):
        state = tab(AuthPageState, None, page + query)
        await call(AuthPageState.event_handlers["load"], state, [])
        assert (state.next_path, state.next_query) == ("/", ""), page
    user = await make_user("ed@example.com")
    state = tab(AuthPageState, await _session(user), "/signin" + query)
    await call(AuthPageState.event_handlers["load"], state, [])
    assert state.signed_in and state.next_path == "/"  # where its redirect goes


@pytest.mark.parametrize("evil", EVIL)
async def test_probe_next_second_factor_state(
    browser: Browser, loopback_public_url: None, evil: str
) -> None:
    from travelsim.state.security import TotpState

    query = "?next=" + quote(evil, safe="")
    user, _secret = await with_totp("fa@example.com")
    state = tab(TotpState, await _session(user), "/security/totp" + query)
    await call(TotpState.event_handlers["load"], state, [])
    assert (state.mode, state.next_path) == ("verify", "/")
    enrolling = await make_user("gu@example.com")
    state = tab(TotpState, await _session(enrolling), "/security/totp" + query)
    await call(TotpState.event_handlers["load"], state, [])
    assert state.mode == "enrol" and state.next_path == "/security?notice=totp_on"

"""The /auth/* form posts end to end over ASGI, against real databases: sign-up → the
verification email in the outbox → verify → cookie → sign-in/out, and the refusals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from http.cookiejar import CookieJar, DefaultCookiePolicy
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from travelsim import db
from travelsim.models import AuthSession, EmailToken, OutboxEmail, User, utcnow
from travelsim.routes.app import build_routes_app
from travelsim.routes.http import current_user
from travelsim.settings import Settings, get_settings

PASSWORD = "correct horse battery"
HOST = "http://portal.test"
COOKIE = "travelsim_session"
FLOW_COOKIE = "travelsim_signup"
THIRTY_DAYS = 30 * 24 * 3600


@pytest.fixture
async def engines() -> AsyncIterator[None]:
    yield
    await db.async_engine().dispose()


async def whoami(request: Request) -> JSONResponse:
    user = await current_user(request)
    return JSONResponse({"email": user.email if user else None})


def app() -> Starlette:
    """The real routes app, plus a probe of ``current_user`` for these tests."""
    routes_app = build_routes_app()
    routes_app.router.routes.append(Route("/whoami", whoami))
    return routes_app


class _NoCookies(DefaultCookiePolicy):
    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False


def client() -> httpx.AsyncClient:
    """A client that stores no cookies: each test passes the ``Cookie`` header itself, so
    it states exactly what each browser sends."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app()),
        base_url=HOST,
        cookies=CookieJar(policy=_NoCookies()),
    )


def location(response: httpx.Response) -> tuple[str, dict[str, str]]:
    assert response.status_code == 303, response.text
    parts = urlsplit(response.headers["location"])
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def session_cookie(response: httpx.Response) -> tuple[str, dict[str, str | bool]]:
    """The session cookie's value and attributes (lower-cased names) from Set-Cookie."""
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE + "=")]
    assert len(headers) == 1, response.headers
    attrs: dict[str, str | bool] = {}
    for item in headers[0].split(";")[1:]:
        name, _, value = item.strip().partition("=")
        attrs[name.lower()] = value if value else True
    jar: SimpleCookie = SimpleCookie()
    jar.load(headers[0])
    return jar[COOKIE].value, attrs


async def outbox_link(email: str) -> str:
    """The verification link from the newest verification email to ``email``."""
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
    match = re.search(r"(\S+/auth/verify\?token=\S+)", mail.body_text)
    assert match
    return match.group(1)


async def signup(
    c: httpx.AsyncClient, email: str = "ana@example.com", **extra: str
) -> httpx.Response:
    return await c.post("/auth/signup", data={"email": email, "password": PASSWORD, **extra})


def flow_header(response: httpx.Response) -> dict[str, str]:
    """The ``Cookie`` header of the browser that posted a sign-up (its flow cookie, which
    lets the verification link sign that browser in)."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(FLOW_COOKIE + "="):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            return {"Cookie": f"{FLOW_COOKIE}={jar[FLOW_COOKIE].value}"}
    raise AssertionError("no sign-up flow cookie")


async def signed_up_and_verified(c: httpx.AsyncClient, email: str = "ana@example.com") -> None:
    flow = flow_header(await signup(c, email))
    link = urlsplit(await outbox_link(email))
    response = await c.get(f"{link.path}?{link.query}", headers=flow)
    assert location(response)[0] == "/"


async def signin(c: httpx.AsyncClient, email: str, password: str, **extra: str) -> httpx.Response:
    return await c.post("/auth/signin", data={"email": email, "password": password, **extra})


async def whoami_with(c: httpx.AsyncClient, token: str) -> str | None:
    response = await c.get("/whoami", headers={"Cookie": f"{COOKIE}={token}"})
    email: str | None = response.json()["email"]
    return email


# --- the happy path ---------------------------------------------------------------------------


async def test_signup_verify_signin_signout(any_db: Settings, engines: None) -> None:
    async with client() as c:
        response = await signup(c, "Ana@Example.com")
        assert location(response) == ("/signin", {"notice": "check_email"})
        assert PASSWORD not in response.headers["location"]
        flow = flow_header(response)

        # The link points at PUBLIC_URL (never the request's Host) and works once.
        link = await outbox_link("ana@example.com")
        assert link.startswith(get_settings().public_url.rstrip("/") + "/auth/verify?token=")
        parts = urlsplit(link)
        response = await c.get(f"{parts.path}?{parts.query}", headers=flow)
        assert location(response) == ("/", {})
        token, attrs = session_cookie(response)
        assert attrs["httponly"] is True
        assert str(attrs["samesite"]).lower() == "lax"
        assert attrs["path"] == "/"
        assert attrs["max-age"] == str(THIRTY_DAYS)
        assert "secure" not in attrs  # APP_ENV=test serves plain HTTP
        assert await whoami_with(c, token) == "ana@example.com"

        again = await c.get(f"{parts.path}?{parts.query}", headers=flow)
        assert location(again) == ("/signin", {"error": "token_used"})
        assert COOKIE not in again.headers.get("set-cookie", "")

        # Sign in from another browser, to a safe next page.
        response = await signin(c, "ana@example.com", PASSWORD, next="/esims/3?tab=install")
        assert location(response) == ("/esims/3", {"tab": "install"})
        second, attrs = session_cookie(response)
        assert attrs["httponly"] is True and str(attrs["samesite"]).lower() == "lax"
        assert second != token
        assert await whoami_with(c, second) == "ana@example.com"

        # Sign out: the row is revoked server-side and the cookie is deleted.
        response = await c.post("/auth/signout", headers={"Cookie": f"{COOKIE}={second}"})
        assert location(response) == ("/", {})
        cleared, attrs = session_cookie(response)
        assert cleared == "" and attrs["max-age"] == "0"
        assert await whoami_with(c, second) is None
        assert await whoami_with(c, token) == "ana@example.com"  # the other browser stays
    async with db.session() as s:
        rows = (await s.exec(select(AuthSession))).all()
    assert sorted(r.revoked_at is not None for r in rows) == [False, True]


async def test_verification_link_returns_to_the_page_the_traveler_came_from(
    sqlite_db: Settings, engines: None
) -> None:
    """Sign-up from a checkout (``next``) → the emailed link carries it → verifying lands on
    that checkout, signed in. A hostile ``next`` never reaches the link or the redirect."""
    async with client() as c:
        response = await signup(c, next="/buy/870101?to=FR")
        assert location(response) == (
            "/signin",
            {"notice": "check_email", "next": "/buy/870101?to=FR"},
        )
        link = urlsplit(await outbox_link("ana@example.com"))
        assert parse_qs(link.query)["next"] == ["/buy/870101?to=FR"]
        response = await c.get(f"{link.path}?{link.query}", headers=flow_header(response))
        assert location(response) == ("/buy/870101", {"to": "FR"})
        token, _ = session_cookie(response)
        assert await whoami_with(c, token) == "ana@example.com"

        flow = flow_header(await signup(c, "bo@example.com", next="//evil.example/phish"))
        link = urlsplit(await outbox_link("bo@example.com"))
        assert "next" not in parse_qs(link.query)
        forged = await c.get(f"{link.path}?{link.query}&next=https://evil.example/", headers=flow)
        assert location(forged) == ("/", {})


async def test_signin_replaces_an_existing_session(sqlite_db: Settings, engines: None) -> None:
    async with client() as c:
        await signed_up_and_verified(c)
        first, _ = session_cookie(await signin(c, "ana@example.com", PASSWORD))
        response = await c.post(
            "/auth/signin",
            data={"email": "ana@example.com", "password": PASSWORD},
            headers={"Cookie": f"{COOKIE}={first}"},
        )
        second, _ = session_cookie(response)
        assert await whoami_with(c, first) is None
        assert await whoami_with(c, second) == "ana@example.com"


async def test_secure_cookie_in_production(
    sqlite_db: Settings, engines: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    get_settings.cache_clear()
    async with client() as c:
        await signed_up_and_verified(c)
        _token, attrs = session_cookie(await signin(c, "ana@example.com", PASSWORD))
    assert attrs["secure"] is True


# --- refusals -------------------------------------------------------------------------------


async def test_wrong_password_and_unknown_email_look_alike(
    sqlite_db: Settings, engines: None
) -> None:
    async with client() as c:
        await signed_up_and_verified(c)
        wrong = await signin(c, "ana@example.com", "not the password", next="/esims")
        unknown = await signin(c, "nobody@example.com", PASSWORD, next="/esims")
    for response in (wrong, unknown):
        assert location(response) == ("/signin", {"error": "invalid_credentials", "next": "/esims"})
        assert "set-cookie" not in response.headers


async def test_unverified_user_cannot_sign_in_and_can_resend(
    sqlite_db: Settings, engines: None
) -> None:
    async with client() as c:
        await signup(c)
        response = await signin(c, "ana@example.com", PASSWORD)
        path, params = location(response)
        assert (path, params["error"], params["email"]) == (
            "/signin",
            "unverified",
            "ana@example.com",
        )
        assert "set-cookie" not in response.headers
        async with db.session() as s:  # past the resend cooldown
            await s.exec(update(EmailToken).values(created_at=utcnow() - timedelta(minutes=5)))
            await s.commit()
        for email in ("ana@example.com", "nobody@example.com"):  # same answer for both
            response = await c.post("/auth/resend", data={"email": email})
            assert location(response) == ("/signin", {"notice": "check_email"})
    async with db.session() as s:
        mails = (await s.exec(select(OutboxEmail))).all()
    assert [(m.kind, m.to_address) for m in mails] == [
        ("verify", "ana@example.com"),
        ("verify", "ana@example.com"),
        ("verify_no_account", "nobody@example.com"),  # one email for every address
    ]


@pytest.mark.parametrize(
    ("email", "password", "code"),
    [
        ("ana@", PASSWORD, "email_invalid"),
        ("ana@example.com", "Pw-9x!", "password_too_short"),
        ("ana@example.com", " " * 16, "password_blank"),
        ("ana@example.com", "ana@example.com", "password_is_email"),
        ("ana@example.com", "x" * 129, "password_too_long"),
    ],
)
async def test_signup_errors_go_back_without_the_password(
    sqlite_db: Settings, engines: None, email: str, password: str, code: str
) -> None:
    async with client() as c:
        response = await c.post(
            "/auth/signup", data={"email": email, "password": password, "next": "/checkout"}
        )
    path, params = location(response)
    assert path == "/signup"
    assert params["error"] == code
    assert params["email"] == email
    assert params["next"] == "/checkout"
    if password.strip():
        assert password not in response.headers["location"]
    async with db.session() as s:
        assert (await s.exec(select(User))).all() == []


async def test_duplicate_signup_is_neutral_and_emails_the_owner(
    sqlite_db: Settings, engines: None
) -> None:
    async with client() as c:
        await signed_up_and_verified(c)
        response = await signup(c, "ANA@example.com")
    assert location(response) == ("/signin", {"notice": "check_email"})
    async with db.session() as s:
        kinds = [m.kind for m in (await s.exec(select(OutboxEmail))).all()]
        users = (await s.exec(select(User))).all()
    assert kinds == ["verify", "account_exists"]
    assert len(users) == 1


async def test_expired_and_invalid_verification_links(sqlite_db: Settings, engines: None) -> None:
    async with client() as c:
        await signup(c)
        parts = urlsplit(await outbox_link("ana@example.com"))
        async with db.session() as s:
            await s.exec(update(EmailToken).values(expires_at=utcnow() - timedelta(seconds=1)))
            await s.commit()
        expired = await c.get(f"{parts.path}?{parts.query}")
        invalid = await c.get("/auth/verify?token=not-a-token")
        missing = await c.get("/auth/verify")
    assert location(expired) == ("/signin", {"error": "token_expired"})
    assert location(invalid) == ("/signin", {"error": "token_invalid"})
    assert location(missing) == ("/signin", {"error": "token_invalid"})
    for response in (expired, invalid, missing):
        assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/phish",
        "https://evil.example/",
        "/\\evil.example",
        "http:evil.example",
        "javascript:alert(1)",
    ],
)
async def test_open_redirect_attempts_land_home(
    sqlite_db: Settings, engines: None, target: str
) -> None:
    async with client() as c:
        await signed_up_and_verified(c)
        ok = await signin(c, "ana@example.com", PASSWORD, next=target)
        bad = await signin(c, "ana@example.com", "wrong password!", next=target)
    assert location(ok) == ("/", {})
    assert location(bad) == ("/signin", {"error": "invalid_credentials", "next": "/"})


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/form.html"},
    ],
)
@pytest.mark.parametrize("path", ["/auth/signup", "/auth/signin", "/auth/signout", "/auth/resend"])
async def test_cross_origin_posts_are_refused(
    sqlite_db: Settings, engines: None, headers: dict[str, str], path: str
) -> None:
    async with client() as c:
        response = await c.post(
            path, data={"email": "ana@example.com", "password": PASSWORD}, headers=headers
        )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    async with db.session() as s:
        assert (await s.exec(select(User))).all() == []


async def test_cross_origin_signout_keeps_the_session(sqlite_db: Settings, engines: None) -> None:
    async with client() as c:
        await signed_up_and_verified(c)
        token, _ = session_cookie(await signin(c, "ana@example.com", PASSWORD))
        response = await c.post(
            "/auth/signout",
            headers={"Cookie": f"{COOKIE}={token}", "Origin": "https://evil.example"},
        )
        assert response.status_code == 403
        assert await whoami_with(c, token) == "ana@example.com"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": HOST},
        {"Origin": "http://localhost:3000"},  # PUBLIC_URL (the default in tests)
        {"Referer": HOST + "/signup?next=/"},
    ],
)
async def test_same_origin_posts_are_accepted(
    sqlite_db: Settings, engines: None, headers: dict[str, str]
) -> None:
    assert get_settings().public_url == "http://localhost:3000"
    async with client() as c:
        response = await c.post(
            "/auth/signup", data={"email": "ana@example.com", "password": PASSWORD}, headers=headers
        )
    assert location(response) == ("/signin", {"notice": "check_email"})


async def test_expired_sessions_are_signed_out(any_db: Settings, engines: None) -> None:
    async with client() as c:
        await signed_up_and_verified(c)
        idle, _ = session_cookie(await signin(c, "ana@example.com", PASSWORD))
        old, _ = session_cookie(await signin(c, "ana@example.com", PASSWORD))
        now = utcnow()
        async with db.session() as s:
            rows = (await s.exec(select(AuthSession).order_by(col(AuthSession.id)))).all()
            idle_row, old_row = rows[-2], rows[-1]
            idle_row.last_seen_at = now - timedelta(days=7, minutes=1)
            old_row.expires_at = now - timedelta(seconds=1)
            s.add(idle_row)
            s.add(old_row)
            await s.commit()
        assert await whoami_with(c, idle) is None
        assert await whoami_with(c, old) is None
        assert (await c.get("/whoami")).json() == {"email": None}
        assert await whoami_with(c, "forged-token") is None

"""Helpers for the OIDC, security and privacy route tests (no tests here).

The portal's routes run in process over ASGI (``httpx.ASGITransport``) against the real
database of ``tests/conftest.py``; the OIDC provider (``tests/oidc_provider.py``) runs on a
loopback socket, and the portal's Authlib client talks to it over real HTTP.
:class:`Browser` carries cookies explicitly (name → value, as a browser would send them to
these paths), so each test states what the browser holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.oidc_provider import ProviderServer, start_provider
from travelsim import db
from travelsim.models import User, utcnow
from travelsim.routes.app import build_routes_app
from travelsim.services.auth import passwords, sessions
from travelsim.settings import Settings, get_settings

HOST = "http://portal.test"
CALLBACK = f"{HOST}/auth/oidc/callback"
SESSION_COOKIE = "travelsim_session"
FLOW_COOKIE = "travelsim_oidc"
PASSWORD = "correct horse battery"


def location(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """Path and query of a redirect (303 or 302)."""
    assert response.status_code in (302, 303), (response.status_code, response.text)
    parts = urlsplit(response.headers["location"])
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def set_cookie_attrs(response: httpx.Response, name: str) -> dict[str, str | bool] | None:
    """Attributes (lower-case names) of the ``Set-Cookie`` for ``name``, or ``None``."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(name + "="):
            attrs: dict[str, str | bool] = {}
            for item in header.split(";")[1:]:
                key, _, value = item.strip().partition("=")
                attrs[key.lower()] = value if value else True
            return attrs
    return None


class Browser:
    """A portal client that keeps the cookies the portal sets (honouring deletions)."""

    def __init__(self, address: str = "203.0.113.7", **headers: str) -> None:
        self.cookies: dict[str, str] = {}
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=build_routes_app(), client=(address, 5000)),
            base_url=HOST,
            headers=headers,
        )

    def _cookie_header(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def _store(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value or "1970" in morsel["expires"]:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        response = await self.client.get(url, headers=self._cookie_header(), **kw)
        self._store(response)
        return response

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        headers = {**self._cookie_header(), **kw.pop("headers", {})}
        response = await self.client.post(url, headers=headers, **kw)
        self._store(response)
        return response

    async def whoami(self) -> str | None:
        """The email of the signed-in user per the portal's own session lookup."""
        token = self.cookies.get(SESSION_COOKIE)
        user = await sessions.user_for_token(token)
        return user.email if user else None

    async def close(self) -> None:
        await self.client.aclose()


async def provider_login(
    browser: Browser,
    provider: ProviderServer,
    *,
    email: str | None,
    verified: bool = True,
    sub: str = "user-1",
    fault: str = "none",
    action: str = "approve",
    next_path: str = "/account",
) -> httpx.Response:
    """Click "Sign in with …", approve at the provider, come back: the portal's answer to
    the callback."""
    start = await browser.post("/auth/oidc/login", data={"next": next_path})
    assert start.status_code == 302, start.text
    authorize_url = start.headers["location"]
    assert authorize_url.startswith(provider.issuer + "/authorize?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    async with httpx.AsyncClient() as http:
        page = await http.get(authorize_url)
        assert page.status_code == 200, page.text
        form = {**params, "sub": sub, "fault": fault, "action": action}
        if email is not None:
            form["email"] = email
        if verified:
            form["email_verified"] = "true"
        answer = await http.post(f"{provider.issuer}/authorize", data=form)
    assert answer.status_code == 302, answer.text
    callback = answer.headers["location"]
    assert callback.startswith(CALLBACK + "?")
    return await browser.get(callback[len(HOST) :])


async def make_user(
    email: str, *, verified: bool = True, staff: bool = False, password: str = PASSWORD
) -> User:
    """A user with ``password``, email verified (or not), staff (or not)."""
    async with db.session() as s:
        user = User(
            email=email,
            password_hash=passwords.hash_password(password),
            email_verified_at=utcnow() if verified else None,
            is_staff=staff,
        )
        s.add(user)
        await s.commit()
        await s.refresh(user)
        return user


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    """A test OIDC provider on loopback that accepts the portal's callback URL."""
    server = start_provider(redirect_uris=[CALLBACK])
    yield server
    server.stop()


def configure_oidc(monkeypatch: pytest.MonkeyPatch, server: ProviderServer) -> Settings:
    """Point the portal's settings at ``server`` (and ``PUBLIC_URL`` at :data:`HOST`)."""
    monkeypatch.setenv("PUBLIC_URL", HOST)
    monkeypatch.setenv("OIDC_ISSUER_URL", server.issuer)
    monkeypatch.setenv("OIDC_CLIENT_ID", server.provider.client_id)
    monkeypatch.setenv("OIDC_CLIENT_SECRET", server.provider.client_secret)
    monkeypatch.setenv("OIDC_DISPLAY_NAME", "Test IdP")
    get_settings.cache_clear()
    return get_settings()

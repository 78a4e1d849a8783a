"""The currency menu's route, over ASGI against a real SQLite file
(docs/i18n.md#currencies): the cookie, the account's choice, a safe return path."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import select
from test_auth_routes import PASSWORD, client, signed_up_and_verified, signin

from travelsim import db
from travelsim.models import User
from travelsim.routes.currency import CURRENCY_COOKIE
from travelsim.settings import Settings


@pytest.fixture
async def engines() -> AsyncIterator[None]:
    yield
    await db.async_engine().dispose()


def currency_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(CURRENCY_COOKIE + "="):
            return header.split(";")[0].split("=", 1)[1]
    return None


async def test_switch_sets_the_cookie_and_returns_to_a_safe_page(
    sqlite_db: Settings, engines: None
) -> None:
    async with client() as c:
        r = await c.get("/currency/GBP", headers={"Referer": "http://portal.test/fr/?to=JP"})
        assert (r.status_code, r.headers["location"]) == (303, "/fr/?to=JP")
        assert currency_cookie(r) == "GBP"
        r = await c.get("/currency/usd", params={"next": "/de/account"})
        assert r.headers["location"] == "/de/account"
        assert currency_cookie(r) == "USD"
        for unsafe in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            r = await c.get("/currency/EUR", params={"next": unsafe})
            assert r.headers["location"] == "/", unsafe
        r = await c.get("/currency/JPY")
        assert r.status_code == 404 and currency_cookie(r) is None


async def test_the_choice_is_stored_in_the_account(sqlite_db: Settings, engines: None) -> None:
    async with client() as c:
        await signed_up_and_verified(c)
        first = await signin(c, "ana@example.com", PASSWORD)
        session = first.headers.get_list("set-cookie")[0].split(";")[0]
        async with db.session() as s:
            user = (await s.exec(select(User).where(User.email == "ana@example.com"))).one()
            assert user.currency is None
        r = await c.get("/currency/GBP", params={"next": "/account"}, headers={"Cookie": session})
        assert (r.status_code, currency_cookie(r)) == (303, "GBP")
        async with db.session() as s:
            user = (await s.exec(select(User).where(User.email == "ana@example.com"))).one()
            assert user.currency == "GBP"


async def test_sign_in_brings_the_accounts_currency_to_the_browser(
    sqlite_db: Settings, engines: None
) -> None:
    async with client() as c:
        await signed_up_and_verified(c)
        first = await signin(c, "ana@example.com", PASSWORD)
        assert currency_cookie(first) is None  # nothing chosen yet
        session = first.headers.get_list("set-cookie")[0].split(";")[0]
        await c.get("/currency/USD", params={"next": "/"}, headers={"Cookie": session})
        # Another browser (no cookie at all) signs in: the account's USD becomes its choice.
        again = await signin(c, "ana@example.com", PASSWORD)
        assert currency_cookie(again) == "USD"

"""The language switcher's route and the account's language at sign-in, over ASGI against a
real SQLite file (docs/i18n.md#choosing-the-language)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import select
from test_auth_routes import PASSWORD, client, signed_up_and_verified, signin

from travelsim import db
from travelsim.models import User
from travelsim.routes.locale import LANG_COOKIE
from travelsim.settings import Settings


@pytest.fixture
async def engines() -> AsyncIterator[None]:
    yield
    await db.async_engine().dispose()


def lang_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(LANG_COOKIE + "="):
            return header.split(";")[0].split("=", 1)[1]
    return None


async def test_switch_returns_to_the_same_page_in_the_new_language(
    sqlite_db: Settings, engines: None
) -> None:
    async with client() as c:
        r = await c.get("/lang/de", headers={"Referer": "http://portal.test/fr/?to=JP"})
        assert (r.status_code, r.headers["location"]) == (303, "/de/?to=JP")
        assert lang_cookie(r) == "de"
        r = await c.get("/lang/en", params={"next": "/es/esims/4/install"})
        assert r.headers["location"] == "/esims/4/install"
        assert lang_cookie(r) == "en"
        # A foreign Referer or an unsafe next never becomes the target.
        r = await c.get("/lang/fr", headers={"Referer": "https://evil.example/account"})
        assert r.headers["location"] == "/fr/"
        for unsafe in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            r = await c.get("/lang/fr", params={"next": unsafe})
            assert r.headers["location"] == "/fr/", unsafe
        # A staff page keeps its (English only) path.
        r = await c.get("/lang/fr", params={"next": "/admin/orders"})
        assert r.headers["location"] == "/admin/orders"
        r = await c.get("/lang/it")
        assert r.status_code == 404 and lang_cookie(r) is None


async def test_the_choice_is_stored_in_the_account_and_restored_at_sign_in(
    sqlite_db: Settings, engines: None
) -> None:
    async with client() as c:
        await signed_up_and_verified(c)
        first = await signin(c, "ana@example.com", PASSWORD)
        assert lang_cookie(first) is None  # no choice made yet
        session = first.headers.get_list("set-cookie")[0].split(";")[0]
        r = await c.get("/lang/es", params={"next": "/account"}, headers={"Cookie": session})
        assert r.headers["location"] == "/es/account"
        async with db.session() as s:
            user = (await s.exec(select(User).where(User.email == "ana@example.com"))).one()
            assert user.locale == "es"
        # A new browser: signing in brings the account's language with it.
        again = await signin(c, "ana@example.com", PASSWORD)
        assert lang_cookie(again) == "es"

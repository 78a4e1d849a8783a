"""The demo mailbox exists only in APP_ENV=demo."""

from __future__ import annotations

import httpx
import pytest

from travelsim import db
from travelsim.routes.app import build_routes_app
from travelsim.services import email
from travelsim.settings import Settings, get_settings


async def _get(host: str = "localhost:3000") -> httpx.Response:
    transport = httpx.ASGITransport(app=build_routes_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:3000") as client:
        return await client.get("/demo/mailbox", headers={"host": host})


async def test_mailbox_hidden_outside_demo(sqlite_db: Settings) -> None:
    assert get_settings().app_env == "test"
    assert (await _get()).status_code == 404
    await db.async_engine().dispose()


async def test_mailbox_lists_outbox_in_demo(
    sqlite_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_ENV", "demo")
    get_settings.cache_clear()
    async with db.session() as s:
        await email.enqueue(
            s,
            to="a@example.com",
            subject="Verify <your> email",
            text="Open https://x.example/auth/verify?token=abc",
            kind="verify_email",
        )
        await s.commit()
    response = await _get()
    await db.async_engine().dispose()
    assert response.status_code == 200
    assert "Verify &lt;your&gt; email" in response.text  # escaped
    assert "auth/verify?token=abc" in response.text
    assert response.headers["cache-control"] == "no-store"


async def test_mailbox_says_it_shows_everyones_email_in_the_local_demo_only(
    sqlite_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_ENV", "demo")
    get_settings.cache_clear()
    response = await _get()
    await db.async_engine().dispose()
    text = response.text
    assert "every traveler" in text  # not only the visitor's own
    assert "local demo" in text and "does not exist in production" in text


@pytest.mark.parametrize("host", ["evil.example", "evil.example:3000", "203.0.113.5"])
async def test_probe_mailbox_refuses_a_foreign_host(
    sqlite_db: Settings, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    """DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 reads the
    mailbox with ``Host: evil.example``. Only loopback names and PUBLIC_URL's host answer."""
    monkeypatch.setenv("APP_ENV", "demo")
    get_settings.cache_clear()
    async with db.session() as s:
        await email.enqueue(
            s, to="v@example.com", subject="Reset", text="/password/reset?token=x", kind="reset"
        )
        await s.commit()
    refused = await _get(host)
    allowed = [await _get(h) for h in ("localhost:3000", "127.0.0.1:3000", "[::1]:3000")]
    monkeypatch.setenv("PUBLIC_URL", "http://192.168.1.20:3000")
    get_settings.cache_clear()
    lan = await _get("192.168.1.20:3000")
    await db.async_engine().dispose()
    assert refused.status_code == 404 and "reset?token" not in refused.text
    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert lan.status_code == 200

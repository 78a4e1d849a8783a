"""/healthz reports database reachability as JSON."""

from __future__ import annotations

import httpx
import pytest

from travelsim import db
from travelsim.routes.app import build_routes_app
from travelsim.settings import Settings, get_settings


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=build_routes_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as client:
        return await client.get(path)


async def test_healthz_ok_with_reachable_sqlite(sqlite_db: Settings) -> None:
    response = await _get("/healthz")
    await db.async_engine().dispose()
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.postgres
async def test_healthz_ok_with_reachable_postgres(pg_db: Settings) -> None:
    response = await _get("/healthz")
    await db.async_engine().dispose()
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_healthz_503_when_database_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Port 9 (discard) on loopback: nothing listens there, so the connection is refused.
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:9/none")
    get_settings.cache_clear()
    db.reset_engines()
    try:
        response = await _get("/healthz")
    finally:
        get_settings.cache_clear()
        db.reset_engines()
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "unreachable"
    assert "secret" not in response.text and "127.0.0.1" not in response.text

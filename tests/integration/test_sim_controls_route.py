"""The in-process simulator's controls on the portal's own port (``/_sim/...``).

Served only when ``APP_ENV`` is ``demo`` or ``test`` and the built-in simulator is in use,
and only to a loopback client (the ASGI connection's address; forwarding headers never make
a client local). The SFT API itself (``/api/...``) is never reachable through the portal.
The client address is set on the ASGI transport (``client=``), as a server sets it from the
TCP peer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from travelsim import db
from travelsim.routes.app import build_routes_app
from travelsim.settings import get_settings

LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.7", 50000)  # TEST-NET-3: never local
SEEDED = 7


@pytest.fixture
def sim_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Test mode with the built-in simulator on its own file, seeded with ``SEEDED`` eSIMs."""
    db_path = tmp_path / "sim.db"
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.delenv("SFT_BASE_URL", raising=False)
    monkeypatch.setenv("SFT_SIM_DB_PATH", str(db_path))
    monkeypatch.setenv("SFT_SIM_SEED_ESIMS", str(SEEDED))
    get_settings.cache_clear()
    yield db_path
    get_settings.cache_clear()
    db.reset_engines()


async def call(
    method: str,
    path: str,
    *,
    client: tuple[str, int] = LOOPBACK,
    base_url: str = "http://127.0.0.1:3000",
    **kwargs: Any,
) -> httpx.Response:
    transport = httpx.ASGITransport(app=build_routes_app(), client=client)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        return await http.request(method, path, **kwargs)


def in_process_simulator() -> Any:
    """The simulator the portal's own SFT client talks to (the same object)."""
    from travelsim.sft.factory import simulator_app

    return simulator_app(get_settings()).state.simulator


async def test_loopback_client_drives_the_portals_own_simulator(sim_env: Path) -> None:
    r = await call("GET", "/_sim/state")
    assert r.status_code == 200, r.text
    assert r.json()["sims"]["total"] == SEEDED
    r = await call("POST", "/_sim/clock/advance", json={"seconds": 3600})
    assert r.status_code == 200 and r.json()["offsetSeconds"] == 3600
    # The same simulator the portal's SFT client uses: its clock moved.
    assert in_process_simulator().store.clock_offset == 3600
    # Bad input is the simulator's own answer, passed through.
    r = await call("POST", "/_sim/consume", json={"endPointId": "1", "bytes": 5})
    assert r.status_code == 404 and "not found" in r.json()["error"]
    # IPv6 loopback and the name localhost count too.
    r = await call("GET", "/_sim/clock", client=("::1", 50000), base_url="http://localhost:3000")
    assert r.status_code == 200


async def test_demo_mode_serves_them_too(sim_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "demo")
    get_settings.cache_clear()
    assert (await call("GET", "/_sim/clock")).status_code == 200


@pytest.mark.parametrize(
    ("client", "headers", "base_url"),
    [
        pytest.param(REMOTE, {}, "http://127.0.0.1:3000", id="remote-client"),
        pytest.param(
            REMOTE, {"X-Forwarded-For": "127.0.0.1"}, "http://127.0.0.1:3000", id="spoofed-xff"
        ),
        pytest.param(
            LOOPBACK, {"X-Forwarded-For": "203.0.113.7"}, "http://127.0.0.1:3000", id="proxied"
        ),
        pytest.param(
            LOOPBACK, {"Forwarded": "for=203.0.113.7"}, "http://127.0.0.1:3000", id="forwarded"
        ),
        pytest.param(
            LOOPBACK, {"Origin": "https://evil.example"}, "http://127.0.0.1:3000", id="browser"
        ),
        pytest.param(LOOPBACK, {}, "http://evil.example:3000", id="dns-rebinding-host"),
    ],
)
async def test_other_clients_are_refused_and_change_nothing(
    sim_env: Path, client: tuple[str, int], headers: dict[str, str], base_url: str
) -> None:
    r = await call(
        "POST",
        "/_sim/clock/advance",
        json={"seconds": 86400},
        client=client,
        headers=headers,
        base_url=base_url,
    )
    assert r.status_code == 403
    assert "offsetSeconds" not in r.text
    assert in_process_simulator().store.clock_offset == 0


async def test_production_has_no_controls(sim_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    get_settings.cache_clear()
    for method, path in (("GET", "/_sim/state"), ("POST", "/_sim/reset")):
        r = await call(method, path, json={})
        assert r.status_code == 404
    assert in_process_simulator().store.clock_offset == 0


async def test_real_platform_has_no_controls(
    sim_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFT_BASE_URL", "https://sft.example.invalid")
    get_settings.cache_clear()
    assert (await call("GET", "/_sim/state")).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/login",
        "/_sim/api/login",
        "/_sim/../api/login",
        "/_sim/%2e%2e/api/login",
        "/_sim/..%2fapi/login",
    ],
)
async def test_the_sft_api_is_not_exposed_on_the_portal_port(sim_env: Path, path: str) -> None:
    r = await call("POST", path, json={"username": "demo", "password": "demo"})
    assert r.status_code == 404
    assert "AccessToken" not in r.text
    r = await call("GET", path.replace("login", "fetchSIM"))
    assert r.status_code == 404
    assert "iccid" not in r.text

"""SFT simulator over a real socket: auth, rate limit, faults, persistence and the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sim_fixtures import SimApi, SimServer

REPO = Path(__file__).resolve().parents[2]


def expired_envelope(r: httpx.Response, description: str = "Token expired") -> None:
    body = r.json()["Response"]
    assert body["resultCode"] == "1"
    assert body["resultParam"] == {"resultCode": "401", "resultDescription": description}


# --------------------------------------------------------------------------- auth
def test_login_refresh_and_bad_credentials(sim_server_factory: Callable[..., SimServer]) -> None:
    sim_server = sim_server_factory(expiry_shape="http401")  # the default is http200
    api = SimApi(sim_server.url)
    r = api.http.post("/api/login", json={"username": "demo", "password": "nope"})
    assert r.status_code == 401
    assert r.json() == {
        "Response": {
            "resultCode": "1",
            "resultParam": {"resultCode": "401", "resultDescription": "Invalid credentials"},
        }
    }
    r = api.http.post(
        "/api/login", json={"username": "demo", "password": "demo", "targetAccountId": 123}
    )
    assert r.status_code == 200 and set(r.json()) == {"AccessToken", "RefreshToken"}
    access, refresh = r.json()["AccessToken"], r.json()["RefreshToken"]
    # No token / unknown token.
    r = api.http.get("/api/fetchSIM")
    assert r.status_code == 401
    expired_envelope(r, "Invalid token")
    # Refresh with the refresh token -> a new working pair; with the access token -> refused.
    r = api.http.get("/api/RefreshToken", headers={"X-Authorization": f"Bearer {refresh}"})
    assert r.status_code == 200
    new_access = r.json()["AccessToken"]
    assert new_access != access and r.json()["RefreshToken"] != refresh
    ok = api.http.get("/api/fetchSIM", headers={"X-Authorization": f"Bearer {new_access}"})
    assert ok.json()["Response"]["resultCode"] == "0"
    r = api.http.get("/api/RefreshToken", headers={"X-Authorization": f"Bearer {access}"})
    assert r.status_code == 401
    api.close()


def test_access_token_ttl(sim_server_factory: Callable[..., SimServer]) -> None:
    srv = sim_server_factory(access_token_ttl_seconds=0.5, expiry_shape="http401")
    api = SimApi(srv.url)
    api.login()
    assert api.resp(api.get("fetchSIM"))["resultCode"] == "0"
    time.sleep(0.7)
    r = api.get("fetchSIM")
    assert r.status_code == 401
    expired_envelope(r)
    r = api.http.get("/api/RefreshToken", headers={"X-Authorization": f"Bearer {api.refresh}"})
    assert r.status_code == 200
    api.close()


def test_token_expiry_both_shapes(sim_api: SimApi) -> None:
    # Shape 1: HTTP 401 (not the default any more: set it).
    assert sim_api.ctl("POST", "settings", {"expiry_shape": "http401"}).status_code == 200
    r = sim_api.ctl("POST", "faults", {"operation": "fetchSIM", "kind": "token_expiry", "count": 1})
    assert r.status_code == 200 and r.json()["fault"]["kind"] == "token_expiry"
    r = sim_api.get("fetchSIM")
    assert r.status_code == 401
    expired_envelope(r)
    assert sim_api.get("GetEndPointProfile", endPointId="50000001").status_code == 401
    # Shape 2: HTTP 200 with the same envelope.
    assert sim_api.ctl("POST", "settings", {"expiry_shape": "http200"}).json()["expiry_shape"] == (
        "http200"
    )
    r = sim_api.get("fetchSIM")
    assert r.status_code == 200
    expired_envelope(r)
    sim_api.login()
    assert sim_api.resp(sim_api.get("fetchSIM"))["resultCode"] == "0"
    assert sim_api.ctl("POST", "tokens/expire").json()["expired"] >= 1
    expired_envelope(sim_api.get("fetchSIM"))
    assert sim_api.ctl("POST", "settings", {"expiry_shape": "bogus"}).status_code == 400


def test_expiry_shape_from_config(sim_server_factory: Callable[..., SimServer]) -> None:
    srv = sim_server_factory(expiry_shape="http200")
    r = httpx.get(f"{srv.url}/api/fetchSIM", headers={"X-Authorization": "Bearer nope"})
    assert r.status_code == 200
    expired_envelope(r, "Invalid token")


# --------------------------------------------------------------------------- rate limit
def test_rate_limit_token_bucket(sim_server_factory: Callable[..., SimServer]) -> None:
    srv = sim_server_factory(rate_limit_tps=2, rate_limit_burst=2)
    api = SimApi(srv.url)
    assert api.login().status_code == 200  # login counts: 1 of 2
    r1 = api.get("fetchSIM")
    r2 = api.get("fetchSIM")
    assert r1.status_code == 200
    assert r2.status_code == 429
    assert r2.headers["X-Rate-Limit-TPS"] == "2"
    body = r2.json()["Response"]
    assert body["resultCode"] == "1" and "rate limit" in body["resultParam"]["resultDescription"]
    assert r1.headers["X-Rate-Limit-TPS"] == "2"
    # Controls are not limited.
    assert all(api.ctl("GET", "clock").status_code == 200 for _ in range(5))
    time.sleep(0.55)  # 2 TPS -> one token after 0.5 s
    assert api.get("fetchSIM").status_code == 200
    assert api.get("fetchSIM").status_code == 429
    # Sustained: 6 calls spaced 0.5 s apart all pass.
    time.sleep(0.55)
    for _ in range(3):
        assert api.get("fetchSIM").status_code == 200
        time.sleep(0.52)
    # Runtime change of the budget is reflected in the header.
    assert api.ctl("POST", "settings", {"rate_limit_tps": 5}).json()["rate_limit_tps"] == 5
    assert api.get("fetchSIM").headers["X-Rate-Limit-TPS"] == "5"
    calls = api.ctl("GET", "calls?operation=fetchsim&limit=100").json()["calls"]
    assert sum(1 for c in calls if c["status"] == 429) == 2
    api.close()


def test_default_rate_limit_header(sim_server_factory: Callable[..., SimServer]) -> None:
    srv = sim_server_factory(rate_limit_tps=2.0)
    r = httpx.post(f"{srv.url}/api/login", json={"username": "demo", "password": "demo"})
    assert r.headers["X-Rate-Limit-TPS"] == "2"


# --------------------------------------------------------------------------- faults
def test_fault_latency_and_http500(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    sim_api.ctl(
        "POST", "faults", {"operation": "FETCHSIM", "kind": "latency", "latency_seconds": 0.4}
    )
    t = time.monotonic()
    assert sim_api.resp(sim_api.get("fetchSIM"))["resultCode"] == "0"
    assert time.monotonic() - t >= 0.4
    t = time.monotonic()
    sim_api.get("fetchSIM")
    assert time.monotonic() - t < 0.3  # count defaulted to 1
    sim_api.ctl(
        "POST", "faults", {"operation": "EndPointActivation", "kind": "http500", "count": 1}
    )
    r = sim_api.post("EndPointActivation", {"Request": {"endPointId": ep}})
    assert r.status_code == 500 and r.json()["Response"]["resultCode"] == "1"
    prof = sim_api.resp(sim_api.get("GetEndPointProfile", endPointId=ep))
    assert prof["info"]["basicInfo"]["status"] == "Pre-Active"  # nothing happened
    assert sim_api.activate(ep)["resultParam"]["resultCode"] == "5014"


def test_fault_timeout_after_commit(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    sim_api.activate(ep)
    sim_api.ctl(
        "POST",
        "faults",
        {"operation": "subscribeaddon", "kind": "timeout_after_commit", "latency_seconds": 1.5},
    )
    body = {"Request": {"requestParam": {"endPointId": ep, "planId": "870101"}}}
    with pytest.raises(httpx.ReadTimeout):
        sim_api.http.post("/api/SubscribeAddon", json=body, headers=sim_api.headers(), timeout=0.3)
    # The change happened although the client timed out: re-read, do not resend.
    rows = sim_api.addons(endPointId=ep)
    assert [(r["planId"], r["status"]) for r in rows] == [("870101", "Subscribed")]
    state = sim_api.ctl("GET", "state").json()
    assert state["subscriptionsPerEndpoint"] == {ep: 1}
    assert state["subscriptionsPerEndpointPlan"] == {ep: {"870101": 1}}
    time.sleep(1.3)  # let the delayed answer drain before teardown


def test_fault_default_timeout_latency(sim_api: SimApi) -> None:
    r = sim_api.ctl("POST", "faults", {"operation": "x", "kind": "timeout_after_commit"})
    assert r.json()["fault"]["latency_seconds"] == 200.0
    assert sim_api.ctl("DELETE", "faults").json()["cleared"] == 1


def test_fault_429_burst_malformed_html(sim_api: SimApi) -> None:
    sim_api.ctl("POST", "faults", {"operation": "*", "kind": "429_burst", "count": 2})
    assert [sim_api.get("fetchSIM").status_code for _ in range(3)] == [429, 429, 200]
    sim_api.ctl("POST", "faults", {"operation": "fetchsim", "kind": "malformed"})
    r = sim_api.get("fetchSIM")
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    sim_api.ctl("POST", "faults", {"operation": "fetchsim", "kind": "html"})
    r = sim_api.get("fetchSIM")
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    assert "<html>" in r.text
    sim_api.ctl("POST", "faults", {"operation": "fetchsim", "kind": "html", "status": 200})
    assert sim_api.get("fetchSIM").status_code == 200
    assert sim_api.resp(sim_api.get("fetchSIM"))["resultCode"] == "0"


def test_fault_probability_and_clear(sim_api: SimApi) -> None:
    sim_api.ctl("POST", "faults", {"operation": "fetchsim", "kind": "http500", "probability": 0})
    assert all(sim_api.get("fetchSIM").status_code == 200 for _ in range(5))
    sim_api.ctl("POST", "faults", {"operation": "fetchsim", "kind": "http500", "probability": 1})
    assert all(sim_api.get("fetchSIM").status_code == 500 for _ in range(3))
    faults = sim_api.ctl("GET", "faults").json()["faults"]
    assert len(faults) == 2 and faults[1]["fired"] == 3
    assert sim_api.ctl("POST", "faults/clear").json()["cleared"] == 2
    assert sim_api.get("fetchSIM").status_code == 200
    for bad in (
        {"kind": "nope"},
        {"kind": "http500", "probability": 2},
        {"kind": "http500", "count": 0},
    ):
        assert sim_api.ctl("POST", "faults", bad).status_code == 400, bad
    state = sim_api.ctl("GET", "state").json()
    assert state["calls"]["fetchsim"] == 9 and state["faults"] == []


# --------------------------------------------------------------------------- persistence
def test_state_survives_restart(
    sim_server_factory: Callable[..., SimServer], tmp_path: Path
) -> None:
    db = tmp_path / "persist.db"
    srv = sim_server_factory(db)
    api = SimApi(srv.url)
    api.login()
    ep = api.first_free_endpoint()
    api.activate(ep)
    uid = api.subscribe(ep, "870101")["responseParam"]["addonDetails"]["uniqueId"]
    api.consume(ep, 1_048_576)
    api.advance(3600)
    before = api.addons(endPointId=ep)
    clock_before = api.ctl("GET", "clock").json()["offsetSeconds"]
    token = api.token
    api.close()
    srv.stop()

    srv2 = sim_server_factory(db, seed_esims=5)  # seed ignored: the DB is not empty
    api2 = SimApi(srv2.url)
    api2.token = token  # tokens are persisted
    assert api2.addons(endPointId=ep) == before
    assert api2.ctl("GET", "clock").json()["offsetSeconds"] == clock_before == 3600
    p = api2.resp(api2.get("fetchSIM", simStatusId=13))["responseParam"]
    assert p["totalCount"] == "1" and p["rows"][0]["endPointId"] == ep
    assert api2.resp(api2.get("fetchSIM"))["responseParam"]["totalCount"] == "200"
    nxt = api2.subscribe(ep, "870111")["responseParam"]["addonDetails"]["uniqueId"]
    assert int(nxt) == int(uid) + 1
    api2.close()


# --------------------------------------------------------------------------- CLI
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_serve_and_control(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "travelsim.sft_simulator"]
    proc = subprocess.Popen(
        [
            *cmd,
            "serve",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "cli.db"),
            "--seed",
            "3",
            "--rate-limit-tps",
            "50",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{url}/_sim/clock", timeout=0.5)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

        def control(*args: str) -> dict:
            out = subprocess.run(
                [*cmd, "control", "--url", url, *args],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            )
            data: dict = json.loads(out.stdout)
            return data

        state = control("state")
        assert state["sims"]["total"] == 3 and state["settings"]["rate_limit_tps"] == 50
        api = SimApi(url)
        api.login()
        ep = api.first_free_endpoint()
        api.activate(ep)
        api.subscribe(ep, "870401")
        out = control("consume", "--endpoint", ep, "--bytes", "2097152", "--date", "20250102")
        assert out["billedBytes"] == 2097152
        assert control("advance-clock", "--seconds", "60")["offsetSeconds"] == 60
        assert (
            control("profile-status", "--endpoint", ep, "--status", "installed")[
                "esimProfileStatus"
            ]
            == "installed"
        )
        assert (
            control("fault", "--operation", "fetchSIM", "--kind", "http500", "--count", "1")[
                "fault"
            ]["count"]
            == 1
        )
        assert api.get("fetchSIM").status_code == 500
        control("fault", "--kind", "latency", "--latency", "0.1", "--probability", "0.5")
        assert control("clear-faults")["cleared"] == 1
        assert control("settings", "--expiry-shape", "http200")["expiry_shape"] == "http200"
        assert control("expire-tokens")["expired"] >= 1
        assert api.get("fetchSIM").status_code == 200  # http200 expiry shape
        assert len(control("calls", "--limit", "3")["calls"]) == 3
        assert control("reset", "--esims", "2") == {"reset": True, "esims": 2}
        api.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

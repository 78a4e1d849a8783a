"""Fixtures for the SFT simulator tests: a real uvicorn server on a loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from travelsim.sft_simulator import Simulator, SimulatorConfig, create_app


@dataclass
class SimServer:
    """A simulator served by uvicorn in a background thread."""

    url: str
    db_path: Path
    simulator: Simulator
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.simulator.store.close()


def start_sim_server(db_path: Path, **overrides: Any) -> SimServer:
    overrides.setdefault("rate_limit_tps", 0)  # unlimited unless a test asks for a budget
    config = SimulatorConfig(db_path=db_path, **overrides)
    app = create_app(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("simulator did not start")
        time.sleep(0.01)
    return SimServer(f"http://127.0.0.1:{port}", db_path, app.state.simulator, server, thread)


@dataclass
class SimApi:
    """Minimal synchronous SFT client for the tests (not the portal's client)."""

    url: str
    #: Generous: the simulator shares the test process (its own thread) with up to 200
    #: concurrent purchases on a 2-core CI machine; a slow control answer is not a failure.
    timeout: float = 30.0
    token: str | None = None
    refresh: str | None = None
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=self.timeout)

    def close(self) -> None:
        self.http.close()

    def login(self, username: str = "demo", password: str = "demo") -> httpx.Response:
        r = self.http.post("/api/login", json={"username": username, "password": password})
        if r.status_code == 200:
            self.token = r.json()["AccessToken"]
            self.refresh = r.json()["RefreshToken"]
        return r

    def headers(self) -> dict[str, str]:
        return {"X-Authorization": f"Bearer {self.token}", "X-Requested-With": "XMLHttpRequest"}

    def get(self, op: str, **params: Any) -> httpx.Response:
        return self.http.get(f"/api/{op}", params=params, headers=self.headers())

    def post(self, op: str, body: Any) -> httpx.Response:
        return self.http.post(f"/api/{op}", json=body, headers=self.headers())

    def patch(self, op: str, body: Any) -> httpx.Response:
        return self.http.patch(f"/api/{op}", json=body, headers=self.headers())

    def ctl(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.http.request(method, f"/_sim/{path}", json=body)

    # conveniences -----------------------------------------------------------------
    def resp(self, r: httpx.Response) -> dict[str, Any]:
        data: dict[str, Any] = r.json()["Response"]
        return data

    def first_free_endpoint(self) -> str:
        r = self.get("fetchSIM", simStatusId=12, simAttachStatusId=1, page=1, perPage=1)
        return str(self.resp(r)["responseParam"]["rows"][0]["endPointId"])

    def activate(self, endpoint_id: str) -> dict[str, Any]:
        return self.resp(self.post("EndPointActivation", {"Request": {"endPointId": endpoint_id}}))

    def subscribe(self, endpoint_id: str, plan_id: str) -> dict[str, Any]:
        body = {"Request": {"requestParam": {"endPointId": endpoint_id, "planId": plan_id}}}
        return self.resp(self.post("SubscribeAddon", body))

    def addons(self, **params: Any) -> list[dict[str, Any]]:
        r = self.resp(self.get("GetEndpointAddonDetails", **params))
        assert r["resultCode"] == "0", r
        rows: list[dict[str, Any]] = r["responseParam"]["rows"]
        return rows

    def consume(self, endpoint_id: str, nbytes: int, **extra: Any) -> dict[str, Any]:
        r = self.ctl("POST", "consume", {"endPointId": endpoint_id, "bytes": nbytes, **extra})
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def advance(self, seconds: float) -> None:
        assert self.ctl("POST", "clock/advance", {"seconds": seconds}).status_code == 200


@pytest.fixture
def sim_server_factory(tmp_path: Path) -> Iterator[Callable[..., SimServer]]:
    started: list[SimServer] = []

    def factory(db_path: Path | None = None, **overrides: Any) -> SimServer:
        srv = start_sim_server(db_path or tmp_path / "sim.db", **overrides)
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop()


@pytest.fixture
def sim_server(sim_server_factory: Callable[..., SimServer]) -> SimServer:
    return sim_server_factory()


@pytest.fixture
def sim_api(sim_server: SimServer) -> Iterator[SimApi]:
    api = SimApi(sim_server.url)
    assert api.login().status_code == 200
    yield api
    api.close()

"""Fixtures for the SFT client contract tests: the simulator as a separate process on a real
loopback socket (``python -m travelsim.sft_simulator serve``), driven through ``/_sim/``.

Import the ``*_fixture`` functions into a test module to use the fixtures ``sft_sim_process``,
``sim`` and ``make_client``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from travelsim.sft import LocalRateBudget, SFTClient

SEED_ESIMS = 30


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SimProcess:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_simulator_process(db_path: Path) -> SimProcess:
    port = free_port()
    env = dict(os.environ)
    env.pop("SFT_SIM_DB_PATH", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "travelsim.sft_simulator",
            "serve",
            "--port",
            str(port),
            "--db",
            str(db_path),
            "--seed",
            str(SEED_ESIMS),
            "--rate-limit-tps",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"simulator exited early: {err[-2000:]}")
        try:
            if httpx.get(f"{url}/_sim/clock", timeout=1).status_code == 200:
                return SimProcess(url, process)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("simulator did not start within 30 s")
        time.sleep(0.05)


class SimControl:
    """Async helpers over the simulator's ``/_sim/`` control API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=30)

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, f"/_sim/{path}", json=body)
        response.raise_for_status()
        return response.json()

    async def reset(self, esims: int = SEED_ESIMS) -> None:
        await self._json("POST", "reset", {"esims": esims})
        await self.settings(
            rate_limit_tps=0, expiry_shape="http401", rating_delay_seconds=0, rate_limit_burst=None
        )

    async def settings(self, **values: Any) -> Any:
        return await self._json("POST", "settings", {k: v for k, v in values.items()})

    async def fault(self, operation: str, kind: str, **options: Any) -> Any:
        return await self._json("POST", "faults", {"operation": operation, "kind": kind, **options})

    async def clear_faults(self) -> None:
        await self._json("DELETE", "faults")

    async def calls(self, operation: str | None = None) -> list[dict[str, Any]]:
        path = "calls?limit=5000" + (f"&operation={operation}" if operation else "")
        data = await self._json("GET", path)
        return list(data["calls"])

    async def clear_calls(self) -> None:
        await self._json("DELETE", "calls")

    async def expire_tokens(self) -> Any:
        return await self._json("POST", "tokens/expire")

    async def consume(self, endpoint_id: str, nbytes: int) -> Any:
        return await self._json("POST", "consume", {"endPointId": endpoint_id, "bytes": nbytes})

    async def clock(self) -> Any:
        return await self._json("GET", "clock")

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture(scope="module", name="sft_sim_process")
def sft_sim_process_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """One simulator process per test module (reset before each test by ``sim``)."""
    sim = start_simulator_process(tmp_path_factory.mktemp("sftsim") / "sim.db")
    yield sim
    sim.stop()


@pytest.fixture(name="sim")
async def sim_fixture(sft_sim_process: SimProcess) -> AsyncIterator[SimControl]:
    control = SimControl(sft_sim_process.url)
    await control.reset()
    yield control
    await control.aclose()


ClientFactory = Callable[..., SFTClient]


@pytest.fixture(name="make_client")
async def make_client_fixture(sft_sim_process: SimProcess) -> AsyncIterator[ClientFactory]:
    """Build SFTClients against the simulator process (fast back-offs); closed at teardown."""
    clients: list[SFTClient] = []

    def factory(*, tps: float = 1000.0, **kwargs: Any) -> SFTClient:
        kwargs.setdefault("rate_budget", LocalRateBudget(tps))
        kwargs.setdefault("retry_backoff", 0.05)
        kwargs.setdefault("retry_backoff_max", 0.2)
        kwargs.setdefault("rate_limit_backoff", 0.2)
        kwargs.setdefault("rate_limit_backoff_max", 1.0)
        kwargs.setdefault("timeout", 10.0)
        kwargs.setdefault("long_timeout", 10.0)
        client = SFTClient(
            sft_sim_process.url,
            kwargs.pop("username", "demo"),
            kwargs.pop("password", "demo"),
            **kwargs,
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()

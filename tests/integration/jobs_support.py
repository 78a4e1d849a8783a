"""Helpers shared by the background-work tests (jobs, scheduler, notifications, callbacks).

No tests here. The SFT simulator runs under uvicorn on a real loopback socket
(``sim_fixtures``); the portal's own client talks to it through a
``jobs.metering.MeteredBudget`` over a ``LocalRateBudget``; the database is a migrated real
one (``sqlite_db`` / ``any_db``). eSIMs are set up with ``test_usage_sync.setup_esim``
(activate + subscribe on the simulator, then the portal rows provisioning would leave)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from sim_fixtures import SimApi, SimServer
from starlette.applications import Starlette
from test_usage_sync import setup_esim  # noqa: F401 - re-exported helper

from travelsim import db
from travelsim.routes.callbacks import callback_routes
from travelsim.services.jobs.metering import MeteredBudget
from travelsim.sft import LocalRateBudget, SFTClient

GB = 1_073_741_824
MB = 1_048_576
FR_1GB_7D = "870101"  # simulator catalogue: On Usage, 1 GB, 7 days
GLOBAL_3GB_30D = "870301"  # Immediate


def make_client(url: str, budget: Any = None, **kwargs: Any) -> SFTClient:
    return SFTClient(
        url,
        "demo",
        "demo",
        rate_budget=budget if budget is not None else MeteredBudget(LocalRateBudget(1000.0)),
        retry_backoff=0.05,
        retry_backoff_max=0.2,
        rate_limit_backoff=0.2,
        rate_limit_backoff_max=1.0,
        timeout=10.0,
        long_timeout=10.0,
        **kwargs,
    )


def sim_clock(sim: SimServer) -> Callable[[], datetime]:
    """The simulator's clock (real UTC + its offset) as aware datetimes."""
    return lambda: datetime.fromtimestamp(sim.simulator.store.now(), UTC)


@pytest.fixture
def sim(sim_server_factory: Any) -> SimServer:
    return sim_server_factory(seed_esims=30)  # type: ignore[no-any-return]


@pytest.fixture
def api(sim: SimServer) -> Iterator[SimApi]:
    a = SimApi(sim.url)
    assert a.login().status_code == 200
    yield a
    a.close()


@pytest.fixture
async def client(sim: SimServer) -> AsyncIterator[SFTClient]:
    c = make_client(sim.url)
    yield c
    await c.aclose()


@pytest.fixture
async def engines() -> AsyncIterator[None]:
    yield
    await db.async_engine().dispose()


# ----------------------------------------------------------------------------- SMTP
class Mailbox:
    """aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """A real SMTP server on loopback; SMTP_HOST/PORT point at it (set before ``sqlite_db``
    settings are read: tests call ``get_settings.cache_clear()`` via the db fixtures)."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    try:
        yield box
    finally:
        controller.stop()


def body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


# ----------------------------------------------------------------------------- receiver
@dataclass
class Receiver:
    """The portal's callback routes served by uvicorn on loopback, on the test's own event
    loop (the portal's async engine belongs to that loop)."""

    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 10)


async def start_receiver() -> Receiver:
    app = Starlette(routes=callback_routes())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError("receiver did not start")
    return Receiver(f"http://127.0.0.1:{port}", server, task)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await start_receiver()
    yield r
    await r.stop()

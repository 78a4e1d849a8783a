"""Helpers shared by the purchase-backend tests (inventory, checkout, provisioning).

No tests here. The SFT simulator runs under uvicorn on a real loopback socket
(``sim_fixtures.start_sim_server``) with no rate limit; the portal's own SFTClient talks to it
with a generous local budget and short back-offs. Databases are the migrated real ones of
``tests/conftest.py`` (``sqlite_db`` / ``pg_db`` / ``any_db``).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sim_fixtures import SimApi, SimServer, start_sim_server

from travelsim import db
from travelsim.models import Plan, User
from travelsim.services import checkout, checkout_outcome, checkout_payment
from travelsim.services.payments import Card, DemoCardProvider
from travelsim.sft import LocalRateBudget, SFTClient

PLAN_ID = "870101"  # simulator catalogue: "France 1 GB 7 days"
PRICE_MINOR = 990
CURRENCY = "EUR"
CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0002"
CARD_3DS = "4000 0025 0000 3155"

_emails = itertools.count(1)


def make_client(url: str, **kwargs: Any) -> SFTClient:
    kwargs.setdefault("rate_budget", LocalRateBudget(1000.0))
    kwargs.setdefault("retry_backoff", 0.02)
    kwargs.setdefault("retry_backoff_max", 0.1)
    kwargs.setdefault("rate_limit_backoff", 0.1)
    kwargs.setdefault("rate_limit_backoff_max", 0.5)
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("long_timeout", 5.0)
    return SFTClient(url, "demo", "demo", **kwargs)


class Sim:
    """A running simulator plus a synchronous control/API client for assertions."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.url = server.url
        self.api = SimApi(server.url)
        assert self.api.login().status_code == 200

    def ctl(self, method: str, path: str, body: Any = None) -> Any:
        r = self.api.ctl(method, path, body)
        assert r.status_code == 200, r.text
        return r.json()

    def fault(self, operation: str, kind: str, **options: Any) -> None:
        self.ctl("POST", "faults", {"operation": operation, "kind": kind, **options})

    def clear_faults(self) -> None:
        self.ctl("DELETE", "faults")

    def calls(self, operation: str | None = None) -> list[dict[str, Any]]:
        path = "calls?limit=5000" + (f"&operation={operation}" if operation else "")
        return list(self.ctl("GET", path)["calls"])

    def clear_calls(self) -> None:
        self.ctl("DELETE", "calls")

    def state(self) -> dict[str, Any]:
        return dict(self.ctl("GET", "state"))

    def sim_row(self, iccid: str) -> dict[str, Any]:
        rows = self.api.resp(self.api.get("fetchSIM", iccid=iccid))["responseParam"]["rows"]
        assert len(rows) == 1
        return dict(rows[0])

    def endpoint_status(self, endpoint_id: str) -> str:
        info = self.api.resp(self.api.get("GetEndPointProfile", endPointId=endpoint_id))["info"]
        return str(info["basicInfo"]["status"])

    def addons(self, endpoint_id: str) -> list[dict[str, Any]]:
        return self.api.addons(endPointId=endpoint_id)

    def close(self) -> None:
        self.api.close()
        self.server.stop()


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[Callable[..., Sim]]:
    """``sim_factory(esims=N)`` starts a simulator seeded with N eSIMs (no rate limit)."""
    started: list[Sim] = []

    def factory(esims: int = 10, **overrides: Any) -> Sim:
        server = start_sim_server(
            tmp_path / f"sim{len(started)}.db", seed_esims=esims, rate_limit_tps=0, **overrides
        )
        sim = Sim(server)
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        sim.close()


@pytest.fixture
async def sft_clients() -> AsyncIterator[Callable[..., SFTClient]]:
    """``sft_clients(url, **kw)`` builds SFTClients closed at teardown."""
    clients: list[SFTClient] = []

    def factory(url: str, **kwargs: Any) -> SFTClient:
        client = make_client(url, **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()
    await db.async_engine().dispose()


async def add_plan(
    plan_id: str = PLAN_ID,
    *,
    on_sale: bool = True,
    destinations: list[str] | None = None,
) -> None:
    """A priced plan as the catalogue sync + seed would leave it (values from the simulator
    catalogue: 1 GB = 1,073,741,824 bytes, 7 days, On Usage)."""
    async with db.session() as s:
        s.add(
            Plan(
                plan_id=plan_id,
                sft_name="France 1 GB 7 days",
                volume_bytes=1_073_741_824,
                validity_days=7,
                activated_by="on_usage",
                sft_countries=["FR"],
                display_name="France 1 GB",
                price_minor=PRICE_MINOR,
                currency=CURRENCY,
                destinations=destinations if destinations is not None else ["FR"],
                on_sale=on_sale,
            )
        )
        await s.commit()


async def add_user(email: str | None = None) -> User:
    async with db.session() as s:
        user = User(email=email or f"traveler{next(_emails)}@example.com", password_hash="x")
        s.add(user)
        await s.commit()
        await s.refresh(user)
        return user


async def buy(
    user: User,
    client: SFTClient | None,
    *,
    card: str = CARD_OK,
    plan_id: str = PLAN_ID,
    provider: DemoCardProvider | None = None,
) -> checkout_outcome.PayOutcome:
    """start_checkout + pay in fresh sessions (what the UI does across two requests). No
    provisioning is started: the tests run ``provisioning.run_order`` themselves."""
    async with db.session() as s:
        c = await checkout.start_checkout(
            s, user=user, plan_id=plan_id, destination="FR", client=client
        )
        checkout_id = c.id
    async with db.session() as s:
        return await checkout_payment.pay(
            s,
            provider or DemoCardProvider(),
            checkout_id=checkout_id,
            user=user,
            card=Card(card, "12/35", "123"),
            device_confirmed=True,
            start_provisioning=None,
        )

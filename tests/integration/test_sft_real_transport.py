"""The SFT transport and lifecycle against the simulator, in the shapes production clients see.

Over a real loopback socket (the simulator in its default, documented shapes) and real SQLite:

* a rate limit answered as HTTP 200 with "rate limit" in ``resultDescription`` (the shape a
  public production client detects besides 429, docs/sft-platform.md#rate-limit) is resent
  like a 429, so activation succeeds through it;
* the endpoint's status is re-read with ``fetchSIM?iccid=`` (``simStatus``,
  docs/sft-platform.md#fetchsim); an unreadable status is "unknown: re-read later", never a
  second lifecycle change;
* both activation calls (``SFT_ACTIVATION_CALL``) activate a Pre-Active endpoint;
* token expiry defaults to the production shape, HTTP 200 with ``resultParam.resultCode
  "401"`` (docs/sft-platform.md#token-expiry).
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from checkout_support import (  # noqa: F401 - fixtures
    Sim,
    add_plan,
    add_user,
    buy,
    sft_clients,
    sim_factory,
)
from sim_fixtures import SimApi, SimServer
from sqlmodel import select

from travelsim import db
from travelsim.models import Esim, Order, OrderStatus, ProvisioningStep
from travelsim.services import provisioning
from travelsim.services.admin.esims import staff_lifecycle
from travelsim.settings import Settings, get_settings
from travelsim.sft import Priority, SFTClient
from travelsim.sft_simulator import SimulatorConfig

FAST = {"backoff": (0.01, 0.01)}


async def get(model: Any, key: Any) -> Any:
    async with db.session() as s:
        return await s.get(model, key)


async def paid_order(client: SFTClient) -> Order:
    await add_plan()
    outcome = await buy(await add_user(), client)
    assert outcome.status == "paid" and outcome.order_id
    order = await get(Order, outcome.order_id)
    assert order is not None
    return order  # type: ignore[no-any-return]


async def activate_step(order_id: str) -> ProvisioningStep:
    async with db.session() as s:
        rows = await s.exec(
            select(ProvisioningStep).where(
                ProvisioningStep.order_id == order_id, ProvisioningStep.name == "activate"
            )
        )
        return rows.one()


async def logged_calls(sim: Sim, operation: str, n: int) -> list[dict[str, Any]]:
    """The logged calls of ``operation`` once at least ``n`` are logged (or after 5 s); a call
    is logged when it answers, so a timed-out one shows up only after its late answer."""
    for _ in range(100):
        if len(sim.calls(operation)) >= n:
            await asyncio.sleep(0.2)  # would a further one show up?
            break
        await asyncio.sleep(0.05)
    return sim.calls(operation)


def outcomes(sim: Sim, operation: str) -> list[tuple[int, str | None]]:
    return [(c["status"], c["resultParamCode"]) for c in sim.calls(operation)]


# --- item: rate limit in the body ------------------------------------------------------------
async def test_activation_succeeds_through_a_rate_limit_in_a_200_body(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    # The body a production client treats as a rate limit (HTTP 200, any case):
    # {"Response": {"resultCode": "1", "resultParam": {"resultDescription": "Rate limit exceeded"}}}
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    order = await paid_order(client)
    esim = await get(Esim, order.esim_id)
    sim.fault("EndPointLifeCycleChange", "rate_limit_body", count=1)

    done = await provisioning.run_order(order.id, client=client, **FAST)

    assert done.status == OrderStatus.DELIVERED
    step = await activate_step(order.id)
    assert (step.status, step.attempts) == ("done", 1)  # resent by the transport, not the step
    assert outcomes(sim, "endpointlifecyclechange") == [(200, "1"), (200, "5017")]
    assert sim.endpoint_status(esim.endpoint_id) == "Active"


def test_documented_rate_limit_is_http_429_with_rate_limit_text(
    sim_server_factory: Callable[..., SimServer],
) -> None:
    srv = sim_server_factory(rate_limit_tps=0.01, rate_limit_burst=1)  # documented shapes
    api = SimApi(srv.url)
    assert api.login().status_code == 200  # the one token of the bucket
    r = api.get("fetchSIM")
    assert r.status_code == 429
    assert "rate limit" in r.json()["Response"]["resultParam"]["resultDescription"].lower()
    api.close()


# --- item: endpoint status re-read and the activation call ----------------------------------
@pytest.mark.parametrize(
    ("setting", "sent", "not_sent"),
    [
        ("lifecycle", "endpointlifecyclechange", "endpointactivation"),
        ("endpoint_activation", "endpointactivation", "endpointlifecyclechange"),
    ],
)
async def test_both_activation_calls_activate_a_pre_active_endpoint(
    sqlite_db: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    sent: str,
    not_sent: str,
) -> None:
    monkeypatch.setenv("SFT_ACTIVATION_CALL", setting)
    get_settings.cache_clear()
    assert get_settings().sft_activation_call == setting
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    order = await paid_order(client)
    esim = await get(Esim, order.esim_id)
    assert sim.sim_row(esim.iccid)["simStatus"] == "Pre-Active"

    done = await provisioning.run_order(order.id, client=client, **FAST)

    assert done.status == OrderStatus.DELIVERED
    # EndPointActivation: 5014 "activated"; EndPointLifeCycleChange: 5017 (third-party client).
    code = "5014" if setting == "endpoint_activation" else "5017"
    assert outcomes(sim, sent) == [(200, code)]
    assert sim.calls(not_sent) == []
    assert sim.sim_row(esim.iccid)["simStatus"] == "Active"


class DropSimStatus(httpx.AsyncBaseTransport):
    """Real HTTP to the simulator, but fetchSIM rows lose ``simStatus`` while ``active``: a
    platform whose rows do not carry the status the portal re-reads."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.active = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not self.active or not request.url.path.lower().endswith("/fetchsim"):
            return response
        data = json.loads(await response.aread())
        for row in data.get("Response", {}).get("responseParam", {}).get("rows", []):
            row.pop("simStatus", None)
        return httpx.Response(response.status_code, json=data)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_unreadable_status_after_a_timed_out_activation_is_never_a_second_change(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=2)
    transport = DropSimStatus()
    client = sft_clients(sim.url, timeout=1.0, long_timeout=1.0, transport=transport)
    order = await paid_order(client)
    esim = await get(Esim, order.esim_id)
    # The change is applied, but its answer comes after the client's 1 s timeout.
    sim.fault("EndPointLifeCycleChange", "timeout_after_commit", latency_seconds=2, count=1)

    left = await provisioning.run_order(order.id, client=client, **FAST)

    # Unknown, not "not yet changed": retried later, and "A" was sent exactly once.
    assert left.status == OrderStatus.PAID and left.next_attempt_at is not None
    step = await activate_step(order.id)
    assert step.status != "done" and "unknown, re-read later" in (left.last_error or "")
    assert len(await logged_calls(sim, "endpointlifecyclechange", 1)) == 1
    assert sim.endpoint_status(esim.endpoint_id) == "Active"  # the first change did happen

    # Once the status reads again, the retry finds it Active and sends nothing.
    transport.active = False
    done = await provisioning.run_order(order.id, client=client, force=True, **FAST)
    assert done.status == OrderStatus.DELIVERED
    assert len(sim.calls("endpointlifecyclechange")) == 1
    assert (await get(Esim, order.esim_id)).endpoint_status == "Active"


async def test_staff_suspension_after_a_timeout_is_verified_with_fetchsim(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url, timeout=1.0, long_timeout=1.0)
    order = await paid_order(client)
    assert (await provisioning.run_order(order.id, client=client, **FAST)).status == (
        OrderStatus.DELIVERED
    )
    esim = await get(Esim, order.esim_id)
    sim.clear_calls()
    sim.fault("EndPointLifeCycleChange", "timeout_after_commit", latency_seconds=2, count=1)

    what = await staff_lifecycle(client, esim.endpoint_id, suspend=True)

    assert what == "endpoint Suspended (verified by re-read)"
    assert len(await logged_calls(sim, "endpointlifecyclechange", 1)) == 1
    assert sim.calls("fetchsim")  # the re-read after the lost answer
    assert sim.sim_row(esim.iccid)["simStatus"] == "Suspended"


# --- item: token expiry default ---------------------------------------------------------------
async def test_token_expiry_defaults_to_the_production_http_200_shape(
    sim_server_factory: Callable[..., SimServer], sft_clients: Callable[..., SFTClient]
) -> None:
    # Production code sees an expired token as HTTP 200 with
    # {"Response": {"resultCode": "1", "resultParam": {"resultCode": "401", ...}}}.
    assert SimulatorConfig().expiry_shape == "http200"
    srv = sim_server_factory()
    raw = httpx.get(f"{srv.url}/api/fetchSIM", headers={"X-Authorization": "Bearer expired"})
    assert raw.status_code == 200
    envelope = raw.json()["Response"]
    assert (envelope["resultCode"], envelope["resultParam"]["resultCode"]) == ("1", "401")

    client = sft_clients(srv.url)
    await client.fetch_sims(priority=Priority.SYNC)
    srv.simulator.store.expire_access_tokens()
    rows, _ = await client.fetch_sims(priority=Priority.SYNC)  # renewed and replayed
    assert rows and client.refresh_count + client.login_count == 2

"""The purchase flow and the portal's SFT client against the simulator's documented shapes and
its failure modes: Get Endpoint Add-on Details not served (HTTP 404), an unknown add-on
details path, the platform's time zone, and the catalogue's skipped plans
(docs/sft-platform.md#get-endpoint-add-on-details, docs/sft-platform.md#conventions,
docs/sft-platform.md#queryrateplan). Expected values come from the simulator's own answers
read with the tests' wire client, or from the documents."""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from checkout_support import (  # noqa: F401 - fixtures
    PLAN_ID,
    Sim,
    add_plan,
    add_user,
    buy,
    sft_clients,
    sim_factory,
)

from travelsim import db
from travelsim.models import Esim, Order
from travelsim.services import provisioning
from travelsim.settings import Settings
from travelsim.sft import Priority, SFTClient, operations
from travelsim.sft.factory import build_client

FAST = {"backoff": (0.01,)}
P = Priority.PROVISIONING


def _calls(sim: Sim, operation: str) -> list[dict[str, Any]]:
    return [c for c in sim.server.simulator.calls if c["operation"] == operation]


async def _paid_order(client: SFTClient) -> Order:
    outcome = await buy(await add_user(), client)
    assert outcome.status == "paid" and outcome.order_id
    async with db.session() as s:
        order = await s.get(Order, outcome.order_id)
    assert order is not None
    return order


async def test_purchase_works_through_the_profile_when_add_on_details_is_404(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """The pre-subscribe re-read and the re-read after a lost SubscribeAddon answer both come
    from GetEndPointProfile: the order is delivered with the one instance on the platform."""
    sim = sim_factory(esims=3)
    sim.server.simulator.addon_details_served = False
    client = sft_clients(sim.url, timeout=1.0, long_timeout=1.0)
    await add_plan()
    order = await _paid_order(client)
    # SubscribeAddon is applied but its answer is lost: only the profile can show it.
    sim.fault("SubscribeAddon", "timeout_after_commit", latency_seconds=2, count=1)

    done = await provisioning.run_order(order.id, client=client, **FAST)

    assert done.status == "delivered" and done.addon_unique_id
    async with db.session() as s:
        esim = await s.get(Esim, order.esim_id)
    assert esim is not None and esim.endpoint_id is not None
    sim.server.simulator.addon_details_served = True  # for the assertion's own read
    addons = sim.addons(esim.endpoint_id)
    assert [(a["planId"], a["uniqueId"]) for a in addons] == [(PLAN_ID, done.addon_unique_id)]
    # Subscribed once on the platform, adopted after the lost answer.
    assert int(sim.state()["subscriptionsPerEndpoint"].get(esim.endpoint_id, 0)) == 1
    # One 404, then this client read the profile directly.
    assert [c["status"] for c in _calls(sim, "getendpointaddondetails")] == [404, 200]
    assert len(_calls(sim, "getendpointprofile")) >= 2


async def _endpoint_with_addons(client: SFTClient, plans: list[str]) -> str:
    rows, _ = await client.fetch_sims(priority=P, per_page=1)
    endpoint_id = rows[0].endpoint_id
    assert endpoint_id is not None
    await client.activate_endpoint(endpoint_id, priority=P)
    for plan_id in plans:
        await client.subscribe_addon(endpoint_id, plan_id, priority=P)
    return endpoint_id


async def test_unknown_add_on_details_path_reads_the_profile(
    sqlite_db: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A wrong ``SFT_ADDON_DETAILS_PATH`` is an unknown operation (HTTP 404): the add-ons come
    from the profile with the same ids and bytes as the simulator's add-on details, and the
    switch is logged once per process."""
    monkeypatch.setattr(operations, "_fallback_logged", False)
    sim = sim_factory(esims=2)
    good = sft_clients(sim.url)
    endpoint_id = await _endpoint_with_addons(good, ["870301", "870101"])  # Immediate, On Usage
    expected = await good.addon_details(priority=P, endpoint_id=endpoint_id)
    assert [a.status_raw for a in expected] == ["Active", "Subscribed"]

    caplog.set_level(logging.DEBUG, logger="travelsim.sft.operations")
    for _ in range(2):  # two clients: two 404s, one warning
        wrong = sft_clients(sim.url, addon_details_path="/api/GetEndpointAddonDetailz")
        got = await wrong.addon_details(priority=P, endpoint_id=endpoint_id)
        assert [
            (a.unique_id, a.plan_id, a.status, a.initial_bytes, a.remaining_bytes, a.expires_at)
            for a in got
        ] == [
            (a.unique_id, a.plan_id, a.status, a.initial_bytes, a.remaining_bytes, a.expires_at)
            for a in expected
        ]
        assert {a.status_raw for a in got} == {"inferred"}
        one = await wrong.addon_details(
            priority=P, endpoint_id=endpoint_id, unique_id=expected[1].unique_id
        )
        assert [a.unique_id for a in one] == [expected[1].unique_id]
    fallbacks = [r for r in caplog.records if "GetEndPointProfile" in r.getMessage()]
    assert [r.levelno for r in fallbacks] == [logging.WARNING, logging.DEBUG]
    # Unknown paths are not in the simulator's call log; each client read the profile for its
    # two reads (after one 404 each).
    assert len(_calls(sim, "getendpointprofile")) == 4


async def test_platform_time_zone_converts_every_date(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """The simulator emits UTC; a client told the platform is in Europe/Brussels reads the same
    wall-clock text as Brussels time, i.e. earlier by Brussels' UTC offset at that moment
    (computed here with zoneinfo)."""
    from zoneinfo import ZoneInfo

    sim = sim_factory(esims=2)
    utc_client = sft_clients(sim.url)
    brussels = sft_clients(sim.url, platform_timezone="Europe/Brussels")
    endpoint_id = await _endpoint_with_addons(utc_client, ["870301"])  # Immediate: has dates
    (as_utc,) = await utc_client.addon_details(priority=P, endpoint_id=endpoint_id)
    (as_bxl,) = await brussels.addon_details(priority=P, endpoint_id=endpoint_id)
    assert as_utc.started_at is not None and as_bxl.started_at is not None
    offset = ZoneInfo("Europe/Brussels").utcoffset(as_utc.started_at.replace(tzinfo=None))
    assert offset in (timedelta(hours=1), timedelta(hours=2))
    assert as_utc.started_at - as_bxl.started_at == offset
    assert as_bxl.started_at.utcoffset() == timedelta(0)


async def test_factory_wires_the_path_and_the_zone(tmp_path: Any) -> None:
    settings = Settings(
        data_dir=tmp_path,
        sft_sim_seed_esims=1,
        sft_sim_rate_limit_tps=0,
        sft_addon_details_path="/api/GetEndpointAddon",
        sft_platform_timezone="Europe/Brussels",
    )
    async with build_client(settings) as client:
        assert client._addon_details_path == "/api/GetEndpointAddon"
        assert str(client._platform_tz) == "Europe/Brussels"


class _AddonDetailsAnswer(httpx.AsyncBaseTransport):
    """The in-process simulator, except that add-on details answers ``body`` (HTTP 200)."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, body: dict[str, Any], status: int = 200
    ) -> None:
        self.inner, self.body, self.status, self.addon_reads = inner, body, status, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.lower() == "/api/getendpointaddondetails":
            self.addon_reads += 1
            return httpx.Response(self.status, json=self.body)
        return await self.inner.handle_async_request(request)


def _direct_and_rewritten(
    tmp_path: Any, body: dict[str, Any], status: int = 200
) -> tuple[SFTClient, SFTClient, _AddonDetailsAnswer]:
    """Two clients of one in-process simulator: one direct, one whose add-on details answer
    ``body`` with HTTP ``status`` (fast retries), and that rewriting transport."""
    from travelsim.sft import LocalRateBudget
    from travelsim.sft_simulator import SimulatorConfig, create_app

    app = create_app(SimulatorConfig(db_path=tmp_path / "sim.db", seed_esims=2, rate_limit_tps=0))
    direct = SFTClient(
        "http://sim",
        "demo",
        "demo",
        rate_budget=LocalRateBudget(1000.0),
        transport=httpx.ASGITransport(app=app),
    )
    rewrite = _AddonDetailsAnswer(httpx.ASGITransport(app=app), body, status)
    client = SFTClient(
        "http://sim",
        "demo",
        "demo",
        rate_budget=LocalRateBudget(1000.0),
        transport=rewrite,
        retry_backoff=0.01,
        retry_backoff_max=0.02,
    )
    return direct, client, rewrite


def _answer(code: str, param: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resultCode": "0" if code == "0" else "1",
        "resultParam": {"resultCode": code, "resultDescription": "test"},
    }
    if param is not None:
        body["responseParam"] = param
    return {"Response": body}


@pytest.mark.parametrize(
    ("body", "falls_back"),
    [
        (_answer("1001"), True),  # a business error other than the documented empty list
        (_answer("0", {"addonList": []}), True),  # an unknown shape: success without rows
        (_answer("0", {"rows": [{"uniqueId": "1"}]}), True),  # rows without the fields
        (_answer("1359"), False),  # "No data available": an empty list, no fallback
    ],
)
async def test_add_on_details_failures_that_fall_back(
    tmp_path: Any, body: dict[str, Any], falls_back: bool
) -> None:
    direct, client, rewrite = _direct_and_rewritten(tmp_path, body)
    async with direct, client:
        endpoint_id = await _endpoint_with_addons(direct, ["870301"])
        expected = await direct.addon_details(priority=P, endpoint_id=endpoint_id)
        got = await client.addon_details(priority=P, endpoint_id=endpoint_id)
        again = await client.addon_details(priority=P, endpoint_id=endpoint_id)
    if falls_back:
        assert [(a.unique_id, a.remaining_bytes) for a in got] == [
            (a.unique_id, a.remaining_bytes) for a in expected
        ]
        assert got[0].status_raw == "inferred" and again == got
        assert rewrite.addon_reads == 2  # not a 404/405: asked again next time
    else:
        assert got == [] and again == []


async def test_add_on_details_failing_with_5xx_after_its_retries_reads_the_profile(
    tmp_path: Any,
) -> None:
    """An add-on details call that keeps answering HTTP 502 (its bounded GET retries spent)
    falls back to GetEndPointProfile like any other failure of that call
    (docs/sft-platform.md#get-endpoint-add-on-details); before, it raised SFTTransportError."""
    direct, client, failing = _direct_and_rewritten(tmp_path, {"error": "bad gateway"}, 502)
    async with direct, client:
        endpoint_id = await _endpoint_with_addons(direct, ["870301"])
        expected = await direct.addon_details(priority=P, endpoint_id=endpoint_id)
        got = await client.addon_details(priority=P, endpoint_id=endpoint_id)
    assert failing.addon_reads > 1  # the call was retried before giving up
    assert [(a.unique_id, a.remaining_bytes) for a in got] == [
        (a.unique_id, a.remaining_bytes) for a in expected
    ]
    assert got[0].status_raw == "inferred"

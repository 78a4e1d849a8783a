"""Automatic retry of orders that failed on a transient platform fault.

The rule (docs/business-rules.md#provisioning-retries): a run that ends on a transient
fault (HTTP 5xx, an HTML gateway page, a timeout, HTTP 429, a malformed body) leaves the
order ``paid`` with its payment untouched and a retry persisted on the order: attempt count,
first failure time, next attempt time. The recovery job runs it again when due, waiting 1 min
before the first retry and doubling up to 1 h between retries, for up to
``PROVISIONING_RETRY_HOURS`` (24 h) after the first failure; only a definite refusal, or the
end of that window, makes the order ``needs_attention`` and voids the payment.

Faults come from the simulator (docs/simulator.md#controls-_sim-no-auth-no-rate-limit); what must
hold at the end is read from the simulator's own records (one add-on instance on the endpoint) and
the payment row, never from the code under test.
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

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
from sqlmodel import col, select

from travelsim import db
from travelsim.models import Esim, Order, OutboxEmail, Payment, User
from travelsim.services import installation, orders, provisioning
from travelsim.services.jobs import metering, runs
from travelsim.settings import Settings
from travelsim.sft import SFTClient

FAST: dict[str, Any] = {"backoff": (0.01,)}
#: The documented schedule: 1 min before the first retry, doubling, at most 1 h apart.
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


class Clock:
    """A settable UTC clock for the retry schedule."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def get(model: Any, key: Any) -> Any:
    async with db.session() as s:
        return await s.get(model, key)


async def paid_order(user: User, client: SFTClient) -> Order:
    outcome = await buy(user, client)
    assert outcome.status == "paid" and outcome.order_id
    order = await get(Order, outcome.order_id)
    assert order is not None
    return order  # type: ignore[no-any-return]


async def mails(kind: str) -> list[OutboxEmail]:
    async with db.session() as s:
        rows = await s.exec(select(OutboxEmail).where(col(OutboxEmail.kind) == kind))
        return list(rows.all())


TRANSIENT_FAULTS = [
    pytest.param("fetchSIM", "html", {"status": 502}, id="fetchSIM-html-502-gateway-page"),
    pytest.param("fetchSIM", "http500", {}, id="fetchSIM-http500"),
    pytest.param("fetchSIM", "malformed", {}, id="fetchSIM-malformed-body"),
    pytest.param("fetchSIM", "429_burst", {}, id="fetchSIM-429"),
    pytest.param("EndPointLifeCycleChange", "http500", {}, id="activate-http500"),
    pytest.param("EndPointLifeCycleChange", "html", {"status": 503}, id="activate-html-503"),
]


@pytest.mark.parametrize(("operation", "kind", "options"), TRANSIENT_FAULTS)
async def test_transient_fault_is_retried_by_recovery_and_delivered_without_void(
    sqlite_db: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    operation: str,
    kind: str,
    options: dict[str, Any],
) -> None:
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()
    order = await paid_order(user, client)
    esim = await get(Esim, order.esim_id)
    clock = Clock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    sim.fault(operation, kind, probability=1.0, **options)

    left = await provisioning.run_order(order.id, client=client, clock=clock, **FAST)

    # Not given up: the order waits for an automatic retry, the payment is untouched.
    assert left.status == "paid"
    assert (await get(Payment, order.payment_id)).status == "authorized"  # held, not captured
    row = await get(Order, order.id)
    assert row.retry_count == 1
    assert _utc(row.first_failed_at) == clock.now
    assert _utc(row.next_attempt_at) == clock.now + MINUTE
    # The traveler sees "still setting up", not a failure.
    async with db.session() as s:
        view = await orders.order_view(s, order_id=order.id, user_id=user.id or 0)
        install = await installation.install_view(s, user=user, esim_id=esim.id)
    assert view is not None and view.retrying and view.status == "paid"
    assert install is not None and install.status == "preparing"

    # Not due yet: recovery leaves it alone (no SFT call).
    sim.clear_faults()
    sim.clear_calls()
    clock.now += MINUTE - timedelta(seconds=1)
    early = await runs.run_recovery(
        client, metering.RunStats(), clock=clock, run_order_options=FAST
    )
    assert early == {"resumed": [], "escalated": []}
    assert sim.calls() == []

    # The fault has cleared; once due, the recovery job delivers it.
    clock.now += timedelta(seconds=1)
    due = await runs.run_recovery(client, metering.RunStats(), clock=clock, run_order_options=FAST)
    assert due == {"resumed": [order.id], "escalated": []}
    done = await get(Order, order.id)
    assert done.status == "delivered" and done.next_attempt_at is None
    payment = await get(Payment, order.payment_id)
    assert payment.status == "succeeded"  # captured once, never voided
    (addon,) = sim.addons(esim.endpoint_id)
    assert (addon["planId"], addon["uniqueId"]) == (PLAN_ID, done.addon_unique_id)
    assert sim.state()["subscriptionsPerEndpoint"] == {esim.endpoint_id: 1}
    assert len(await mails("installation")) == 1


async def test_subscribe_outcome_unknown_is_reread_not_resent_on_the_automatic_retry(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """SubscribeAddon is applied but its answer is lost, and the add-on list cannot be read
    either, from add-on details nor from its GetEndPointProfile fallback (HTTP 500): the run
    cannot know, so it schedules a retry. The retry re-reads the
    add-on list, adopts the instance and never sends SubscribeAddon again."""
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url, timeout=1.0, long_timeout=1.0)
    await add_plan()
    order = await paid_order(await add_user(), client)
    esim = await get(Esim, order.esim_id)
    clock = Clock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    run = {"client": client, "clock": clock, "max_attempts": 1, **FAST}
    sim.fault("SubscribeAddon", "timeout_after_commit", latency_seconds=2, count=1)

    class LoseReread(SFTClient):
        """Lets the first add-on read (the baseline) through, then the platform's add-on
        list and the profile answer HTTP 500 (faults injected right after SubscribeAddon was
        sent)."""

        async def subscribe_addon(self, *args: Any, **kwargs: Any) -> Any:
            sim.fault("GetEndpointAddonDetails", "http500", probability=1.0)
            sim.fault("GetEndPointProfile", "http500", probability=1.0)
            return await super().subscribe_addon(*args, **kwargs)

    losing = LoseReread(
        sim.url,
        "demo",
        "demo",
        rate_budget=client._budget,
        timeout=1.0,
        long_timeout=1.0,
        retry_backoff=0.02,
        retry_backoff_max=0.1,
    )
    try:
        left = await provisioning.run_order(order.id, **{**run, "client": losing})
    finally:
        await losing.aclose()
    assert left.status == "paid" and left.addon_unique_id is None
    assert (await get(Payment, order.payment_id)).status == "authorized"  # held, not captured
    assert len(sim.calls("subscribeaddon")) <= 1  # the delayed answer may not be logged yet

    sim.clear_faults()
    clock.now += MINUTE
    await runs.run_recovery(client, metering.RunStats(), clock=clock, run_order_options=FAST)

    done = await get(Order, order.id)
    assert done.status == "delivered"
    (addon,) = sim.addons(esim.endpoint_id)
    assert done.addon_unique_id == addon["uniqueId"]
    assert sim.state()["subscriptionsPerEndpoint"] == {esim.endpoint_id: 1}
    assert (await get(Payment, order.payment_id)).status == "succeeded"


async def test_retry_schedule_backs_off_and_gives_up_after_the_window(
    any_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """While the fault persists each retry waits twice as long (1, 2, 4 ... min, at most
    1 h); the last retry is at the end of the 24 h window, and failing then gives up:
    ``needs_attention`` with the payment voided."""
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    order = await paid_order(await add_user(), client)
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    clock = Clock(start)
    sim.fault("fetchSIM", "html", status=502, probability=1.0)
    await provisioning.run_order(order.id, client=client, clock=clock, **FAST)

    window_end = start + timedelta(hours=24)
    expected_next = start + MINUTE
    retries = 1
    while True:
        row = await get(Order, order.id)
        assert row.status == "paid", (retries, row.last_error)
        assert row.retry_count == retries
        assert _utc(row.first_failed_at) == start
        assert _utc(row.next_attempt_at) == expected_next
        if expected_next == window_end:
            break
        clock.now = expected_next
        result = await runs.run_recovery(
            client, metering.RunStats(), clock=clock, run_order_options=FAST
        )
        assert result["resumed"] == [order.id]
        gap = min(MINUTE * 2**retries, HOUR)  # independent computation of the schedule
        expected_next = min(clock.now + gap, window_end)
        retries += 1
    # 1+2+...+32 min = 63 min, then hourly to 24 h: a bounded number of retries.
    assert 20 < retries < 40
    assert (await get(Payment, order.payment_id)).status == "authorized"  # held, not captured

    clock.now = window_end
    result = await runs.run_recovery(
        client, metering.RunStats(), clock=clock, run_order_options=FAST
    )
    assert result["resumed"] == [order.id]
    gone = await get(Order, order.id)
    assert gone.status == "needs_attention" and gone.next_attempt_at is None
    assert gone.last_error and "24 h" in gone.last_error
    assert (await get(Payment, order.payment_id)).status == "voided"


async def test_definite_refusal_still_goes_to_staff_at_once(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """A plan the platform does not know: SubscribeAddon is refused (a business error that
    no retry can fix): needs attention and payment voided in the first run, no retry."""
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan("999999")
    outcome = await buy(await add_user(), client, plan_id="999999")
    assert outcome.order_id
    clock = Clock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))

    failed = await provisioning.run_order(outcome.order_id, client=client, clock=clock, **FAST)

    assert failed.status == "needs_attention"
    row = await get(Order, outcome.order_id)
    assert (row.retry_count, row.next_attempt_at) == (0, None)
    assert (await get(Payment, row.payment_id)).status == "voided"
    sim.clear_calls()
    clock.now += timedelta(hours=2)
    result = await runs.run_recovery(
        client, metering.RunStats(), clock=clock, run_order_options=FAST
    )
    assert result == {"resumed": [], "escalated": []} and sim.calls() == []


async def test_a_waiting_order_is_not_rerun_early_by_the_order_page(
    any_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """The traveler's open order page asks for provisioning again and again; a retry that is
    not due yet must not be started by it (only by the schedule, or by staff)."""
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    order = await paid_order(await add_user(), client)
    sim.fault("EndPointLifeCycleChange", "http500", probability=1.0)
    await provisioning.run_order(order.id, client=client, **FAST)
    sim.clear_faults()
    sim.clear_calls()

    again = await provisioning.run_order(order.id, client=client, **FAST)

    assert again.status == "paid" and sim.calls() == []
    # Staff may force it ("Retry provisioning").
    forced = await provisioning.run_order(order.id, client=client, force=True, **FAST)
    assert forced.status == "delivered"
    assert (await get(Payment, order.payment_id)).status == "succeeded"

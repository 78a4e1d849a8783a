"""200 purchases while the simulator injects about 20 % faults of every kind (issue 10).

Every SFT operation (login included) has a 20 % chance of a fault, spread evenly over the
simulator's seven kinds (latency, HTTP 500, timeout that still completes, 429 burst,
malformed body, HTML error page, early token expiry): each kind fires with probability
``1 - 0.8 ** (1/7)`` (≈ 3.1 %) independently, so a call is clean with probability 0.8.

Provisioning runs with ONE attempt per step (``max_attempts=1``) so that many orders give up
and the "needs attention, payment voided" path is exercised under load, not only the
in-place retries. Then the faults stop, and the product's recovery paths run: the recovery
job (``jobs.run_recovery``, for orders left ``paid``/``provisioning``) and the staff "retry
provisioning" action (``admin.retry_provisioning``, for ``needs_attention`` orders). Every
order must then be delivered, each with exactly one add-on on its endpoint in the
simulator's own records.

Runtime on the 2-core reference machine: about a minute (``PURCHASES`` = 200).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from test_checkout_support import Sim, add_plan, make_client

from tests.load.support import (
    PLAN_ID,
    add_users,
    checkout_and_pay,
    distinct,
    duplicate_subscriptions,
    ledger,
    seed_pool,
)
from travelsim import db
from travelsim.models import User
from travelsim.services import admin, checkout, jobs, provisioning
from travelsim.services.payments import DemoCardProvider
from travelsim.settings import Settings
from travelsim.sft import LocalRateBudget, SFTClient
from travelsim.sft_simulator.faults import FAULT_KINDS

#: Number of purchases (the issue asks for 200; lower it locally for a quicker run).
PURCHASES = 200
FAULT_RATE = 0.20
PER_KIND = 1 - (1 - FAULT_RATE) ** (1 / len(FAULT_KINDS))
#: Client request timeout; the "timeout that still completes" fault sleeps longer than this
#: AFTER the platform committed the operation.
CLIENT_TIMEOUT = 1.0
SIM_TPS = 400.0
CLIENT_TPS = 300.0
CONCURRENT_RUNS = 50


class RecordingProvider(DemoCardProvider):
    """The demo processor, recording which charges were voided."""

    def __init__(self) -> None:
        super().__init__()
        self.voided: list[str] = []

    async def void(self, provider_ref: str) -> None:
        await super().void(provider_ref)
        self.voided.append(provider_ref)


def fault_client(url: str, budget: LocalRateBudget) -> SFTClient:
    return make_client(url, rate_budget=budget, timeout=CLIENT_TIMEOUT, long_timeout=CLIENT_TIMEOUT)


def inject_faults(sim: Sim) -> None:
    for kind in FAULT_KINDS:
        options: dict[str, Any] = {"probability": PER_KIND}
        if kind == "latency":
            options["latency_seconds"] = 0.3  # slow, but inside the client timeout
        if kind == "timeout_after_commit":
            options["latency_seconds"] = CLIENT_TIMEOUT + 0.5
        sim.fault("*", kind, **options)


async def test_200_purchases_under_20_percent_faults(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=PURCHASES)
    sim.ctl("POST", "settings", {"rate_limit_tps": SIM_TPS})
    budget = LocalRateBudget(CLIENT_TPS)
    setup = sft_clients(sim.url, rate_budget=budget)
    await add_plan()
    assert await seed_pool(setup) == PURCHASES
    users = await add_users(PURCHASES, prefix="fault")
    provider = RecordingProvider()
    client = fault_client(sim.url, budget)
    sim.clear_calls()
    inject_faults(sim)
    try:
        # --- purchases and provisioning under faults ----------------------------------------
        outcomes = await asyncio.gather(*(checkout_and_pay(u, client, provider) for u in users))
        paid = [o for o in outcomes if isinstance(o, checkout.PayOutcome) and o.status == "paid"]
        assert len(paid) == PURCHASES, Counter(str(o) for o in outcomes if o not in paid)
        gate = asyncio.Semaphore(CONCURRENT_RUNS)

        async def provision(order_id: str) -> str:
            async with gate:
                order = await provisioning.run_order(
                    order_id, client=client, provider=provider, max_attempts=1, backoff=()
                )
                return order.status

        ends = await asyncio.gather(*(provision(o.order_id or "") for o in paid))
    finally:
        sim.clear_faults()
    assert sim.api.login().status_code == 200  # token_expiry also expired the test's token
    fired = Counter(f for c in sim.calls() for f in c["faults"])
    assert set(fired) == set(FAULT_KINDS), fired  # every kind really fired

    # Every order ends delivered, or needs attention with its payment voided.
    assert set(ends) <= {"delivered", "needs_attention"}
    orders, payments, _, _, mails = await ledger()
    payment_of = {p.id: p for p in payments}
    attention = [o for o in orders if o.status == "needs_attention"]
    assert attention, "no order gave up: the faults did not exercise the give-up path"
    for o in orders:
        pay = payment_of[o.payment_id]
        if o.status == "needs_attention":
            assert pay.status == "voided" and o.last_error
        else:
            assert (o.status, pay.status) == ("delivered", "succeeded")
    assert sorted(provider.voided) == sorted(
        payment_of[o.payment_id].provider_ref or "" for o in attention
    )
    assert len(mails) == len(orders) - len(attention)  # only delivered orders got an email
    assert duplicate_subscriptions(sim.state()) == {}
    print(Counter((o.last_error or "")[:70] for o in attention))
    print(f"\nfaults fired {dict(fired)}; {len(attention)} of {PURCHASES} orders gave up")

    # --- faults stopped: recovery ---------------------------------------------------------
    stats = jobs.RunStats()
    await jobs.run_recovery(
        client, stats, lease=timedelta(0), run_order_options={"backoff": (0.05,)}
    )
    async with db.session() as s:
        staff_user = User(email="staff@example.com", password_hash="x", is_staff=True)
        s.add(staff_user)
        await s.commit()
        await s.refresh(staff_user)
        assert staff_user.id is not None
        staff = admin.Staff(staff_user.id, staff_user.email)
    for o in attention:
        result = await admin.retry_provisioning(
            staff, o.id, client=client, run_options={"backoff": (0.05,), "provider": provider}
        )
        assert result.result == "ok", result.message
    await client.aclose()

    orders, payments, _, esims, mails = await ledger()
    assert Counter(o.status for o in orders) == {"delivered": PURCHASES}
    assert len(mails) == PURCHASES and distinct([m.user_id for m in mails])
    esim_of = {e.id: e for e in esims}
    endpoints = [esim_of[o.esim_id].endpoint_id for o in orders]
    assert distinct(endpoints)
    # The platform's own records: one subscription per order, and it is the order's.
    state = sim.state()
    assert duplicate_subscriptions(state) == {}
    assert state["subscriptionsPerEndpointPlan"] == {ep: {PLAN_ID: 1} for ep in endpoints}
    for o in orders:
        (addon,) = sim.addons(esim_of[o.esim_id].endpoint_id)
        assert addon["uniqueId"] == o.addon_unique_id
    # Voided payments stay voided: those deliveries were at the seller's expense.
    assert Counter(p.status for p in payments) == {
        "succeeded": PURCHASES - len(attention),
        "voided": len(attention),
    }

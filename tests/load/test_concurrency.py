"""100 simultaneous checkouts against 60 free eSIMs, paid through localstripe over HTTP, on
SQLite and on PostgreSQL.

Expected figures come from the setup, not from the code under test: the simulator is seeded
with exactly 60 Pre-Active eSIMs (each with its own matching ID), 100 distinct travelers buy
at once, so exactly 60 can be served and 40 must hear "sold out" before any charge. Stripe's
side is read from localstripe itself (``GET /v1/payment_intents``, filtered by this run's
checkout ids in the PaymentIntents' metadata): 60 PaymentIntents held (``requires_capture``),
then all ``succeeded`` once their eSIM is delivered, none left held
(https://docs.stripe.com/payments/place-a-hold-on-a-payment-method). After provisioning, the
simulator's own records (``/_sim/state``) must show one add-on per sold endpoint, and each
delivered eSIM's stored code must be the simulator's code for its ICCID.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from checkout_support import Sim, add_plan, make_client, stripe_intents

from tests.load.support import (
    PLAN_ID,
    add_users,
    checkout_and_pay,
    distinct,
    duplicate_subscriptions,
    ledger,
    seed_pool,
)
from travelsim.keys import secret_box
from travelsim.services import provisioning
from travelsim.services.checkout_outcome import PayOutcome
from travelsim.services.payments import get_provider
from travelsim.settings import Settings
from travelsim.sft import LocalRateBudget, SFTClient

BUYERS = 100
ESIMS = 60
#: The simulator's account limit is raised from the documented 2 TPS to keep the run short;
#: the client's shared budget stays under it, so no 429 is expected (and none would break
#: anything: the client backs off and resends).
SIM_TPS = 400.0
CLIENT_TPS = 300.0


async def test_100_buyers_60_esims(
    any_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=ESIMS)
    sim.ctl("POST", "settings", {"rate_limit_tps": SIM_TPS})
    client = sft_clients(sim.url, rate_budget=LocalRateBudget(CLIENT_TPS))
    await add_plan()
    assert await seed_pool(client) == ESIMS
    users = await add_users(BUYERS)
    provider = get_provider()  # the session's localstripe

    outcomes = await asyncio.gather(*(checkout_and_pay(u, client, provider) for u in users))

    paid = [o for o in outcomes if isinstance(o, PayOutcome) and o.status == "paid"]
    refused = [o for o in outcomes if isinstance(o, str)]
    assert len(paid) == ESIMS, Counter(str(o) for o in outcomes if o not in paid)
    assert refused == ["sold_out"] * (BUYERS - ESIMS)
    assert len(paid) + len(refused) == BUYERS  # nobody got another answer

    orders, payments, checkouts, esims, _ = await ledger()
    by_status = Counter(c.status for c in checkouts)
    assert by_status == {"paid": ESIMS, "sold_out": BUYERS - ESIMS}
    # "Sold out" before any charge: no Payment row exists for a sold-out checkout.
    sold_out_ids = {c.id for c in checkouts if c.status == "sold_out"}
    assert not [p for p in payments if p.checkout_id in sold_out_ids]
    # Held at Stripe, not charged yet: captured when each eSIM is delivered.
    assert len(payments) == ESIMS and {p.status for p in payments} == {"authorized"}
    ours = {c.id for c in checkouts}
    held = stripe_intents(ours)
    assert len(held) == ESIMS and {pi["status"] for pi in held} == {"requires_capture"}
    assert {pi["metadata"]["checkout_id"] for pi in held} == {p.checkout_id for p in payments}
    assert len(orders) == ESIMS and {o.status for o in orders} == {"paid"}
    # One order per traveler, one eSIM per order, every eSIM assigned to its buyer.
    assert distinct([o.user_id for o in orders]) and distinct([o.esim_id for o in orders])
    owner = {e.id: e.user_id for e in esims}
    assert all(owner[o.esim_id] == o.user_id for o in orders)
    assert Counter(e.state for e in esims) == {"assigned": ESIMS}

    # Provision all 60 at once (as 60 background events would).
    ps_client = make_client(sim.url, rate_budget=client._budget)
    try:
        done = await asyncio.gather(
            *(provisioning.run_order(o.id, client=ps_client, backoff=(0.05,)) for o in orders)
        )
    finally:
        await ps_client.aclose()
    assert Counter(o.status for o in done) == {"delivered": ESIMS}

    orders, payments, _, esims, mails = await ledger()
    assert Counter(o.status for o in orders) == {"delivered": ESIMS}
    assert Counter(p.status for p in payments) == {"succeeded": ESIMS}
    assert all(p.captured_at is not None for p in payments)
    # Stripe agrees: every PaymentIntent captured, at the amount and currency of its payment.
    intents = {pi["id"]: pi for pi in stripe_intents(ours)}
    assert Counter(pi["status"] for pi in intents.values()) == {"succeeded": ESIMS}
    assert {p.provider_ref for p in payments} == set(intents)
    for p in payments:
        pi = intents[str(p.provider_ref)]
        assert (pi["amount"], pi["currency"]) == (p.amount_minor, p.currency.lower())
    delivered_esims = [e for e in esims if e.id in {o.esim_id for o in orders}]
    iccids = [e.iccid for e in delivered_esims]
    assert len(iccids) == ESIMS and distinct(iccids)  # no ICCID delivered twice
    assert distinct([o.addon_unique_id for o in orders])
    # One email each.
    assert sorted(m.user_id or 0 for m in mails) == sorted(o.user_id or 0 for o in orders)

    # The platform's own records: each sold endpoint is Active with exactly ONE add-on.
    state = sim.state()
    assert duplicate_subscriptions(state) == {}
    per_plan = state["subscriptionsPerEndpointPlan"]
    assert per_plan == {e.endpoint_id: {PLAN_ID: 1} for e in delivered_esims}
    assert state["endpoints"]["byStatus"] == {"Active": ESIMS}
    for e in delivered_esims:
        platform = sim.sim_row(e.iccid)["activationCode"]["textQrCode"]
        assert e.activation_code_enc and secret_box().decrypt(e.activation_code_enc) == platform

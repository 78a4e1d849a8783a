"""100 simultaneous checkouts against 60 free eSIMs, paid through localstripe over HTTP, on
SQLite and on PostgreSQL (where it runs).

Expected figures come from the setup: the simulator is seeded with exactly 60 eSIMs and 100
distinct travelers buy at once, so exactly 60 hold an amount at Stripe and are captured once
their eSIM is delivered; the 40 others hear "sold out" before anything is held. Stripe's side
is read from localstripe itself (``GET /v1/payment_intents``, filtered by this run's checkout
ids in the PaymentIntents' metadata): 60 PaymentIntents, all ``succeeded`` after
provisioning, none left ``requires_capture``
(https://docs.stripe.com/payments/place-a-hold-on-a-payment-method).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from checkout_support import Sim, add_plan, make_client, stripe_intents

from tests.load.support import (
    add_users,
    checkout_and_pay,
    distinct,
    duplicate_subscriptions,
    ledger,
    seed_pool,
)
from travelsim.services import provisioning
from travelsim.services.checkout_outcome import PayOutcome
from travelsim.services.payments import get_provider
from travelsim.settings import Settings
from travelsim.sft import LocalRateBudget, SFTClient

BUYERS = 100
ESIMS = 60
SIM_TPS = 400.0
CLIENT_TPS = 300.0


async def test_100_checkouts_60_esims_60_captured(
    any_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=ESIMS)
    sim.ctl("POST", "settings", {"rate_limit_tps": SIM_TPS})
    client = sft_clients(sim.url, rate_budget=LocalRateBudget(CLIENT_TPS))
    await add_plan()
    assert await seed_pool(client) == ESIMS
    users = await add_users(BUYERS, prefix="stripe-load")
    provider = get_provider()  # the session's localstripe

    outcomes = await asyncio.gather(*(checkout_and_pay(u, client, provider) for u in users))

    paid = [o for o in outcomes if isinstance(o, PayOutcome) and o.status == "paid"]
    refused = [o for o in outcomes if isinstance(o, str)]
    assert len(paid) == ESIMS, Counter(str(o) for o in outcomes if o not in paid)
    assert refused == ["sold_out"] * (BUYERS - ESIMS)

    orders, payments, checkouts, esims, _ = await ledger()
    ours = {c.id for c in checkouts}
    sold_out = {c.id for c in checkouts if c.status == "sold_out"}
    assert len(sold_out) == BUYERS - ESIMS
    assert not [p for p in payments if p.checkout_id in sold_out]  # nothing charged
    assert Counter(p.status for p in payments) == {"authorized": ESIMS}
    held = stripe_intents(ours)
    assert len(held) == ESIMS and {pi["status"] for pi in held} == {"requires_capture"}
    assert {pi["metadata"]["checkout_id"] for pi in held} == {p.checkout_id for p in payments}
    assert not {pi["metadata"]["checkout_id"] for pi in held} & sold_out
    # No eSIM assigned twice, one order per traveler.
    assert distinct([o.esim_id for o in orders]) and distinct([o.user_id for o in orders])
    assert Counter(e.state for e in esims) == {"assigned": ESIMS}

    ps_client = make_client(sim.url, rate_budget=client._budget)
    try:
        done = await asyncio.gather(
            *(provisioning.run_order(o.id, client=ps_client, backoff=(0.05,)) for o in orders)
        )
    finally:
        await ps_client.aclose()
    assert Counter(o.status for o in done) == {"delivered": ESIMS}

    orders, payments, _, esims, _ = await ledger()
    assert Counter(p.status for p in payments) == {"succeeded": ESIMS}
    assert all(p.captured_at is not None for p in payments)
    intents = stripe_intents(ours)
    assert len(intents) == ESIMS
    assert Counter(pi["status"] for pi in intents) == {"succeeded": ESIMS}
    by_ref = {pi["id"]: pi for pi in intents}
    assert {p.provider_ref for p in payments} == set(by_ref)
    for p in payments:
        assert (by_ref[p.provider_ref]["amount"], by_ref[p.provider_ref]["currency"]) == (
            p.amount_minor,
            p.currency.lower(),
        )
    # Nothing left held at Stripe for this run's checkouts; the platform agrees: one add-on per
    # sold endpoint, no eSIM delivered twice.
    assert [pi for pi in intents if pi["status"] == "requires_capture"] == []
    assert duplicate_subscriptions(sim.state()) == {}
    assert distinct([e.iccid for e in esims if e.id in {o.esim_id for o in orders}])

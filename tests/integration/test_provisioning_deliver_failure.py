"""A delivery the database refuses never loses the activation code fetched before it.

``fetch_code`` commits the code with its ``done`` before ``deliver`` runs
(``provisioning_runner``; docs/business-rules.md#provisioning-steps). Here the database
itself refuses the delivery: a trigger (SQLite and PostgreSQL) rejects the order's change to
``delivered``, at the very end of the attempt, after the email was queued and the order
marked delivered in memory. That database error propagates out of the run (the documented
behaviour of ``provisioning.run_order``) and undoes only the delivery: the code fetched from
the simulator stays committed, the order does not read ``delivered``, no email is queued.
The next run (once the trigger is gone and the lease has lapsed) delivers exactly once
without fetching the code again.

The deliver step captures the payment's hold in that same transaction
(docs/payments.md#charged-only-for-a-delivered-esim): the refused delivery leaves the
PaymentIntent captured at Stripe (localstripe, over HTTP) but the payment row ``authorized``
(its ``succeeded`` rolled back with the delivery); the next run's capture is answered with the
captured PaymentIntent and the row records it, once, with the delivery.
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    Sim,
    add_plan,
    add_user,
    buy,
    sft_clients,
    sim_factory,
)
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from tests.stripe_support import RunningLocalStripe
from travelsim import db
from travelsim.keys import secret_box
from travelsim.models import Esim, Order, OutboxEmail, Payment, PaymentStatus, ProvisioningStep
from travelsim.services import provisioning
from travelsim.settings import Settings
from travelsim.sft import SFTClient

_SQLITE_TRIGGER = """
CREATE TRIGGER refuse_delivered BEFORE UPDATE OF status ON purchase_order
WHEN NEW.status = 'delivered'
BEGIN SELECT RAISE(ABORT, 'delivery refused by the test'); END
"""
_PG_FUNCTION = """
CREATE FUNCTION refuse_delivered() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'delivery refused by the test'; END $$
"""
_PG_TRIGGER = """
CREATE TRIGGER refuse_delivered BEFORE UPDATE ON purchase_order FOR EACH ROW
WHEN (NEW.status = 'delivered') EXECUTE FUNCTION refuse_delivered()
"""


async def _ddl(*statements: str) -> None:
    async with db.async_engine().begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def _state(order_id: str) -> tuple[Order, Esim, list[ProvisioningStep], list[OutboxEmail]]:
    async with db.session() as s:
        order = await s.get(Order, order_id, populate_existing=True)
        assert order is not None
        esim = await s.get(Esim, order.esim_id, populate_existing=True)
        assert esim is not None
        steps = (
            await s.exec(
                select(ProvisioningStep)
                .where(col(ProvisioningStep.order_id) == order_id)
                .order_by(col(ProvisioningStep.seq))
                .execution_options(populate_existing=True)
            )
        ).all()
        mails = (await s.exec(select(OutboxEmail))).all()
    return order, esim, list(steps), list(mails)


async def _payment(order_id: str) -> Payment:
    async with db.session() as s:
        order = await s.get(Order, order_id, populate_existing=True)
        assert order is not None and order.payment_id is not None
        payment = await s.get(Payment, order.payment_id, populate_existing=True)
        assert payment is not None
    return payment


async def test_a_refused_delivery_keeps_the_fetched_code(
    any_db: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    localstripe: RunningLocalStripe,
) -> None:
    sim = sim_factory(esims=3)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()
    outcome = await buy(user, client)
    assert outcome.status == "paid" and outcome.order_id
    order_id = outcome.order_id
    if any_db.is_sqlite:
        await _ddl(_SQLITE_TRIGGER)
    else:
        await _ddl(_PG_FUNCTION, _PG_TRIGGER)

    sim.clear_calls()
    with pytest.raises(DBAPIError, match="delivery refused by the test"):
        await provisioning.run_order(order_id, client=client)
    between = await _state(order_id)
    held = await _payment(order_id)
    assert held.provider_ref is not None
    pi_between = localstripe.client().v1.payment_intents.retrieve(held.provider_ref)
    await _ddl("DROP TRIGGER refuse_delivered" + ("" if any_db.is_sqlite else " ON purchase_order"))
    events: list[tuple[str, str]] = []

    async def on_progress(step: str, status: str) -> None:
        events.append((step, status))

    done = await provisioning.run_order(
        order_id, client=client, on_progress=on_progress, lease=timedelta(0)
    )
    # The runs' platform calls (before this test reads the simulator itself): the code was
    # fetched once; the second run did not fetch it again.
    assert [c["operation"] for c in sim.calls()] == [
        "endpointlifecyclechange",
        "getendpointaddondetails",
        "subscribeaddon",
        "fetchsim",
    ]

    # Left by the refused delivery (read in another session).
    order, esim, steps, mails = between
    platform_code = sim.sim_row(esim.iccid)["activationCode"]["textQrCode"]
    assert order.status == "provisioning" and order.delivered_at is None
    assert [(st.name, st.status, st.attempts) for st in steps] == [
        ("activate", "done", 1),
        ("subscribe", "done", 1),
        ("fetch_code", "done", 1),
        ("deliver", "running", 1),
    ]
    assert esim.activation_code_enc
    assert secret_box().decrypt(esim.activation_code_enc) == platform_code
    assert mails == []

    # The second run delivered, once.
    assert done.status == "delivered"
    order, esim, steps, mails = await _state(order_id)
    assert order.status == "delivered" and order.delivered_at is not None
    assert [(st.name, st.status, st.attempts) for st in steps] == [
        ("activate", "done", 1),
        ("subscribe", "done", 1),
        ("fetch_code", "done", 1),
        ("deliver", "done", 2),
    ]
    assert [(m.kind, m.to_address) for m in mails] == [("installation", user.email)]
    assert esim.activation_code_enc
    assert secret_box().decrypt(esim.activation_code_enc) == platform_code
    assert events == [
        ("order", "provisioning"),
        ("deliver", "running"),
        ("deliver", "done"),
        ("order", "delivered"),
    ]

    # The payment: captured at Stripe by the refused attempt, recorded only with the delivery.
    assert held.status == PaymentStatus.AUTHORIZED and held.captured_at is None
    assert (pi_between.status, pi_between.amount) == ("succeeded", held.amount_minor)
    paid = await _payment(order_id)
    assert paid.status == PaymentStatus.SUCCEEDED and paid.captured_at is not None
    assert paid.captured_at >= order.delivered_at - timedelta(seconds=1)
    pi_after = localstripe.client().v1.payment_intents.retrieve(held.provider_ref)
    assert (pi_after.status, pi_after.amount) == ("succeeded", held.amount_minor)

"""Helpers of the reconciliation tests: a localstripe of their own, emptied before each test,
and each kind of discrepancy built for real (a purchase on localstripe provisioned on the SFT
simulator, then one source made to disagree the way docs/reconciliation.md describes).

No tests here. The localstripe is the tests' own (``tests.stripe_support.running_localstripe``)
because the reconciliation lists every PaymentIntent of the Stripe account: the session's
shared localstripe holds other tests' PaymentIntents, which this portal database does not
know."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from checkout_support import add_user, buy, card_token

from tests.stripe_support import CARD_OK, RunningLocalStripe, running_localstripe
from travelsim import db
from travelsim.models import Esim, Order, Payment, PaymentStatus
from travelsim.services import provisioning
from travelsim.settings import get_settings
from travelsim.sft import SFTClient
from travelsim.sft.models import Priority

FAST: dict[str, Any] = {"backoff": (0.01,)}


@pytest.fixture(scope="module")
def module_stripe() -> Iterator[RunningLocalStripe]:
    """A localstripe for this module's tests only."""
    with running_localstripe() as running:
        yield running


@pytest.fixture
def own_stripe(
    module_stripe: RunningLocalStripe, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningLocalStripe]:
    """The module's localstripe, emptied (``DELETE /_config/data``, localstripe's own reset),
    with ``STRIPE_LOCAL_PORT`` pointing at it for this test."""
    httpx.delete(f"{module_stripe.base}/_config/data", timeout=10).raise_for_status()
    monkeypatch.setenv("STRIPE_LOCAL_PORT", str(module_stripe.port))
    get_settings.cache_clear()
    yield module_stripe
    get_settings.cache_clear()


async def get(model: Any, key: Any) -> Any:
    async with db.session() as s:
        return await s.get(model, key)


async def update(model: Any, key: Any, **values: Any) -> None:
    """Set columns of one row directly (a source made to disagree, as a bug would)."""
    async with db.session() as s:
        row = await s.get(model, key)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        s.add(row)
        await s.commit()


async def paid_order(client: SFTClient) -> Order:
    """A new traveler's purchase, held on the card, not provisioned (order ``paid``)."""
    outcome = await buy(await add_user(), client)
    assert outcome.status == "paid" and outcome.order_id, outcome
    order = await get(Order, outcome.order_id)
    assert order is not None
    return order


async def delivered_order(client: SFTClient) -> Order:
    """A purchase provisioned to ``delivered`` (its payment captured at delivery)."""
    order = await provisioning.run_order((await paid_order(client)).id, client=client, **FAST)
    assert order.status == "delivered" and order.addon_unique_id, order
    payment = await get(Payment, order.payment_id)
    assert payment.status == PaymentStatus.SUCCEEDED
    return order


async def endpoint_of(order: Order) -> tuple[str, str]:
    """(endpoint id, ICCID) of the order's eSIM."""
    esim = await get(Esim, order.esim_id)
    return str(esim.endpoint_id), str(esim.iccid)


async def payment_ref(order: Order) -> str:
    payment = await get(Payment, order.payment_id)
    assert payment.provider_ref
    return str(payment.provider_ref)


def stripe_capture_unknown_to_portal(stripe: RunningLocalStripe, amount: int = 1500) -> str:
    """A PaymentIntent captured at Stripe outside the portal (a payment link, a manual charge
    in the dashboard): a customer, a card, and an automatically captured PaymentIntent.
    Returns its id."""
    client = stripe.client()
    customer = client.v1.customers.create(params={"email": "walk-in@example.com"})
    card = client.v1.customers.payment_sources.create(
        customer.id, params={"source": card_token(CARD_OK, stripe.base)}
    )
    pi = client.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "eur",
            "customer": customer.id,
            "payment_method": card.id,
            "confirm": True,
        }
    )
    assert pi.status == "succeeded", pi.status
    return str(pi.id)


async def remove_addon_on_sft(client: SFTClient, order: Order) -> None:
    """Withdraw the order's add-on on SFT behind the portal's back."""
    endpoint, _ = await endpoint_of(order)
    assert order.addon_unique_id
    await client.modify_endpoint_addons(
        endpoint, priority=Priority.REFRESH, remove=[order.addon_unique_id]
    )


async def subscribe_on_sft(client: SFTClient, order: Order, plan_id: str) -> str:
    """Subscribe one more add-on on the order's endpoint directly on SFT (no order). Returns
    its uniqueId."""
    endpoint, _ = await endpoint_of(order)
    result = await client.subscribe_addon(endpoint, plan_id, priority=Priority.REFRESH)
    return str(result.unique_id)


def stripe_intent(stripe: RunningLocalStripe, ref: str) -> dict[str, Any]:
    """The PaymentIntent ``ref`` as the Stripe dashboard shows it (with its latest charge)."""
    r = httpx.get(
        f"{stripe.base}/v1/payment_intents/{ref}",
        headers={"Authorization": f"Bearer {stripe.secret_key}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data

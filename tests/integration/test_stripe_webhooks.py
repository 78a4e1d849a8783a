"""Stripe webhooks (``POST /stripe/webhook``, ``services.stripe_events``) over real parts: a
real localstripe over HTTP (the session fixture ``localstripe``), the routes app in process
over ``httpx.ASGITransport``, the SFT simulator over loopback, real SQLite and PostgreSQL.

localstripe sends no event for a hold, a refund or a dispute (localstripe behaviour), so the
tests post the events Stripe would send, signed with the endpoint's secret
(https://docs.stripe.com/webhooks#verify-events), built from the real objects read back
from localstripe. 3-D Secure is completed directly against localstripe, as the fake
Stripe.js dialog does in the browser (``tests/stripe_support.authenticate_3ds``).
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from checkout_support import (  # noqa: F401 - fixtures
    Sim,
    add_plan,
    add_user,
    sft_clients,
    sim_factory,
)
from sqlmodel import select

from tests.stripe_support import (
    CARD_3DS,
    CARD_OK,
    RunningLocalStripe,
    event_payload,
    signed_event_headers,
)
from travelsim import db
from travelsim.models import (
    AuditLog,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    StripeEvent,
    User,
)
from travelsim.routes.app import build_routes_app
from travelsim.routes.stripe_webhook import MAX_BODY_BYTES
from travelsim.services import checkout, checkout_payment, consent, stripe_events
from travelsim.services.admin.orders import list_orders
from travelsim.services.admin.overview import overview
from travelsim.services.payment_holds import capture_payment
from travelsim.services.payments import StripeProvider, get_provider
from travelsim.settings import Settings, get_settings
from travelsim.sft import SFTClient
from travelsim.stripe_config import stripe_config

WEBHOOK = "/stripe/webhook"


@dataclass
class World:
    ls: RunningLocalStripe
    sim: Sim
    client: SFTClient
    http: httpx.AsyncClient
    provider: StripeProvider

    @property
    def secret(self) -> str:
        return stripe_config().webhook_secret

    async def post(
        self,
        event_type: str,
        obj: dict[str, Any],
        *,
        event_id: str | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
        signed: bool = True,
    ) -> httpx.Response:
        """POST the event as Stripe would (signed with the endpoint's secret by default)."""
        body = event_payload(event_type, obj, event_id=event_id)
        headers = signed_event_headers(body, secret or self.secret, timestamp)
        if not signed:
            headers.pop("Stripe-Signature")
        return await self.http.post(WEBHOOK, content=body, headers=headers)

    def pi(self, pi_id: str) -> dict[str, Any]:
        """The PaymentIntent as localstripe has it now."""
        return dict(self.ls.client().v1.payment_intents.retrieve(pi_id).to_dict())

    def charge(self, charge_id: str) -> dict[str, Any]:
        """The charge as localstripe has it now."""
        return dict(self.ls.client().v1.charges.retrieve(charge_id).to_dict())


@pytest.fixture
async def world(
    localstripe: RunningLocalStripe,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    """Needs a database fixture first (``sqlite_db`` / ``any_db``). Provisioning started
    by the webhook runs for real against the simulator (``SFT_BASE_URL``)."""
    sim = sim_factory(esims=5)
    monkeypatch.setenv("SFT_BASE_URL", sim.url)
    get_settings.cache_clear()
    await add_plan()
    provider = get_provider()
    assert isinstance(provider, StripeProvider) and provider.api_base == localstripe.base
    transport = httpx.ASGITransport(app=build_routes_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield World(localstripe, sim, sft_clients(sim.url), http, provider)
    get_settings.cache_clear()


async def start(w: World, user: User) -> str:
    async with db.session() as s:
        c = await checkout.start_checkout(
            s, user=user, plan_id="870101", destination="FR", client=w.client
        )
        return c.id


async def pay(
    w: World, user: User, checkout_id: str, card: str, **kw: Any
) -> checkout_payment.PayOutcome:
    """Pay as the buy page does: the card tokenised on localstripe (as Stripe.js would), the
    token handed to the portal. Starts no provisioning."""
    async with db.session() as s:
        return await checkout_payment.pay(
            s,
            w.provider,
            checkout_id=checkout_id,
            user=user,
            card=checkout_payment.NewCard(w.ls.card_token(card)),
            device_confirmed=True,
            start_provisioning=None,
            acceptance=consent.Acceptance.given_now(),
            **kw,
        )


async def paid_with_3ds(w: World) -> tuple[User, str, str]:
    """A checkout paid with 4000 0025 0000 3155 and 3-D Secure completed at localstripe,
    the tab then closed (the portal was never told). Returns (user, checkout id, pi id)."""
    user = await add_user()
    checkout_id = await start(w, user)
    outcome = await pay(w, user, checkout_id, CARD_3DS)
    assert outcome.status == "requires_action" and outcome.client_secret
    payment = await only(Payment)
    assert payment.provider_ref is not None
    pi = w.ls.authenticate_3ds(payment.provider_ref, outcome.client_secret, True)
    assert pi["status"] == "requires_capture", pi
    return user, checkout_id, payment.provider_ref


async def rows(model: type) -> list[Any]:
    async with db.session() as s:
        return list((await s.exec(select(model))).all())


async def only(model: type) -> Any:
    found = await rows(model)
    assert len(found) == 1, found
    return found[0]


async def events() -> dict[str, str]:
    return {e.id: e.outcome for e in await rows(StripeEvent)}


async def until_provisioned(order_id: str, timeout: float = 60.0) -> Order:
    """The order once provisioning ended (delivered or needs attention)."""
    deadline = time.monotonic() + timeout
    while True:
        async with db.session() as s:
            order = await s.get(Order, order_id)
            assert order is not None
            if order.status in (OrderStatus.DELIVERED, OrderStatus.NEEDS_ATTENTION):
                return order
        assert time.monotonic() < deadline, f"order still {order.status}"
        await asyncio.sleep(0.2)


async def until_captured(payment_id: int, timeout: float = 20.0) -> Payment:
    deadline = time.monotonic() + timeout
    while True:
        async with db.session() as s:
            payment = await s.get(Payment, payment_id)
            assert payment is not None
            if payment.status != PaymentStatus.AUTHORIZED:
                return payment
        assert time.monotonic() < deadline, "payment never captured"
        await asyncio.sleep(0.2)


# --- refused deliveries ------------------------------------------------------------------------
async def test_unsigned_wrong_secret_and_stale_events_are_refused_with_no_change(
    sqlite_db: Settings, world: World
) -> None:
    _user, _checkout_id, pi_id = await paid_with_3ds(world)
    held = world.pi(pi_id)  # applying it would create the order
    tolerance = stripe_config().webhook_tolerance_seconds
    assert tolerance == 300  # the default, https://docs.stripe.com/webhooks#verify-events

    unsigned = await world.post("payment_intent.amount_capturable_updated", held, signed=False)
    wrong = await world.post(
        "payment_intent.amount_capturable_updated", held, secret="whsec_not_the_endpoints"
    )
    stale = await world.post(
        "payment_intent.amount_capturable_updated",
        held,
        timestamp=int(time.time()) - tolerance - 30,
    )
    altered = event_payload("payment_intent.amount_capturable_updated", held)
    headers = signed_event_headers(altered, world.secret)
    tampered = await world.http.post(
        WEBHOOK, content=altered.replace(b'"livemode": false', b'"livemode": true'), headers=headers
    )
    assert [(r.status_code, r.json()) for r in (unsigned, wrong, stale, tampered)] == [
        (400, {"error": "unsigned"}),
        (400, {"error": "bad_signature"}),
        (400, {"error": "bad_signature"}),
        (400, {"error": "bad_signature"}),
    ]
    assert await rows(StripeEvent) == [] and await rows(Order) == []
    assert (await only(Payment)).status == PaymentStatus.REQUIRES_ACTION

    # A foreign Origin does not matter to this server-to-server route; the signature does.
    body = event_payload("payment_intent.amount_capturable_updated", held)
    foreign = await world.http.post(
        WEBHOOK,
        content=body,
        headers={**signed_event_headers(body, "whsec_wrong"), "Origin": "https://evil.example"},
    )
    assert foreign.status_code == 400 and await rows(Order) == []

    too_big = await world.http.post(
        WEBHOOK,
        content=b"{" + b" " * (MAX_BODY_BYTES + 1) + b"}",
        headers=signed_event_headers(b"{}", world.secret),
    )
    assert too_big.status_code == 413 and await rows(StripeEvent) == []


# --- the tab closed after paying: the webhook alone completes the order ------------------------
async def test_tab_closed_after_3ds_the_signed_event_alone_completes_the_order(
    any_db: Settings, world: World
) -> None:
    _user, checkout_id, pi_id = await paid_with_3ds(world)
    assert await rows(Order) == []

    event_id = "evt_tab_closed_0001"
    r = await world.post(
        "payment_intent.amount_capturable_updated", world.pi(pi_id), event_id=event_id
    )
    assert r.status_code == 200, r.text
    assert r.json()["duplicate"] is False
    order = await only(Order)
    assert order.checkout_id == checkout_id
    payment = await only(Payment)
    assert payment.id == order.payment_id and payment.provider_ref == pi_id
    assert (await events())[event_id] == "settled: payment authorized, checkout paid"

    # Provisioning was started by the webhook: it delivers, and delivery captures the hold.
    delivered = await until_provisioned(order.id)
    assert delivered.status == OrderStatus.DELIVERED, delivered.last_error
    assert payment.id is not None
    captured = await until_captured(payment.id)
    assert captured.status == PaymentStatus.SUCCEEDED and captured.captured_at is not None
    assert world.pi(pi_id)["status"] == "succeeded"

    # The same delivery again (a Stripe retry, or a replay within the tolerance): 200, nothing.
    again = await world.post(
        "payment_intent.amount_capturable_updated", world.pi(pi_id), event_id=event_id
    )
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert again.json()["outcome"] == "already applied"
    # An old failure of the same PaymentIntent arriving after its success changes nothing:
    # Stripe's current state is read, not the event's snapshot.
    old_failure = {
        **world.pi(pi_id),
        "status": "requires_payment_method",
        "last_payment_error": {"type": "card_error", "code": "card_declined"},
    }
    late = await world.post("payment_intent.payment_failed", old_failure)
    assert late.status_code == 200, late.text
    assert [o.id for o in await rows(Order)] == [order.id]
    assert (await only(Payment)).status == PaymentStatus.SUCCEEDED
    assert len(await rows(StripeEvent)) == 2


async def test_same_event_twice_and_out_of_order_leave_one_order_and_the_hold(
    any_db: Settings, world: World
) -> None:
    _user, _checkout_id, pi_id = await paid_with_3ds(world)
    config, held = stripe_config(), world.pi(pi_id)

    async def deliver(event_type: str, obj: dict[str, Any], event_id: str) -> Any:
        body = event_payload(event_type, obj, event_id=event_id)
        return await stripe_events.apply_event(
            body,
            signed_event_headers(body, config.webhook_secret)["Stripe-Signature"],
            config=config,
            provider=world.provider,
            start_provisioning=None,
        )

    first = await deliver("payment_intent.amount_capturable_updated", held, "evt_hold_1")
    second = await deliver("payment_intent.amount_capturable_updated", held, "evt_hold_1")
    failed_snapshot = {**held, "status": "requires_payment_method", "last_payment_error": {}}
    late = await deliver("payment_intent.payment_failed", failed_snapshot, "evt_fail_0")
    canceled_snapshot = {**held, "status": "canceled"}
    never = await deliver("payment_intent.canceled", canceled_snapshot, "evt_cancel_0")
    assert (first.duplicate, second.duplicate, late.duplicate, never.duplicate) == (
        False,
        True,
        False,
        False,
    )
    assert len(await rows(Order)) == 1
    payment = await only(Payment)
    assert payment.status == PaymentStatus.AUTHORIZED and payment.failure_reason is None
    assert world.pi(pi_id)["status"] == "requires_capture"
    assert set(await events()) == {"evt_hold_1", "evt_fail_0", "evt_cancel_0"}


async def test_webhook_and_browser_return_racing_make_one_order(
    any_db: Settings, world: World
) -> None:
    user, checkout_id, pi_id = await paid_with_3ds(world)

    async def browser() -> checkout_payment.PayOutcome:
        async with db.session() as s:
            return await checkout_payment.confirm_payment(
                s, world.provider, checkout_id=checkout_id, user=user
            )

    outcome, response = await asyncio.gather(
        browser(),
        world.post("payment_intent.amount_capturable_updated", world.pi(pi_id)),
    )
    assert response.status_code == 200, response.text
    assert outcome.status == "paid", outcome
    order = await only(Order)
    assert outcome.order_id == order.id
    delivered = await until_provisioned(order.id)
    assert delivered.status == OrderStatus.DELIVERED, delivered.last_error
    assert order.payment_id is not None
    assert (await until_captured(order.payment_id)).status == PaymentStatus.SUCCEEDED
    assert len(await rows(Order)) == 1 and len(await rows(Payment)) == 1


# --- refunds and disputes made at Stripe -------------------------------------------------------
async def captured_payment(w: World) -> tuple[Payment, Order, dict[str, Any]]:
    """A 4242 payment held, its order created, then captured (as delivery does). Returns the
    payment, the order and the real charge read back from localstripe."""
    user = await add_user()
    checkout_id = await start(w, user)
    assert (await pay(w, user, checkout_id, CARD_OK)).status == "paid"
    async with db.session() as s:
        payment = (await s.exec(select(Payment))).one()
        assert await capture_payment(payment, w.provider)
        s.add(payment)
        await s.commit()
        await s.refresh(payment)
    order = await only(Order)
    assert payment.provider_ref is not None
    latest = w.pi(payment.provider_ref)["latest_charge"]
    charge_id = latest["id"] if isinstance(latest, dict) else latest  # expanded on localstripe
    return payment, order, w.charge(charge_id)


async def test_refund_made_at_stripe_marks_the_payment_refunded_once(
    any_db: Settings, world: World
) -> None:
    payment, order, before = await captured_payment(world)
    assert payment.provider_ref is not None and payment.status == PaymentStatus.SUCCEEDED
    stripe_client = world.ls.client()
    # A refund made in the Stripe dashboard (straight at localstripe, not through the portal).
    stripe_client.v1.refunds.create(params={"payment_intent": payment.provider_ref})
    charge = world.charge(before["id"])
    assert charge["refunded"] is True and charge["amount_refunded"] == payment.amount_minor

    r = await world.post("charge.refunded", charge, event_id="evt_refund_1")
    assert r.status_code == 200, r.text
    refunded = await only(Payment)
    assert refunded.status == PaymentStatus.REFUNDED
    assert refunded.failure_reason == "refunded at Stripe"
    (trace,) = [a for a in await rows(AuditLog) if a.action == "payment.refunded_at_stripe"]
    assert (trace.actor, trace.target_type, trace.target_id, trace.result) == (
        "stripe",
        "order",
        order.id,
        "ok",
    )
    # The second delivery, and the portal never refunded a second time.
    again = await world.post("charge.refunded", charge, event_id="evt_refund_1")
    other = await world.post("charge.refunded", charge, event_id="evt_refund_2")
    assert again.json()["duplicate"] is True
    assert other.json()["outcome"] == "nothing to do: payment is refunded"
    # Its invoice is cancelled by one credit note (docs/business-rules.md#invoice-numbers).
    credited = await only(Order)
    year = time.gmtime().tm_year
    assert (credited.invoice_number, credited.credit_note_number) == (
        f"{year}-000001",
        f"CN-{year}-000001",
    )
    charge_after = world.charge(charge["id"])
    assert charge_after["amount_refunded"] == payment.amount_minor
    refunds = charge_after.get("refunds") or {}
    assert len(refunds.get("data", [])) <= 1


async def test_dispute_flags_the_payment_for_staff(any_db: Settings, world: World) -> None:
    payment, order, charge = await captured_payment(world)
    dispute = {
        "id": "dp_test_0001",
        "object": "dispute",
        "amount": charge["amount"],
        "currency": charge["currency"],
        "charge": charge["id"],
        "payment_intent": payment.provider_ref,
        "reason": "fraudulent",
        "status": "needs_response",
        "livemode": False,
    }
    r = await world.post("charge.dispute.created", dispute)
    assert r.status_code == 200, r.text
    flagged = await only(Payment)
    assert flagged.status == PaymentStatus.FLAGGED
    assert flagged.failure_reason == "dispute opened at Stripe: fraudulent"
    async with db.session() as s:
        assert (await overview(s)).flagged_payments == 1
        listed = await list_orders(s)
    assert [(row["order_id"], row["payment"]) for row in listed.rows] == [(order.id, "flagged")]
    assert [a.action for a in await rows(AuditLog)] == ["payment.dispute_opened"]


# --- what the portal does not know, and Stripe unreadable --------------------------------------
async def test_unknown_payment_intent_and_other_events_are_ignored_with_200(
    sqlite_db: Settings, world: World
) -> None:
    unknown_pi = {"id": "pi_not_ours_0001", "object": "payment_intent", "status": "succeeded"}
    unknown_charge = {
        "id": "ch_not_ours",
        "object": "charge",
        "payment_intent": "pi_not_ours_0001",
        "refunded": True,
        "amount": 100,
        "amount_refunded": 100,
    }
    answers = [
        await world.post("payment_intent.succeeded", unknown_pi, event_id="evt_u1"),
        await world.post("charge.refunded", unknown_charge, event_id="evt_u2"),
        await world.post("customer.created", {"id": "cus_x", "object": "customer"}, event_id="e3"),
    ]
    assert [(r.status_code, r.json()["outcome"]) for r in answers] == [
        (200, "ignored: PaymentIntent unknown to the portal"),
        (200, "ignored: charge of an unknown PaymentIntent"),
        (200, "ignored: event type not handled"),
    ]
    assert await rows(Payment) == [] and await rows(Order) == []
    assert (await events())["evt_u1"] == "ignored: PaymentIntent unknown to the portal"


async def test_stripe_unreadable_answers_503_and_the_retry_applies(
    sqlite_db: Settings, world: World
) -> None:
    from tests.harness import free_port

    _user, _checkout_id, pi_id = await paid_with_3ds(world)
    config, held = stripe_config(), world.pi(pi_id)
    body = event_payload("payment_intent.amount_capturable_updated", held, event_id="evt_down")
    signature = signed_event_headers(body, config.webhook_secret)["Stripe-Signature"]
    down = StripeProvider(
        secret_key=world.ls.secret_key,
        api_base=f"http://127.0.0.1:{free_port()}",
        max_network_retries=0,
        timeout_seconds=2,
    )
    with pytest.raises(stripe_events.WebhookUnavailable):
        await stripe_events.apply_event(
            body, signature, config=config, provider=down, start_provisioning=None
        )
    assert await rows(StripeEvent) == [] and await rows(Order) == []
    # Stripe's retry (same event, same signature) once it can be read again.
    result = await stripe_events.apply_event(
        body, signature, config=config, provider=world.provider, start_provisioning=None
    )
    assert not result.duplicate and len(await rows(Order)) == 1
    assert (await only(Payment)).status == PaymentStatus.AUTHORIZED

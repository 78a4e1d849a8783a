"""The money rules over real localstripe HTTP and real databases (SQLite file; PostgreSQL via
``any_db`` where it is cheap), with the SFT simulator on a loopback socket.

What Stripe holds is read back from localstripe itself (``GET /v1/payment_intents``), as staff
would read it in the Stripe dashboard, never from the portal's rows. Expected values come
from the setup (the plan's price in the database, the checkout id) and from Stripe's
documented behaviour: a confirmed manual-capture PaymentIntent waits in
``requires_capture``, capture moves it to ``succeeded``, cancel to ``canceled``
(https://docs.stripe.com/payments/place-a-hold-on-a-payment-method); a refund marks its
charge ``refunded`` (https://docs.stripe.com/api/refunds/create).
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    CARD_3DS,
    CARD_DECLINED,
    CARD_OK,
    PLAN_ID,
    ProxyProvider,
    Sim,
    add_plan,
    add_user,
    buy,
    make_staff,
    pass_3ds,
    pay_checkout,
    sft_clients,
    sim_factory,
    stripe_get,
    stripe_intents,
)
from sqlalchemy import update
from sqlmodel import col, select

from tests.harness import free_port
from tests.stripe_support import RunningLocalStripe, card_token
from travelsim import db
from travelsim.models import Checkout, Order, Payment, Plan, User, utcnow
from travelsim.services import admin, checkout, payment_recovery, provisioning
from travelsim.services.checkout_outcome import PayOutcome
from travelsim.services.payments import (
    ChargeResult,
    PaymentProviderError,
    StripeProvider,
    get_provider,
)
from travelsim.settings import Settings
from travelsim.sft import SFTClient

FAST = {"backoff": (0.01,)}
#: An unusual price, so the amount at Stripe can only have come from the database.
PRICE_MINOR, CURRENCY = 1_234, "USD"


@pytest.fixture
async def client(
    sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> SFTClient:
    sim = sim_factory(esims=6)
    await add_plan()
    async with db.session() as s:
        await s.execute(
            update(Plan)
            .where(col(Plan.plan_id) == PLAN_ID)
            .values(price_minor=PRICE_MINOR, currency=CURRENCY)
        )
        await s.commit()
    return sft_clients(sim.url)


async def open_checkout(user: User, client: SFTClient) -> str:
    async with db.session() as s:
        c = await checkout.start_checkout(
            s, user=user, plan_id=PLAN_ID, destination="FR", client=client
        )
        return c.id


async def get(model: Any, key: Any) -> Any:
    async with db.session() as s:
        return await s.get(model, key)


async def payments_of(checkout_id: str) -> list[Payment]:
    async with db.session() as s:
        rows = await s.exec(
            select(Payment).where(col(Payment.checkout_id) == checkout_id).order_by(col(Payment.id))
        )
        return list(rows.all())


async def orders() -> list[Order]:
    async with db.session() as s:
        return list((await s.exec(select(Order))).all())


def intent(ref: str | None) -> dict[str, Any]:
    assert ref, "no PaymentIntent"
    return stripe_get(f"payment_intents/{ref}")


def closed_port_provider() -> StripeProvider:
    """Stripe unreachable: the provider pointed at a loopback port nothing listens on (no
    library retries, a short timeout)."""
    return StripeProvider(
        secret_key="sk_test_localstripe",
        api_base=f"http://127.0.0.1:{free_port()}",
        max_network_retries=0,
        timeout_seconds=2.0,
    )


# --- the hold, the capture, the release -------------------------------------------------------
async def test_buy_holds_the_amount_from_the_database(any_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    outcome = await buy(user, client, card=CARD_OK)
    assert outcome.status == "paid" and outcome.order_id
    chk = await get(Checkout, outcome.checkout_id)
    assert (chk.amount_minor, chk.currency) == (PRICE_MINOR, CURRENCY)
    (payment,) = await payments_of(outcome.checkout_id)
    assert (payment.status, payment.captured_at, payment.card_last4) == ("authorized", None, "4242")
    pi = intent(payment.provider_ref)
    assert (pi["status"], pi["capture_method"]) == ("requires_capture", "manual")
    assert (pi["amount"], pi["currency"]) == (PRICE_MINOR, CURRENCY.lower())
    assert pi["metadata"]["checkout_id"] == outcome.checkout_id
    fresh = await get(User, user.id)
    assert fresh.stripe_customer_id and pi["customer"] == fresh.stripe_customer_id


async def test_capture_on_delivery(any_db: Settings, client: SFTClient) -> None:
    outcome = await buy(await add_user(), client)
    assert outcome.order_id
    before = utcnow()
    order = await provisioning.run_order(outcome.order_id, client=client, **FAST)
    assert order.status == "delivered"
    payment = await get(Payment, order.payment_id)
    assert payment.status == "succeeded" and payment.captured_at is not None
    assert payment.captured_at.replace(tzinfo=None) >= before.replace(tzinfo=None)
    pi = intent(payment.provider_ref)
    charge = pi["latest_charge"]  # localstripe expands it; real Stripe gives an id
    if isinstance(charge, str):
        charge = stripe_get(f"charges/{charge}")
    assert (pi["status"], charge["captured"], charge["amount"]) == ("succeeded", True, PRICE_MINOR)
    # Delivered again (a re-run): nothing is captured twice.
    again = await provisioning.run_order(outcome.order_id, client=client, **FAST)
    assert again.status == "delivered"
    assert (await get(Payment, order.payment_id)).captured_at == payment.captured_at


async def test_cancel_on_give_up(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """Activation fails for good (every EndPointLifeCycleChange answers 500, no retry window
    left): the order gives up and the hold is released at Stripe, nothing captured."""
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    outcome = await buy(await add_user(), client)
    assert outcome.order_id
    sim.fault("EndPointLifeCycleChange", "http500", probability=1.0)
    order = await provisioning.run_order(
        outcome.order_id, client=client, retry_window=timedelta(0), **FAST
    )
    assert order.status == "needs_attention"
    payment = await get(Payment, order.payment_id)
    assert (payment.status, payment.captured_at) == ("voided", None)
    pi = intent(payment.provider_ref)
    assert pi["status"] == "canceled"


async def test_staff_refund_is_reflected_in_stripe(sqlite_db: Settings, client: SFTClient) -> None:
    outcome = await buy(await add_user(), client)
    assert outcome.order_id
    order = await provisioning.run_order(outcome.order_id, client=client, **FAST)
    assert order.status == "delivered"
    staff = await make_staff()
    result = await admin.refund_order(staff, order.id, client=client)
    assert result.result == "ok", result.message
    payment = await get(Payment, order.payment_id)
    assert payment.status == "refunded"
    pi = intent(payment.provider_ref)
    charge = pi["latest_charge"]  # localstripe expands it; real Stripe gives an id
    if isinstance(charge, str):
        charge = stripe_get(f"charges/{charge}")
    assert (charge["refunded"], charge["amount_refunded"]) == (True, PRICE_MINOR)
    refunds = stripe_get("refunds?limit=100000")["data"]
    assert [r["amount"] for r in refunds if r.get("payment_intent") == pi["id"]] == [PRICE_MINOR]
    # Refused the second time; Stripe is not asked again.
    again = await admin.refund_order(staff, order.id, client=client)
    assert again.result == "refused"
    refunds = stripe_get("refunds?limit=100000")["data"]
    assert [r["amount"] for r in refunds if r.get("payment_intent") == pi["id"]] == [PRICE_MINOR]


async def test_staff_void_before_delivery_is_reflected_in_stripe(
    sqlite_db: Settings, client: SFTClient
) -> None:
    outcome = await buy(await add_user(), client)
    assert outcome.order_id
    staff = await make_staff()
    result = await admin.refund_order(staff, outcome.order_id, client=client)
    assert result.result == "ok", result.message
    order = await get(Order, outcome.order_id)
    payment = await get(Payment, order.payment_id)
    assert (order.status, payment.status) == ("needs_attention", "voided")
    assert intent(payment.provider_ref)["status"] == "canceled"
    # Never provisioned, so never captured.
    again = await provisioning.run_order(order.id, client=client, **FAST)
    assert again.status == "needs_attention"
    assert intent(payment.provider_ref)["status"] == "canceled"


# --- declines, 3-D Secure ----------------------------------------------------------------------
async def test_decline_then_another_card(any_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    declined = await pay_checkout(user, checkout_id, card=CARD_DECLINED)
    assert (declined.status, declined.error_code) == ("declined", "card_declined")
    assert "nothing was charged" in declined.message.lower()
    assert (await get(Checkout, checkout_id)).status == "open"
    assert await orders() == []
    assert stripe_intents({checkout_id}) == []  # refused before any PaymentIntent

    paid = await pay_checkout(user, checkout_id, card=CARD_OK)
    assert paid.status == "paid"
    first, second = await payments_of(checkout_id)
    assert [(p.status, p.idempotency_key) for p in (first, second)] == [
        ("declined", checkout_id),
        ("authorized", f"{checkout_id}:2"),
    ]
    (pi,) = stripe_intents({checkout_id})
    assert (pi["id"], pi["status"]) == (second.provider_ref, "requires_capture")


async def test_3ds_passed(any_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    pending = await pay_checkout(user, checkout_id, card=CARD_3DS)
    assert pending.status == "requires_action" and pending.client_secret
    (payment,) = await payments_of(checkout_id)
    assert payment.status == "requires_action"
    assert intent(payment.provider_ref)["status"] == "requires_action"
    assert await orders() == []

    done = await pass_3ds(user, pending, success=True)
    assert done.status == "paid" and done.order_id
    (payment,) = await payments_of(checkout_id)
    assert payment.status == "authorized"
    assert intent(payment.provider_ref)["status"] == "requires_capture"
    order = await provisioning.run_order(done.order_id, client=client, **FAST)
    assert order.status == "delivered"
    assert intent(payment.provider_ref)["status"] == "succeeded"


async def test_3ds_failed(sqlite_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    pending = await pay_checkout(user, checkout_id, card=CARD_3DS)
    failed = await pass_3ds(user, pending, success=False)
    assert failed.status == "declined"
    assert failed.error_code == "payment_intent_authentication_failure"
    assert (
        "3-d secure" in failed.message.lower() and "nothing was charged" in failed.message.lower()
    )
    (payment,) = await payments_of(checkout_id)
    assert payment.status == "declined"
    assert intent(payment.provider_ref)["status"] == "requires_payment_method"  # nothing held
    assert (await get(Checkout, checkout_id)).status == "open"
    assert await orders() == []


# --- double Pay, Stripe unreachable, the idempotency key ---------------------------------------
async def test_double_pay_makes_one_payment_intent(any_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    first, second = await asyncio.gather(
        pay_checkout(user, checkout_id), pay_checkout(user, checkout_id)
    )
    assert sorted([first.status, second.status]) in (["paid", "paid"], ["paid", "processing"])
    intents = stripe_intents({checkout_id})
    assert len(intents) == 1 and intents[0]["status"] == "requires_capture"
    assert len(await payments_of(checkout_id)) == 1 and len(await orders()) == 1


async def test_stripe_unreachable_before_the_hold(
    sqlite_db: Settings, client: SFTClient, localstripe: RunningLocalStripe
) -> None:
    """The browser made its token (Stripe.js reaches Stripe), the portal cannot reach it."""
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    with pytest.raises(checkout.CheckoutError) as exc:
        await pay_checkout(
            user, checkout_id, provider=closed_port_provider(), token_base=localstripe.base
        )
    assert exc.value.code == "payment_error"
    assert "nothing was charged" in exc.value.message.lower()
    assert (await get(Checkout, checkout_id)).status == "open"
    assert await orders() == []
    assert stripe_intents({checkout_id}) == []
    # Stripe back: paying again works, once.
    assert (await pay_checkout(user, checkout_id)).status == "paid"
    assert len(stripe_intents({checkout_id})) == 1


class FlakyOnce(ProxyProvider):
    """localstripe, except that the first PaymentIntent request is lost on the way (Stripe
    unreachable while the hold is being made: its outcome unknown to the portal)."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    async def authorize(self, **kwargs: Any) -> ChargeResult:
        self.keys.append(kwargs["idempotency_key"])
        if len(self.keys) == 1:
            raise PaymentProviderError("provider_unavailable", "connection reset")
        return await super().authorize(**kwargs)


async def test_idempotency_key_is_checkout_amount_and_currency(
    sqlite_db: Settings, client: SFTClient
) -> None:
    """The PaymentIntent's Idempotency-Key is derived from the checkout id, the amount and the
    currency; a resend after an unknown outcome uses the same key and makes one hold."""
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    provider = FlakyOnce()
    with pytest.raises(checkout.CheckoutError) as exc:
        await pay_checkout(user, checkout_id, provider=provider)
    assert exc.value.code == "payment_unconfirmed"
    assert (await get(Checkout, checkout_id)).status == "open"
    outcome = await pay_checkout(user, checkout_id, provider=provider)
    assert outcome.status == "paid"
    expected = f"travelsim-pi-{checkout_id}-{PRICE_MINOR}-{CURRENCY}"
    assert provider.keys == [expected, expected]
    assert len(stripe_intents({checkout_id})) == 1
    (payment,) = await payments_of(checkout_id)
    assert payment.idempotency_key == checkout_id


# --- the recovery job --------------------------------------------------------------------------
async def test_recovery_settles_3ds_completed_with_nobody_coming_back(
    sqlite_db: Settings, client: SFTClient, localstripe: RunningLocalStripe
) -> None:
    """3-D Secure passed in the bank's dialog, then the tab was closed: no confirm_payment,
    and localstripe sends no webhook for a hold. The recovery job's status read makes the
    order."""
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    pending = await pay_checkout(user, checkout_id, card=CARD_3DS)
    assert pending.client_secret
    (payment,) = await payments_of(checkout_id)
    localstripe.authenticate_3ds(payment.provider_ref or "", pending.client_secret, True)
    # Not yet due (the browser or the webhook may still come): nothing read.
    early = await payment_recovery.recover_payments()
    assert early["settled"] == 0 and await orders() == []

    counts = await payment_recovery.recover_payments(
        now=utcnow() + payment_recovery.SETTLE_AFTER + timedelta(seconds=5)
    )
    assert counts["settled"] == 1
    (order,) = await orders()
    assert (order.checkout_id, order.status) == (checkout_id, "paid")
    assert (await get(Payment, payment.id)).status == "authorized"
    # Run again: settled already, nothing more.
    again = await payment_recovery.recover_payments(now=utcnow() + timedelta(minutes=5))
    assert again["settled"] == 0 and len(await orders()) == 1


async def test_recovery_captures_a_postponed_capture(any_db: Settings, client: SFTClient) -> None:
    """Stripe unreachable at the moment the eSIM is delivered: delivered, the hold stays
    (``authorized``), and the recovery job captures it."""
    outcome = await buy(await add_user(), client)
    assert outcome.order_id
    order = await provisioning.run_order(
        outcome.order_id, client=client, provider=closed_port_provider(), **FAST
    )
    assert order.status == "delivered"
    payment = await get(Payment, order.payment_id)
    assert payment.status == "authorized"
    assert intent(payment.provider_ref)["status"] == "requires_capture"

    unreachable = await payment_recovery.recover_payments(provider=closed_port_provider())
    assert unreachable["captured"] == 0
    counts = await payment_recovery.recover_payments()
    assert counts["captured"] == 1
    payment = await get(Payment, order.payment_id)
    assert payment.status == "succeeded" and payment.captured_at is not None
    assert intent(payment.provider_ref)["status"] == "succeeded"
    assert (await payment_recovery.recover_payments())["captured"] == 0


# --- no card data anywhere ---------------------------------------------------------------------
#: What the "browser" typed: distinctive expiry and CVC, looked for with digit boundaries.
EXP_MONTH, EXP_YEAR, CVC = 11, 2039, "947"
FORBIDDEN = [
    re.compile(r"4242424242424242"),
    re.compile(r"4000002500003155"),
    re.compile(r"4000000000000002"),
    re.compile(r"4242 4242 4242 4242"),
    re.compile(r"(?<![0-9a-fA-F])2039(?![0-9a-fA-F])"),  # the expiry year
    re.compile(r"(?<!\d)11\s*/\s*(20)?39(?!\d)"),  # 11/39, 11/2039
    re.compile(r"(?<![0-9a-fA-F])947(?![0-9a-fA-F])"),  # the CVC
    re.compile(r"\bcvc\b", re.IGNORECASE),
    re.compile(r"exp_(month|year)"),
]


def dump_sqlite(path: str) -> str:
    """Every row of every table of the SQLite file, as text."""
    out: list[str] = []
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            out.append(f"## {table}")
            out.extend(repr(row) for row in conn.execute(f'SELECT * FROM "{table}"'))
    return "\n".join(out)


async def test_no_card_number_cvc_or_expiry_anywhere(
    sqlite_db: Settings,
    client: SFTClient,
    localstripe: RunningLocalStripe,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    def token(number: str) -> str:
        return card_token(
            localstripe.base,
            number.replace(" ", ""),
            exp_month=EXP_MONTH,
            exp_year=EXP_YEAR,
            cvc=CVC,
        )

    from travelsim.services import checkout_payment, consent

    async def pay_with(user: User, checkout_id: str, number: str, keep: bool) -> PayOutcome:
        async with db.session() as s:
            return await checkout_payment.pay(
                s,
                get_provider(),
                checkout_id=checkout_id,
                user=user,
                card=checkout_payment.NewCard(await asyncio.to_thread(token, number)),
                device_confirmed=True,
                keep_card=keep,
                start_provisioning=None,
                acceptance=consent.Acceptance.given_now(),
            )

    # A declined card then a kept 4242, delivered; a 3-D Secure card passed; one failed.
    buyer = await add_user()
    chk = await open_checkout(buyer, client)
    assert (await pay_with(buyer, chk, CARD_DECLINED, False)).status == "declined"
    paid = await pay_with(buyer, chk, CARD_OK, True)
    assert paid.status == "paid" and paid.order_id
    order = await provisioning.run_order(paid.order_id, client=client, **FAST)
    assert order.status == "delivered"
    other = await add_user()
    chk3 = await open_checkout(other, client)
    pending = await pay_with(other, chk3, CARD_3DS, False)
    assert (await pass_3ds(other, pending, success=True)).status == "paid"
    third = await add_user()
    chk4 = await open_checkout(third, client)
    pending = await pay_with(third, chk4, CARD_3DS, False)
    assert (await pass_3ds(third, pending, success=False)).status == "declined"

    await db.async_engine().dispose()
    path = sqlite_db.sync_database_url.split("///", 1)[1]
    dumped = dump_sqlite(path)
    assert "4242" in dumped  # the last four digits are kept (saved card, payment)
    standard = set(vars(logging.LogRecord("x", 0, "", 0, "", None, None))) | {"message"}
    logged = caplog.text + "\n".join(
        repr({k: v for k, v in vars(r).items() if k not in standard})  # the ``extra`` fields
        for r in caplog.records
    )
    assert "payment authorised" in logged  # the payment path did log
    for where, text in (("database", dumped), ("logs", logged)):
        for pattern in FORBIDDEN:
            found = pattern.search(text)
            assert found is None, (where, pattern.pattern, text[max(0, found.start() - 80) :][:200])

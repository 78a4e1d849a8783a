"""Checkout and payment against real databases and the simulator over loopback."""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    CARD_3DS,
    CARD_DECLINED,
    CARD_OK,
    PRICE_MINOR,
    ProxyProvider,
    Sim,
    add_plan,
    add_user,
    buy,
    intent_of,
    pass_3ds,
    pay_checkout,
    sft_clients,
    sim_factory,
    stripe_get,
)
from sqlmodel import select

from travelsim import db
from travelsim.models import Checkout, Esim, Order, Payment, ProvisioningStep, User, utcnow
from travelsim.services import checkout, checkout_outcome, checkout_payment, inventory
from travelsim.services.payments import ChargeResult
from travelsim.settings import Settings
from travelsim.sft import SFTClient


async def open_checkout(user: User, client: SFTClient | None = None, **kw: object) -> str:
    async with db.session() as s:
        c = await checkout.start_checkout(
            s,
            user=user,
            plan_id="870101",
            destination="FR",
            client=client,
            **kw,  # type: ignore[arg-type]
        )
        return c.id


async def pay(
    user: User, checkout_id: str, card: str = CARD_OK, **kw: object
) -> checkout_outcome.PayOutcome:
    """Pay with a new card tokenised on localstripe; provisioning is not under test here:
    the payment starts none."""
    return await pay_checkout(user, checkout_id, card=card, **kw)  # type: ignore[arg-type]


async def confirm(user: User, checkout_id: str) -> checkout_outcome.PayOutcome:
    """The browser's return after 3-D Secure (``confirm_payment``) with no dialog done."""
    from travelsim.services.payments import get_provider

    async with db.session() as s:
        return await checkout_payment.confirm_payment(
            s, get_provider(), checkout_id=checkout_id, user=user, start_provisioning=None
        )


async def rows(model: type) -> list:  # type: ignore[type-arg]
    async with db.session() as s:
        return list((await s.exec(select(model))).all())


@pytest.fixture
async def client(
    sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> SFTClient:
    sim = sim_factory(esims=5)
    await add_plan()
    return sft_clients(sim.url)


async def test_successful_payment_creates_order_steps_and_assignment(
    any_db: Settings, client: SFTClient
) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    outcome = await pay(user, checkout_id)
    assert outcome.status == "paid" and not outcome.replayed
    assert outcome.order_reference is not None
    assert outcome.order_reference.startswith("TS-") and len(outcome.order_reference) == 9
    assert outcome.card_last4 == "4242"

    (payment,) = await rows(Payment)
    # Held, not charged: captured only when the eSIM is delivered.
    assert (payment.status, payment.idempotency_key, payment.amount_minor, payment.card_last4) == (
        "authorized",
        checkout_id,
        PRICE_MINOR,
        "4242",
    )
    assert payment.captured_at is None and payment.provider_ref
    pi = stripe_get(f"payment_intents/{payment.provider_ref}")
    assert (pi["status"], pi["amount"], pi["currency"]) == ("requires_capture", PRICE_MINOR, "eur")
    (order,) = await rows(Order)
    assert (order.id, order.status, order.payment_id, order.user_id) == (
        outcome.order_id,
        "paid",
        payment.id,
        user.id,
    )
    steps = sorted(await rows(ProvisioningStep), key=lambda s: s.seq)
    assert [(s.name, s.status, s.attempts) for s in steps] == [
        ("activate", "pending", 0),
        ("subscribe", "pending", 0),
        ("fetch_code", "pending", 0),
        ("deliver", "pending", 0),
    ]
    esim = next(e for e in await rows(Esim) if e.id == order.esim_id)
    assert (esim.state, esim.user_id, esim.destination) == ("assigned", user.id, "FR")
    (chk,) = await rows(Checkout)
    assert (chk.status, chk.device_confirmed) == ("paid", True)


async def test_declined_card_keeps_checkout_open_and_reservation(
    sqlite_db: Settings, client: SFTClient
) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    outcome = await pay(user, checkout_id, CARD_DECLINED)
    assert (outcome.status, outcome.error_code) == ("declined", "card_declined")
    assert "declined" in outcome.message.lower()
    (payment,) = await rows(Payment)
    # Refused when the card was added to the traveler's Stripe Customer: no PaymentIntent.
    assert (payment.status, payment.failure_reason, payment.provider_ref) == (
        "declined",
        "card_declined",
        None,
    )
    assert await rows(Order) == []
    (chk,) = await rows(Checkout)
    assert chk.status == "open"
    reserved = [e for e in await rows(Esim) if e.state == "reserved"]
    assert [e.checkout_id for e in reserved] == [checkout_id]

    # Another card works: a new attempt, a new idempotency key, one order.
    outcome = await pay(user, checkout_id, CARD_OK)
    assert outcome.status == "paid"
    payments = sorted(await rows(Payment), key=lambda p: p.id)
    assert [(p.status, p.idempotency_key) for p in payments] == [
        ("declined", checkout_id),
        ("authorized", f"{checkout_id}:2"),
    ]
    assert len(await rows(Order)) == 1


async def test_requires_action_then_confirm(sqlite_db: Settings, client: SFTClient) -> None:
    """3-D Secure: the PaymentIntent waits in ``requires_action``; the browser runs the
    bank's dialog (Stripe.js ``confirmCardPayment``; here ``authenticate_3ds``) and returns
    through ``confirm_payment``. A failed dialog declines the attempt, a later one passes."""
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    outcome = await pay(user, checkout_id, CARD_3DS)
    assert outcome.status == "requires_action" and outcome.requires_action
    assert outcome.client_secret
    async with db.session() as s:
        assert await checkout.pending_action(s, checkout_id) is True
    # A reload/double click while the step is pending asks for it again; no new charge.
    again = await pay(user, checkout_id, CARD_3DS)
    assert (again.status, again.replayed, again.payment_id) == (
        "requires_action",
        True,
        outcome.payment_id,
    )
    # Coming back without passing the dialog changes nothing.
    still = await confirm(user, checkout_id)
    assert (still.status, still.payment_id) == ("requires_action", outcome.payment_id)
    wrong = await pass_3ds(user, again, success=False)
    assert wrong.status == "declined" and wrong.error_code
    assert "nothing was charged" in wrong.message.lower()
    with pytest.raises(checkout.CheckoutError) as exc:
        await confirm(user, checkout_id)
    assert exc.value.code == "no_pending_payment"

    outcome = await pay(user, checkout_id, CARD_3DS)
    assert outcome.status == "requires_action"
    done = await pass_3ds(user, outcome, success=True)
    assert done.status == "paid" and done.order_id
    replay = await confirm(user, checkout_id)
    assert (replay.status, replay.order_id, replay.replayed) == ("paid", done.order_id, True)
    payments = sorted(await rows(Payment), key=lambda p: p.id)
    assert [p.status for p in payments] == ["declined", "authorized"]
    assert stripe_get(f"payment_intents/{payments[0].provider_ref}")["status"] != (
        "requires_capture"
    )
    assert stripe_get(f"payment_intents/{payments[1].provider_ref}")["status"] == (
        "requires_capture"
    )
    assert len(await rows(Order)) == 1


async def test_double_pay_charges_once(any_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    first, second = await asyncio.gather(pay(user, checkout_id), pay(user, checkout_id))
    statuses = sorted([first.status, second.status])
    # The loser of the race sees the winner's payment (processing or already paid).
    assert statuses in (["paid", "paid"], ["paid", "processing"])
    third = await pay(user, checkout_id)  # reload after success
    assert (third.status, third.replayed) == ("paid", True)
    (payment,) = await rows(Payment)
    assert payment.status == "authorized"
    (order,) = await rows(Order)
    assert third.order_id == order.id
    assert len([e for e in await rows(Esim) if e.state == "assigned"]) == 1


class SlowProvider(ProxyProvider):
    """localstripe, with the hold made slower to widen the race window."""

    async def authorize(self, **kwargs: object) -> ChargeResult:
        await asyncio.sleep(0.05)
        return await super().authorize(**kwargs)


async def test_many_concurrent_clicks_one_charge(any_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    provider = SlowProvider()
    outcomes = await asyncio.gather(*(pay(user, checkout_id, provider=provider) for _ in range(5)))
    assert provider.calls["authorize"] == 1
    assert {o.status for o in outcomes} <= {"paid", "processing"}
    assert len(await rows(Payment)) == 1
    assert len(await rows(Order)) == 1


async def test_another_users_checkout_is_not_found(sqlite_db: Settings, client: SFTClient) -> None:
    owner, intruder = await add_user(), await add_user()
    checkout_id = await open_checkout(owner, client)
    with pytest.raises(checkout.CheckoutError) as exc:
        await pay(intruder, checkout_id)
    assert exc.value.code == "not_found"
    with pytest.raises(checkout.CheckoutError) as exc:
        await confirm(intruder, checkout_id)
    assert exc.value.code == "not_found"
    with pytest.raises(checkout.CheckoutError) as exc:
        async with db.session() as s:
            await checkout_outcome.payment_outcome(s, checkout_id=checkout_id, user=intruder)
    assert exc.value.code == "not_found"
    assert await rows(Payment) == []
    # Even after the owner paid, the intruder learns nothing.
    assert (await pay(owner, checkout_id)).status == "paid"
    with pytest.raises(checkout.CheckoutError) as exc:
        await pay(intruder, checkout_id)
    assert exc.value.code == "not_found"


async def test_device_confirmation_is_required(sqlite_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    with pytest.raises(checkout.CheckoutError) as exc:
        await pay(user, checkout_id, device_confirmed=False)
    assert exc.value.code == "confirm_device"
    assert await rows(Payment) == []


async def test_unknown_or_unsellable_plan(sqlite_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    await add_plan("870102", on_sale=False)
    for plan_id in ("870102", "999999"):
        async with db.session() as s:
            with pytest.raises(checkout.CheckoutError) as exc:
                await checkout.start_checkout(s, user=user, plan_id=plan_id, destination="FR")
        assert exc.value.code == "unknown_plan"
    async with db.session() as s:
        with pytest.raises(checkout.CheckoutError) as exc:
            await checkout.start_checkout(s, user=user, plan_id="870101", destination="JP")
    assert exc.value.code == "bad_destination"
    assert await rows(Checkout) == []


async def test_sold_out_before_any_charge(
    any_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    users = [await add_user() for _ in range(3)]
    # The pool starts empty: the first checkout refills it from SFT (2 eSIMs).
    first = await open_checkout(users[0], client)
    second = await open_checkout(users[1], client)
    with pytest.raises(checkout.CheckoutError) as exc:
        await open_checkout(users[2], client)
    assert exc.value.code == "sold_out"
    chk = {c.user_id: c for c in await rows(Checkout)}
    third = chk[users[2].id]
    assert (third.status, third.esim_id) == ("sold_out", None)
    # Paying a sold-out checkout charges nothing.
    with pytest.raises(checkout.CheckoutError) as exc:
        await pay(users[2], third.id)
    assert exc.value.code == "sold_out"
    assert await rows(Payment) == []
    assert {first, second} == {c.id for c in chk.values() if c.status == "open"}


async def test_lapsed_reservation_is_retaken_or_sold_out(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=1)
    client = sft_clients(sim.url)
    await add_plan()
    slow, fast = await add_user(), await add_user()
    slow_checkout = await open_checkout(slow, client)
    # The slow buyer's reservation lapses and the eSIM goes to somebody else.
    async with db.session() as s:
        await inventory.release_expired(s, utcnow() + timedelta(hours=1))
    fast_checkout = await open_checkout(fast, client)
    assert (await pay(fast, fast_checkout)).status == "paid"
    with pytest.raises(checkout.CheckoutError) as exc:
        await pay(slow, slow_checkout)
    assert exc.value.code == "sold_out"
    payments = await rows(Payment)
    assert [p.checkout_id for p in payments] == [fast_checkout]  # the slow one: no charge
    chk = {c.id: c.status for c in await rows(Checkout)}
    assert chk == {slow_checkout: "sold_out", fast_checkout: "paid"}


async def test_lapsed_reservation_still_free_is_kept(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    async with db.session() as s:
        assert await inventory.release_expired(s, utcnow() + timedelta(hours=1)) == 1
    outcome = await pay(user, checkout_id)
    assert outcome.status == "paid"
    assigned = [e for e in await rows(Esim) if e.state == "assigned"]
    assert [e.user_id for e in assigned] == [user.id]


class StealingProvider(ProxyProvider):
    """While the amount is being held at localstripe, the reservation lapses and another
    buyer takes the last eSIM (the race the final compare-and-set assignment must catch)."""

    def __init__(self, thief: User, client: SFTClient) -> None:
        super().__init__()
        self.thief, self.client = thief, client

    async def authorize(self, **kwargs: object) -> ChargeResult:
        result = await super().authorize(**kwargs)
        async with db.session() as s:
            await inventory.release_expired(s, utcnow() + timedelta(hours=2))
        await open_checkout(self.thief, self.client)
        return result


async def test_esim_lost_during_charge_voids_the_payment(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=1)
    client = sft_clients(sim.url)
    await add_plan()
    buyer, thief = await add_user(), await add_user()
    checkout_id = await open_checkout(buyer, client)
    with pytest.raises(checkout.CheckoutError) as exc:
        await pay(buyer, checkout_id, provider=StealingProvider(thief, client))
    assert exc.value.code == "sold_out"
    (payment,) = await rows(Payment)
    assert payment.status == "voided"
    # The hold is released at Stripe: the traveler is not charged.
    assert stripe_get(f"payment_intents/{payment.provider_ref}")["status"] == "canceled"
    assert await rows(Order) == []
    (esim,) = await rows(Esim)
    assert esim.state == "reserved" and esim.checkout_id != checkout_id


async def test_device_confirmed_at_start_is_remembered(
    sqlite_db: Settings, client: SFTClient
) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client, device_confirmed=True)
    outcome = await pay(user, checkout_id, device_confirmed=False)
    assert outcome.status == "paid"
    async with db.session() as s:
        assert (await checkout.order_for_checkout(s, checkout_id)) is not None
        assert await checkout.pending_action(s, checkout_id) is False


async def test_card_number_is_never_stored(sqlite_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    await pay(user, checkout_id, CARD_DECLINED)
    await pay(user, checkout_id, CARD_OK)
    assert await intent_of((await rows(Payment))[-1].id)
    path = sqlite_db.sync_database_url.split("///", 1)[1]
    await db.async_engine().dispose()
    blob = open(path, "rb").read()
    for wal in (path + "-wal",):
        try:
            blob += open(wal, "rb").read()
        except FileNotFoundError:
            pass
    for number in ("4242424242424242", "4000000000000002", "4242 4242 4242 4242", "12/35"):
        assert number.encode() not in blob

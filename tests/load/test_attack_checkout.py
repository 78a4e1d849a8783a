"""Attack: stale checkouts paid at an old price or after a staff suspension, a checkout
charged another amount, one traveler holding the whole eSIM pool, a "sold out" storm
spending the platform budget on refills.

Real parts only: the SFT simulator on a loopback socket (``checkout_support.sim_factory``),
the portal's SFT client, a migrated SQLite file (PostgreSQL too for the parallel starts,
``any_db``), Stripe as the session's localstripe over HTTP. Each probe asserts what the
attacker gets: the error code and message, the payment and order rows, the eSIM rows, and
the simulator's own records (endpoint status, the calls it received).
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    PLAN_ID,
    ProxyProvider,
    Sim,
    add_plan,
    add_user,
    buy,
    card_token,
    pay_checkout,
    sft_clients,
    sim_factory,
    stripe_get,
)
from sqlalchemy import update
from sqlmodel import col, select

from tests.harness import REDIS_URL, redis_client
from tests.stripe_support import CARD_OK, RunningLocalStripe
from travelsim import db
from travelsim.models import (
    Checkout,
    CheckoutStatus,
    Esim,
    InventoryState,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Plan,
    PurchaseKind,
    User,
    utcnow,
)
from travelsim.services import (
    checkout,
    checkout_payment,
    inventory,
    provisioning,
    rate_limits,
    usage_sync,
)
from travelsim.services.admin.esims import staff_lifecycle
from travelsim.services.jobs import runs
from travelsim.services.jobs.metering import RunStats
from travelsim.services.payments import ChargeResult, get_provider
from travelsim.settings import Settings, get_settings
from travelsim.sft import SFTClient
from travelsim.sft.models import Priority

FAST = {"backoff": (0.01,)}


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """The test database's settings with ``env`` on top (mode set explicitly: test)."""
    monkeypatch.setenv("APP_ENV", "test")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return get_settings()


async def _rows(model: Any, *where: Any) -> list[Any]:
    async with db.session() as s:
        return list((await s.exec(select(model).where(*where))).all())


async def _open(user: User, plan_id: str = PLAN_ID, **kw: Any) -> Checkout:
    async with db.session() as s:
        return await checkout.start_checkout(
            s, user=user, plan_id=plan_id, destination="FR", device_confirmed=True, **kw
        )


async def _pay(user: User, checkout_id: str, **kw: Any) -> Any:
    return await pay_checkout(user, checkout_id, **kw)


async def _staff_edits_plan(**values: Any) -> None:
    async with db.session() as s:
        await s.execute(update(Plan).where(col(Plan.plan_id) == PLAN_ID).values(**values))
        await s.commit()


async def _delivered_esim(user: User, client: SFTClient) -> Esim:
    outcome = await buy(user, client)
    assert outcome.status == "paid" and outcome.order_id
    order = await provisioning.run_order(outcome.order_id, client=client, **FAST)
    assert order.status == OrderStatus.DELIVERED
    async with db.session() as s:
        esim = await s.get(Esim, order.esim_id)
    assert esim is not None
    return esim


# --- item 3: stale checkouts -----------------------------------------------------------------
async def test_probe_paid_after_price_change_and_off_sale(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """Open at €9.90; staff moves the plan to €999 and takes it off sale; pay → refused,
    no payment row, no order. Back on sale at €999: pay → "price changed", still nothing
    charged; the traveler re-confirms and pays €999.00, never €9.90."""
    sim = sim_factory(esims=3)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()
    opened = await _open(user, client=client)
    await _staff_edits_plan(price_minor=99_900, on_sale=False)

    with pytest.raises(checkout.CheckoutError) as off_sale:
        await _pay(user, opened.id)
    assert off_sale.value.code == "unknown_plan"
    assert await _rows(Payment) == [] and await _rows(Order) == []

    await _staff_edits_plan(on_sale=True)
    with pytest.raises(checkout.CheckoutError) as changed:
        await _pay(user, opened.id)
    assert changed.value.code == "price_changed"
    assert "€9.90" in changed.value.message and "€999.00" in changed.value.message
    assert await _rows(Payment) == [] and await _rows(Order) == []

    async with db.session() as s:
        await checkout.reconfirm_price(s, checkout_id=opened.id, user=user)
    outcome = await _pay(user, opened.id)
    assert outcome.status == "paid"
    [payment] = await _rows(Payment)
    assert (payment.amount_minor, payment.status) == (99_900, PaymentStatus.AUTHORIZED)
    held = stripe_get(f"payment_intents/{payment.provider_ref}")
    assert (held["amount"], held["currency"], held["status"]) == (99_900, "eur", "requires_capture")


async def test_probe_topup_paid_after_staff_suspension(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """A top-up opened, then staff suspends the endpoint (mirrored by the admin's sync):
    pay → refused "suspended by staff", nothing charged, the endpoint still Suspended."""
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()
    esim = await _delivered_esim(user, client)
    opened = await _open(user, kind=PurchaseKind.TOPUP, esim_id=esim.id)
    await staff_lifecycle(client, esim.endpoint_id, suspend=True)
    assert esim.id is not None
    await usage_sync.sync_esims(client, [esim.id], priority=Priority.SYNC)
    sim.clear_calls()

    with pytest.raises(checkout.CheckoutError) as refused:
        await _pay(user, opened.id)
    assert refused.value.code == "suspended_by_staff"
    assert "suspended by our team" in refused.value.message
    assert len(await _rows(Payment)) == 1  # the first purchase's only
    assert sim.endpoint_status(esim.endpoint_id) == "Suspended"
    assert sim.calls("endpointlifecyclechange") == []


async def test_probe_provisioning_never_resumes_staff_suspension(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """A top-up paid, then staff suspends the endpoint before provisioning runs (the portal
    has not mirrored it yet): provisioning stops at needs-attention and never sends a
    resume; the simulator's endpoint stays Suspended and gets no add-on."""
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()
    esim = await _delivered_esim(user, client)
    opened = await _open(user, kind=PurchaseKind.TOPUP, esim_id=esim.id)
    outcome = await _pay(user, opened.id)
    assert outcome.status == "paid" and outcome.order_id
    await staff_lifecycle(client, esim.endpoint_id, suspend=True)
    sim.clear_calls()

    order = await provisioning.run_order(outcome.order_id, client=client, **FAST)

    assert order.status == OrderStatus.NEEDS_ATTENTION
    assert "suspended by staff" in (order.last_error or "")
    assert sim.endpoint_status(esim.endpoint_id) == "Suspended"
    assert sim.calls("endpointlifecyclechange") == []
    assert sim.calls("subscribeaddon") == []
    [payment] = await _rows(Payment, col(Payment.id) == order.payment_id)
    assert payment.status == PaymentStatus.VOIDED  # the traveler is not charged for nothing
    assert stripe_get(f"payment_intents/{payment.provider_ref}")["status"] == "canceled"


async def test_probe_checkout_older_than_ttl(
    sqlite_db: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A checkout older than CHECKOUT_TTL_MINUTES (its eSIM reservation still running):
    pay → "expired", nothing charged, its eSIM free again; another stale one is expired by
    the recovery job without anyone touching it."""
    settings = _settings(monkeypatch, CHECKOUT_TTL_MINUTES="30")
    sim = sim_factory(esims=3)
    client = sft_clients(sim.url)
    await add_plan()
    assert await _seed(client) == 3
    user, other = await add_user(), await add_user()
    long_ago = utcnow() - timedelta(minutes=settings.checkout_ttl_minutes + 1)
    stale = await _open(user, now=long_ago, reservation_minutes=240)
    untouched = await _open(other, now=long_ago, reservation_minutes=240)
    assert stale.esim_id is not None and untouched.esim_id is not None

    with pytest.raises(checkout.CheckoutError) as expired:
        await _pay(user, stale.id)
    assert expired.value.code == "expired"
    assert await _rows(Payment) == [] and await _rows(Order) == []
    [row] = await _rows(Checkout, col(Checkout.id) == stale.id)
    assert row.status == CheckoutStatus.EXPIRED
    [esim] = await _rows(Esim, col(Esim.id) == stale.esim_id)
    assert (esim.state, esim.checkout_id) == (InventoryState.FREE, None)

    stats = RunStats()
    await runs.run_recovery(client, stats)
    assert stats.detail["expired"] == 1
    [row] = await _rows(Checkout, col(Checkout.id) == untouched.id)
    assert row.status == CheckoutStatus.EXPIRED
    [esim] = await _rows(Esim, col(Esim.id) == untouched.esim_id)
    assert esim.state == InventoryState.FREE


def _hold_elsewhere(localstripe: RunningLocalStripe, amount_minor: int) -> str:
    """A real manual-capture PaymentIntent for ``amount_minor`` EUR at localstripe, made
    outside the portal (the attacker's own Stripe call with a leaked or guessed key, or a
    PaymentIntent edited in the dashboard): its id."""
    stripe_client = localstripe.client()
    customer = stripe_client.v1.customers.create(params={"email": "attacker@example.com"})
    card = stripe_client.v1.customers.payment_sources.create(
        customer.id, params={"source": card_token(CARD_OK, localstripe.base)}
    )
    pi = stripe_client.v1.payment_intents.create(
        params={
            "amount": amount_minor,
            "currency": "eur",
            "customer": customer.id,
            "payment_method": card.id,
            "capture_method": "manual",
            "confirm": True,
        }
    )
    assert pi.status == "requires_capture"
    return str(pi.id)


async def test_probe_fulfilment_of_another_amount(
    sqlite_db: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    localstripe: RunningLocalStripe,
) -> None:
    """A hold of 1 cent at Stripe reaches fulfilment of a €9.90 checkout: the order is
    written for staff as needs-attention, provisioning is never started, the simulator gets
    no lifecycle change or add-on; the payment row is kept with the amount Stripe holds
    (read from Stripe, not believed from the row), and nothing is captured."""
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()
    opened = await _open(user, client=client)
    ref = _hold_elsewhere(localstripe, 1)
    async with db.session() as s:
        s.add(
            Payment(
                checkout_id=opened.id,
                idempotency_key=opened.id,
                provider="stripe",
                provider_ref=ref,
                amount_minor=990,  # the row claims the right amount; Stripe holds 1 cent
                currency="EUR",
                status=PaymentStatus.PROCESSING,
            )
        )
        await s.commit()
    # Stripe's answer for that PaymentIntent arrives (webhook, browser return or status read).
    async with db.session() as s:
        await checkout_payment.settle_payment_intent(
            s, get_provider(), ref, start_provisioning=None
        )
    started: list[str] = []
    sim.clear_calls()

    outcome = await _pay(user, opened.id, start_provisioning=started.append)

    [order] = await _rows(Order)
    assert order.status == OrderStatus.NEEDS_ATTENTION
    assert "amount" in (order.last_error or "")
    assert started == []
    assert outcome.order_id == order.id
    assert [p.amount_minor for p in await _rows(Payment)] == [1]
    order = await provisioning.run_order(order.id, client=client, **FAST)
    assert order.status == OrderStatus.NEEDS_ATTENTION
    assert sim.calls("endpointlifecyclechange") == [] and sim.calls("subscribeaddon") == []
    assert stripe_get(f"payment_intents/{ref}")["status"] == "requires_capture"  # not charged


class OneCentProvider(ProxyProvider):
    """localstripe, but the PaymentIntent is made for 1 cent whatever the portal asks (a
    Stripe account rule, a proxy or a bug between the portal and Stripe): the portal must go
    by what Stripe says it holds."""

    async def authorize(self, **kwargs: Any) -> ChargeResult:
        kwargs["amount_minor"] = 1
        return await super().authorize(**kwargs)


async def test_probe_pay_answered_with_another_amount(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """Pay a €9.90 checkout, Stripe answers "held" for 1 cent: the order is written for staff
    as needs-attention with the amount Stripe holds, provisioning is never started."""
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()
    opened = await _open(user, client=client)
    started: list[str] = []
    sim.clear_calls()

    outcome = await _pay(
        user, opened.id, provider=OneCentProvider(), start_provisioning=started.append
    )

    [order] = await _rows(Order)
    assert outcome.order_id == order.id
    assert order.status == OrderStatus.NEEDS_ATTENTION and "amount" in (order.last_error or "")
    assert (order.amount_minor, started) == (1, [])
    [payment] = await _rows(Payment)
    assert (payment.amount_minor, payment.status) == (1, PaymentStatus.AUTHORIZED)
    held = stripe_get(f"payment_intents/{payment.provider_ref}")
    assert (held["amount"], held["status"]) == (1, "requires_capture")
    assert sim.calls("endpointlifecyclechange") == [] and sim.calls("subscribeaddon") == []


# --- item 5: one account and the pool --------------------------------------------------------
async def _seed(client: SFTClient) -> int:
    async with db.session() as s:
        return await inventory.refill_pool(client, s)


async def test_probe_one_traveler_starts_200_checkouts(
    sqlite_db: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One traveler starts 200 checkouts across 10 plans against a pool of 20: at most
    MAX_OPEN_CHECKOUTS (2) eSIMs are held, every other start is refused with a clear
    message (too many open, then the start rate limit), and 18 eSIMs stay free."""
    _settings(monkeypatch, MAX_OPEN_CHECKOUTS="2")
    await rate_limits.reset_all()
    sim = sim_factory(esims=20)
    client = sft_clients(sim.url)
    plans = [str(870101 + i) for i in range(10)]
    for plan_id in plans:
        await add_plan(plan_id)
    assert await _seed(client) == 20
    user = await add_user()

    codes: list[str] = []
    for i in range(200):
        try:
            await _open(user, plans[i % len(plans)], client=client, client_ip="203.0.113.7")
            codes.append("ok")
        except checkout.CheckoutError as exc:
            codes.append(exc.code)
            assert exc.message and exc.message != exc.code

    held = await _rows(Esim, col(Esim.state) == InventoryState.RESERVED)
    assert len(held) == 2
    assert len(await _rows(Checkout, col(Checkout.status) == CheckoutStatus.OPEN)) == 2
    assert set(codes) == {"ok", "too_many_open", "rate_limited"}
    async with db.session() as s:
        assert await inventory.free_count(s) == 18


async def test_probe_two_parallel_starts_with_one_open(
    any_db: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A traveler with 1 open checkout starts two others at the same moment (two plans):
    exactly one succeeds, the other hears "too many open"; 2 eSIMs held (SQLite and
    PostgreSQL)."""
    _settings(monkeypatch, MAX_OPEN_CHECKOUTS="2")
    sim = sim_factory(esims=6)
    client = sft_clients(sim.url)
    for plan_id in ("870101", "870102", "870103"):
        await add_plan(plan_id)
    assert await _seed(client) == 6
    user = await add_user()
    await _open(user, "870101")

    async def start(plan_id: str) -> str:
        try:
            await _open(user, plan_id)
        except checkout.CheckoutError as exc:
            return exc.code
        return "ok"

    answers = await asyncio.gather(start("870102"), start("870103"))

    assert sorted(answers) == ["ok", "too_many_open"]
    assert len(await _rows(Checkout, col(Checkout.status) == CheckoutStatus.OPEN)) == 2
    assert len(await _rows(Esim, col(Esim.state) == InventoryState.RESERVED)) == 2
    await db.async_engine().dispose()


async def test_probe_sold_out_storm_costs_one_refill(
    sqlite_db: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """50 travelers start at once on an empty pool (the platform has no free eSIM either):
    all hear "sold out" and the simulator saw ONE inventory listing (fetchSIM), not 50."""
    _settings(monkeypatch, POOL_REFILL_INTERVAL_SECONDS="60")
    await rate_limits.reset_all()
    sim = sim_factory(esims=0)
    client = sft_clients(sim.url)
    await add_plan()
    users = [await add_user() for _ in range(50)]
    sim.clear_calls()

    async def start(user: User) -> str:
        try:
            await _open(user, client=client)
        except checkout.CheckoutError as exc:
            return exc.code
        return "ok"

    answers = await asyncio.gather(*(start(u) for u in users))

    assert answers == ["sold_out"] * 50
    assert len(sim.calls("fetchsim")) == 1


_WORKER = """
import asyncio
from travelsim.services import checkout_guard

async def main() -> int:
    return sum([await checkout_guard.refill_allowed() for _ in range(25)])

print(asyncio.run(main()))
"""


@pytest.mark.redis
def test_probe_refill_debounce_holds_across_workers(tmp_path: Path) -> None:
    """Two worker processes sharing Redis each ask 25 times to refill the empty pool at the
    same moment: ONE refill is allowed in total, not one per worker."""
    client = redis_client()
    for key in client.scan_iter(match="*pool_refill*"):
        client.delete(key)
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATA_DIR": str(tmp_path),
        "REDIS_URL": REDIS_URL,
        "POOL_REFILL_INTERVAL_SECONDS": "60",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    allowed = [int(w.communicate(timeout=60)[0].strip()) for w in workers]
    assert sum(allowed) == 1, allowed

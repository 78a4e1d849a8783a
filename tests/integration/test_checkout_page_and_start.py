"""What the checkout page shows for the checkout in its URL (``checkout.checkout_page``), and the
payment service starting a paid order's provisioning once its order is committed (the page only
watches: docs/architecture.md#one-purchase-click-to-qr)."""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    CARD_3DS,
    CARD_DECLINED,
    CARD_OK,
    PLAN_ID,
    Sim,
    add_plan,
    add_user,
    pass_3ds,
    pay_checkout,
    sft_clients,
    sim_factory,
)
from sqlalchemy import text

from travelsim import db
from travelsim.models import Checkout, Esim, User
from travelsim.services import checkout, checkout_payment, platform
from travelsim.services.checkout_outcome import PayOutcome
from travelsim.services.payments import get_provider
from travelsim.settings import Settings
from travelsim.sft import SFTClient


class StartRecorder:
    """Stands for ``platform.ensure_provisioning``: records the order ids it is given and, at
    that moment, whether another connection already sees the order committed as ``paid``."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.committed: list[bool] = []

    def __call__(self, order_id: str) -> bool:
        self.started.append(order_id)
        engine = db.sync_engine()
        try:
            with engine.connect() as conn:
                status = conn.execute(
                    text("SELECT status FROM purchase_order WHERE id = :id"), {"id": order_id}
                ).scalar_one_or_none()
        finally:
            engine.dispose()
        self.committed.append(status == "paid")
        return True


@pytest.fixture
async def client(
    sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> SFTClient:
    sim = sim_factory(esims=5)
    await add_plan()
    return sft_clients(sim.url)


async def open_checkout(user: User, client: SFTClient | None, **kw: object) -> str:
    async with db.session() as s:
        c = await checkout.start_checkout(
            s,
            user=user,
            plan_id=PLAN_ID,
            destination="FR",
            client=client,
            **kw,  # type: ignore[arg-type]
        )
        return c.id


async def pay(user: User, checkout_id: str, card: str, start: StartRecorder | None) -> PayOutcome:
    return await pay_checkout(user, checkout_id, card=card, start_provisioning=start)


async def confirm(
    user: User, pending: PayOutcome, success: bool | None, start: StartRecorder
) -> PayOutcome:
    """The browser after ``requires_action``: the 3-D Secure dialog passed or failed, then
    ``confirm_payment``; ``success=None``: only the return (a reload after the dialog)."""
    if success is not None:
        return await pass_3ds(user, pending, success=success, start_provisioning=start)
    async with db.session() as s:
        return await checkout_payment.confirm_payment(
            s,
            get_provider(),
            checkout_id=pending.checkout_id,
            user=user,
            start_provisioning=start,
        )


async def page(checkout_id: str, user: User, plan_id: str = PLAN_ID) -> checkout.CheckoutPage:
    assert user.id is not None
    async with db.session() as s:
        return await checkout.checkout_page(
            s, checkout_id=checkout_id, user_id=user.id, plan_id=plan_id
        )


# --- provisioning is started by the payment service ------------------------------------------
def test_payments_start_provisioning_by_default() -> None:
    for call in (checkout_payment.pay, checkout_payment.confirm_payment):
        default = inspect.signature(call).parameters["start_provisioning"].default
        assert default is platform.ensure_provisioning, call


async def test_paying_starts_the_committed_order_once(any_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    start = StartRecorder()
    outcome = await pay(user, checkout_id, CARD_OK, start)
    assert outcome.status == "paid" and outcome.order_id
    assert (start.started, start.committed) == ([outcome.order_id], [True])
    # A reload or a second click replays the order: it is not started again.
    again = await pay(user, checkout_id, CARD_OK, start)
    assert (again.status, again.replayed, again.order_id) == ("paid", True, outcome.order_id)
    assert start.started == [outcome.order_id]


async def test_no_order_no_start_until_3ds_is_passed(
    sqlite_db: Settings, client: SFTClient
) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    start = StartRecorder()
    assert (await pay(user, checkout_id, CARD_DECLINED, start)).status == "declined"
    pending = await pay(user, checkout_id, CARD_3DS, start)
    assert pending.status == "requires_action"
    assert (await confirm(user, pending, False, start)).status == "declined"
    assert start.started == []
    pending = await pay(user, checkout_id, CARD_3DS, start)
    assert pending.status == "requires_action"
    done = await confirm(user, pending, True, start)
    assert done.status == "paid" and done.order_id
    assert (start.started, start.committed) == ([done.order_id], [True])
    replay = await confirm(user, pending, None, start)
    assert (replay.order_id, replay.replayed) == (done.order_id, True)
    assert start.started == [done.order_id]


# --- what the checkout page shows ------------------------------------------------------------
async def test_checkout_page_follows_the_checkout(sqlite_db: Settings, client: SFTClient) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    shown = await page(checkout_id, user)
    assert (shown.found, shown.open, shown.step, shown.checkout_id, shown.destination) == (
        True,
        True,
        "pay",
        checkout_id,
        "FR",
    )
    assert (shown.order_id, shown.target, shown.closed_status) == (None, None, None)
    pending = await pay(user, checkout_id, CARD_3DS, None)
    assert pending.status == "requires_action"
    assert (await page(checkout_id, user)).step == "action"
    paid = await confirm(user, pending, True, StartRecorder())
    shown = await page(checkout_id, user)
    assert (shown.found, shown.order_id, shown.open) == (True, paid.order_id, False)


async def test_checkout_page_of_a_closed_checkout_names_its_status(
    sqlite_db: Settings, client: SFTClient
) -> None:
    user = await add_user()
    checkout_id = await open_checkout(user, client)
    async with db.session() as s:
        row = await s.get(Checkout, checkout_id)
        assert row is not None
        row.status = "expired"
        s.add(row)
        await s.commit()
    shown = await page(checkout_id, user)
    assert (shown.found, shown.open, shown.closed_status, shown.order_id) == (
        True,
        False,
        "expired",
        None,
    )


async def test_checkout_page_never_shows_another_travelers_checkout(
    sqlite_db: Settings, client: SFTClient
) -> None:
    owner, other = await add_user(), await add_user()
    checkout_id = await open_checkout(owner, client)
    assert (await page(checkout_id, other)).found is False
    assert (await page(checkout_id, owner, plan_id="870102")).found is False
    assert (await page("no-such-checkout", owner)).found is False
    assert (await pay(owner, checkout_id, CARD_OK, None)).status == "paid"
    assert await page(checkout_id, other) == checkout.CheckoutPage(found=False)


async def test_top_up_checkout_page_names_the_esim_while_it_is_the_travelers(
    sqlite_db: Settings, client: SFTClient
) -> None:
    user, other = await add_user(), await add_user()
    first = await pay(user, await open_checkout(user, client), CARD_OK, None)
    assert first.status == "paid"
    async with db.session() as s:
        order_checkout = await s.get(Checkout, first.checkout_id)
        assert order_checkout is not None and order_checkout.esim_id is not None
        esim_id = order_checkout.esim_id
    topup_id = await open_checkout(user, client, kind="topup", esim_id=esim_id)
    shown = await page(topup_id, user)
    assert shown.found and shown.open and shown.target is not None
    assert shown.target.id == esim_id
    # The eSIM is no longer this traveler's: the top-up checkout is not found.
    async with db.session() as s:
        esim = await s.get(Esim, esim_id)
        assert esim is not None
        esim.user_id = other.id
        s.add(esim)
        await s.commit()
    assert (await page(topup_id, user)).found is False

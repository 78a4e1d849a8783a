"""Checkout and payment: reserve an eSIM, charge once, create the order.

A :class:`~travelsim.models.Checkout` is one purchase attempt; its id is the idempotency key of
everything after it (docs/business-rules.md#one-payment-per-checkout): one checkout → at most one
successful payment → at most one order. The sequence:

1. :func:`start_checkout` checks the plan is sellable and reserves a free eSIM in the portal
   database (``inventory.reserve``: compare-and-set, never SFT's "first free SIM",
   docs/business-rules.md#esim-reservation). No free eSIM, even after one refill from SFT → checkout
   ``sold_out`` and ``CheckoutError("sold_out")`` before any charge. One traveler and plan have at
   most one ``open`` checkout: a second start (double click, second tab, going back) returns the
   open one and keeps its single eSIM reservation; concurrent starts of one traveler are serialised
   by a lock on the traveler's row (:func:`_lock_traveler`); an unpaid open checkout at an old price
   is cancelled (docs/business-rules.md#one-open-checkout).
2. :func:`pay` re-checks ownership and the device confirmation, keeps (or re-takes) the
   reservation for the payment window, inserts a ``Payment`` row in status ``processing`` under
   a unique idempotency key (the checkout id; ``<checkout id>:<n>`` for the n-th attempt after
   declines), then charges. Two concurrent calls compute the same key: the unique constraint
   lets one through and the other returns the first one's state. A succeeded charge creates, in
   ONE transaction, the ``Order`` (reference ``TS-XXXXXX``), its ``ProvisioningStep`` rows, the
   eSIM assignment and the checkout's ``paid`` status; normally the payment's ``succeeded``
   is part of that transaction too (if the order cannot be written, the payment is recorded
   alone first, then the order is retried or the charge voided).
3. ``requires_action`` → the UI asks for the code and calls :func:`confirm_payment`.
4. Declined → the checkout stays ``open`` with a clear message; the reservation runs on until
   it expires.

Nothing here calls SFT except the pool refill; provisioning is ``provisioning.run_order``,
started by the caller after a ``paid`` outcome.

Payment statuses used here: ``processing`` (row claimed, provider answer pending; not in the
``Payment`` docstring yet), ``requires_action``, ``succeeded``, ``declined``, ``voided``.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import Checkout, Esim, Order, Payment, Plan, ProvisioningStep, User, utcnow
from travelsim.services import inventory
from travelsim.services.payments import (
    Card,
    ChargeResult,
    PaymentProvider,
    PaymentProviderError,
    failure_message,
)
from travelsim.settings import get_settings
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTError

__all__ = [
    "NEW_ESIM_STEPS",
    "TOPUP_STEPS",
    "CheckoutError",
    "PayOutcome",
    "confirm_payment",
    "new_reference",
    "order_for_checkout",
    "pay",
    "payment_outcome",
    "pending_action",
    "start_checkout",
]

log = logging.getLogger(__name__)

#: Provisioning steps created with an order, in order (``provisioning.run_order`` runs them).
NEW_ESIM_STEPS: tuple[str, ...] = ("activate", "subscribe", "fetch_code", "deliver")
TOPUP_STEPS: tuple[str, ...] = ("activate", "subscribe", "deliver")

#: A ``processing`` payment untouched this long is treated as abandoned (crash) and re-sent
#: with the SAME idempotency key, which a provider answers without charging again.
STALE_PROCESSING = timedelta(minutes=2)

_REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
_FINALIZE_ATTEMPTS = 5

CHECKOUT_MESSAGES: dict[str, str] = {
    "unknown_plan": "This plan is not on sale.",
    "bad_destination": "This plan does not cover the chosen destination.",
    "sold_out": "Sorry, we are out of eSIMs right now. You have not been charged.",
    "not_found": "Checkout not found.",
    "confirm_device": (
        "Please confirm your destination and that your phone supports eSIM and is carrier-unlocked."
    ),
    "checkout_closed": "This checkout is no longer open. Please start again.",
    "no_pending_payment": "There is no payment waiting for confirmation.",
    "payment_error": "The payment could not be processed. You have not been charged.",
}


class CheckoutError(Exception):
    """A checkout rule refused the request. ``code`` (machine-readable) is one of
    ``unknown_plan``, ``bad_destination``, ``sold_out``, ``not_found`` (also for another
    user's checkout or eSIM: answer 404), ``confirm_device``, ``checkout_closed``,
    ``no_pending_payment``, ``payment_error``; ``message`` is traveler-facing."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message or CHECKOUT_MESSAGES.get(code, code)
        super().__init__(code)


PayStatus = Literal["paid", "requires_action", "declined", "processing"]


@dataclass(frozen=True, slots=True)
class PayOutcome:
    """What a payment call produced, for the UI.

    ``status``: ``paid`` (``order_id``/``order_reference`` set: start provisioning and show
    progress), ``requires_action`` (ask for the verification code, then
    :func:`confirm_payment`), ``declined`` (show ``message``; the traveler may try another
    card), ``processing`` (another request for this checkout is mid-payment: poll
    :func:`payment_outcome`). ``replayed`` is True when nothing new was charged because the
    checkout already had this outcome (double click, reload, retry).
    """

    status: PayStatus
    checkout_id: str
    payment_id: int | None = None
    order_id: str | None = None
    order_reference: str | None = None
    error_code: str | None = None
    message: str = ""
    card_last4: str | None = None
    replayed: bool = False

    @property
    def requires_action(self) -> bool:
        """True when the UI must ask for the verification code."""
        return self.status == "requires_action"

    @property
    def error(self) -> str | None:
        """Alias of ``error_code``."""
        return self.error_code


def new_reference() -> str:
    """A traveler-facing order reference: ``TS-`` + 6 characters of an unambiguous alphabet
    (no 0/O/1/I), e.g. ``TS-7K3QX9``. Uniqueness is enforced by the database."""
    return "TS-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


def _minutes(value: int | None) -> timedelta:
    return timedelta(
        minutes=value if value is not None else get_settings().checkout_reservation_minutes
    )


def _user_id(user: User) -> int:
    if user.id is None:
        raise ValueError("user must be a saved User row")
    return user.id


# --- start -----------------------------------------------------------------------------------
async def start_checkout(
    session: AsyncSession,
    *,
    user: User,
    plan_id: str,
    destination: str | None,
    kind: Literal["new_esim", "topup"] = "new_esim",
    esim_id: int | None = None,
    reservation_minutes: int | None = None,
    client: SFTClient | None = None,
    device_confirmed: bool = False,
    now: datetime | None = None,
) -> Checkout:
    """Open a checkout for ``plan_id`` and, for a new eSIM, reserve one; commits.

    Args:
        user: the signed-in traveler (from the server-side session, never from the browser).
        plan_id: SFT ``planId`` of a sellable plan (``Plan.sellable``).
        destination: ISO 3166-1 alpha-2 code the traveler chose; must be one of the plan's
            destinations (``None`` when not asked).
        kind: ``new_esim`` (reserve a free eSIM) or ``topup`` (``esim_id`` of one of the
            user's eSIMs; no reservation).
        reservation_minutes: hold time of the reservation (default
            ``CHECKOUT_RESERVATION_MINUTES``).
        client: SFT client used to refill the pool once when no free eSIM is left
            (docs/business-rules.md#esim-reservation); without it no refill is tried.
        device_confirmed: the traveler already confirmed destination and device (eSIM-capable,
            carrier-unlocked) on this page; stored, and then :func:`pay` accepts it.
        now: current aware UTC time (tests).

    Returns the ``open`` checkout (``esim_id`` = reserved or topped-up eSIM,
    ``reserved_until`` set for new eSIMs). When the traveler already has an open checkout of
    this plan (for a top-up: of this plan on this eSIM) at today's price, that checkout is
    returned instead of a new one: its destination and device confirmation are updated and
    its one reservation kept or taken again until ``now + reservation_minutes``. Safe under
    concurrency (SQLite and PostgreSQL): simultaneous calls yield one checkout, one eSIM.

    Raises CheckoutError: ``unknown_plan``, ``bad_destination``, ``not_found`` (top-up of an
    eSIM the user does not own), ``sold_out`` (the checkout row is kept with status
    ``sold_out``; nothing was charged).
    """
    user_id = _user_id(user)
    now = now or utcnow()
    plan = await session.get(Plan, plan_id)
    if plan is None or not plan.sellable or plan.price_minor is None or plan.currency is None:
        raise CheckoutError("unknown_plan")
    dest = destination.strip().upper() if destination else None
    if dest is not None and dest not in plan.destinations:
        raise CheckoutError("bad_destination")
    if kind not in ("new_esim", "topup"):
        raise ValueError("kind must be 'new_esim' or 'topup'")
    if kind == "topup":
        target = await session.get(Esim, esim_id) if esim_id is not None else None
        if target is None or target.user_id != user_id or target.state != "assigned":
            raise CheckoutError("not_found")
        # Refuse before any payment: 15 live add-ons, or suspended by staff (topup.py).
        from travelsim.services import topup

        offer = await topup.topup_offer(
            session, user_id=user_id, esim_id=target.id or 0, plan_id=plan.plan_id, now=now
        )
        if offer is not None and not offer.decision.allowed:
            raise CheckoutError(
                offer.decision.refusal or "topup_refused",
                offer.decision.message or "This eSIM cannot take another plan right now.",
            )
    until = now + _minutes(reservation_minutes)
    # One traveler and plan → one open checkout: a double click (or a second tab) reuses the
    # open checkout and its eSIM instead of reserving another one
    # (docs/business-rules.md#one-open-checkout).
    await _lock_traveler(session, user_id)
    checkout = await _reusable_checkout(session, user_id, plan, kind, esim_id, now)
    if checkout is not None:
        checkout.destination = dest or checkout.destination
        checkout.device_confirmed = checkout.device_confirmed or device_confirmed
        checkout.updated_at = now
        session.add(checkout)
        if kind == "topup" or await _hold_for_start(session, checkout, until):
            await session.commit()
            log.info("checkout reused", extra={"checkout_id": checkout.id})
            return checkout
        await session.commit()
    else:
        checkout = Checkout(
            id=str(uuid.uuid4()),
            user_id=user_id,
            plan_id=plan.plan_id,
            kind=kind,
            esim_id=esim_id if kind == "topup" else None,
            destination=dest,
            amount_minor=plan.price_minor,
            currency=plan.currency,
            status="open",
            device_confirmed=device_confirmed,
            reserved_until=until if kind == "new_esim" else None,
            created_at=now,
            updated_at=now,
        )
        session.add(checkout)
        if kind == "topup":
            await session.commit()
            return checkout
        # Fast path: reserve a free eSIM and insert the checkout in ONE transaction.
        held = await _hold_for_start(session, checkout, until)
        await session.commit()
        if held:
            return checkout
    esim = await _reserve_with_refill(session, checkout, until, now, client)
    if esim is None:
        checkout.status = "sold_out"
        checkout.reserved_until = None
        checkout.updated_at = utcnow()
        session.add(checkout)
        await session.commit()
        log.info("checkout sold out", extra={"checkout_id": checkout.id})
        raise CheckoutError("sold_out")
    return checkout


async def _lock_traveler(session: AsyncSession, user_id: int) -> None:
    """Serialise checkout starts of one traveler until the caller's next commit.

    PostgreSQL: ``SELECT ... FOR NO KEY UPDATE`` of the traveler's ``app_user`` row (other
    travelers are not blocked; inserting rows that reference the user still works). SQLite:
    a no-op write on that row, which takes the database's single write lock (waiting up to
    ``busy_timeout``), so the reads that follow see every committed checkout.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            select(User.id).where(col(User.id) == user_id).with_for_update(key_share=True)
        )
    else:
        await session.execute(
            update(User)
            .where(col(User.id) == user_id)
            .values(is_staff=User.is_staff)
            .execution_options(synchronize_session=False)
        )


async def _reusable_checkout(
    session: AsyncSession,
    user_id: int,
    plan: Plan,
    kind: str,
    esim_id: int | None,
    now: datetime,
) -> Checkout | None:
    """The traveler's open checkout of ``plan`` (same topped-up eSIM for a top-up), if any.

    Call with the traveler locked (:func:`_lock_traveler`). An open checkout whose price is
    no longer the plan's and that has no payment under way is cancelled (its eSIM goes back
    to the pool) so the traveler pays today's price: ``None`` is returned then
    (docs/business-rules.md#one-open-checkout)."""
    query = (
        select(Checkout)
        .where(
            col(Checkout.user_id) == user_id,
            col(Checkout.plan_id) == plan.plan_id,
            col(Checkout.kind) == kind,
            col(Checkout.status) == "open",
        )
        .order_by(col(Checkout.created_at).desc())
        .execution_options(populate_existing=True)
    )
    if kind == "topup":
        query = query.where(col(Checkout.esim_id) == esim_id)
    for existing in (await session.exec(query)).all():
        if existing.amount_minor == plan.price_minor and existing.currency == plan.currency:
            return existing
        busy = [
            p
            for p in await _payments_for(session, existing.id)
            if p.status in ("processing", "requires_action", "succeeded")
        ]
        if busy or await _order_for(session, existing.id) is not None:
            return existing  # mid-payment at the price the traveler saw: keep it
        await session.execute(
            update(Esim)
            .where(col(Esim.checkout_id) == existing.id, col(Esim.state) == "reserved")
            .values(state="free", checkout_id=None, reserved_until=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        existing.status = "cancelled"
        existing.reserved_until = None
        existing.updated_at = now
        session.add(existing)
    return None


async def _hold_for_start(session: AsyncSession, checkout: Checkout, until: datetime) -> bool:
    """Make sure ``checkout`` (traveler locked) holds exactly one eSIM until ``until``: keep
    or extend the one reserved for it, else reserve a free one. Returns False when no free
    eSIM is left. Does not commit."""
    held = (
        await session.exec(
            select(Esim)
            .where(col(Esim.checkout_id) == checkout.id, col(Esim.state) == "reserved")
            .order_by(col(Esim.id))
            .execution_options(populate_existing=True)
        )
    ).first()
    if held is not None and held.id is not None:
        if not await inventory.extend(session, held.id, checkout.id, until):
            return False  # pragma: no cover - the traveler lock prevents this race
        esim_id = held.id
    else:
        esim = await inventory.reserve(session, checkout.id, until)
        if esim is None or esim.id is None:
            return False
        esim_id = esim.id
    checkout.esim_id = esim_id
    checkout.reserved_until = until
    session.add(checkout)
    return True


async def _reserve_with_refill(
    session: AsyncSession,
    checkout: Checkout,
    until: datetime,
    now: datetime,
    client: SFTClient | None,
) -> Esim | None:
    """After a first reservation found no free eSIM: release expired reservations and retry;
    else refill once from SFT and retry. Commits after each step (no database lock is held
    across the SFT call); each retry re-locks the traveler, so two concurrent starts of the
    same checkout never reserve two eSIMs for it."""

    async def retry() -> Esim | None:
        await _lock_traveler(session, checkout.user_id)
        held = await _hold_for_start(session, checkout, until)
        await session.commit()
        return await session.get(Esim, checkout.esim_id) if held and checkout.esim_id else None

    if await inventory.release_expired(session, now):
        esim = await retry()
        if esim is not None:
            return esim
    if client is None:
        return None
    try:
        await inventory.refill_pool(client, session)
    except SFTError as exc:
        log.warning("inventory refill failed: %s", type(exc).__name__)
        await session.rollback()
        return None
    return await retry()


# --- pay -------------------------------------------------------------------------------------
async def _owned_checkout(session: AsyncSession, checkout_id: str, user_id: int) -> Checkout:
    checkout = (
        await session.exec(
            select(Checkout)
            .where(col(Checkout.id) == checkout_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if checkout is None or checkout.user_id != user_id:
        raise CheckoutError("not_found")
    return checkout


async def order_for_checkout(session: AsyncSession, checkout_id: str) -> Order | None:
    """The order created from ``checkout_id``, if any. No ownership check: the caller has
    already checked ``checkout.user_id`` against the signed-in user."""
    return await _order_for(session, checkout_id)


async def pending_action(session: AsyncSession, checkout_id: str) -> bool:
    """True when the checkout has a payment waiting for its second step (ask for the code).
    No ownership check (as :func:`order_for_checkout`)."""
    return any(p.status == "requires_action" for p in await _payments_for(session, checkout_id))


async def _order_for(session: AsyncSession, checkout_id: str) -> Order | None:
    return (
        await session.exec(
            select(Order)
            .where(col(Order.checkout_id) == checkout_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()


async def _payments_for(session: AsyncSession, checkout_id: str) -> list[Payment]:
    return list(
        (
            await session.exec(
                select(Payment)
                .where(col(Payment.checkout_id) == checkout_id)
                .order_by(col(Payment.id))
                .execution_options(populate_existing=True)
            )
        ).all()
    )


def _paid_outcome(
    checkout_id: str, order: Order, payment: Payment | None, *, replayed: bool
) -> PayOutcome:
    return PayOutcome(
        status="paid",
        checkout_id=checkout_id,
        payment_id=order.payment_id,
        order_id=order.id,
        order_reference=order.reference,
        card_last4=payment.card_last4 if payment else None,
        replayed=replayed,
    )


def _payment_outcome(checkout_id: str, payment: Payment, *, replayed: bool) -> PayOutcome:
    """Outcome of a payment that has no order (yet)."""
    status: PayStatus
    if payment.status == "requires_action":
        status = "requires_action"
    elif payment.status in ("processing", "succeeded"):  # succeeded: order being written
        status = "processing"
    else:
        status = "declined"
    code = payment.failure_reason if status == "declined" else None
    return PayOutcome(
        status=status,
        checkout_id=checkout_id,
        payment_id=payment.id,
        error_code=code,
        message=failure_message(code) if status == "declined" else "",
        card_last4=payment.card_last4,
        replayed=replayed,
    )


async def payment_outcome(session: AsyncSession, *, checkout_id: str, user: User) -> PayOutcome:
    """The current outcome of ``checkout_id`` without charging (for polling a ``processing``
    outcome, or re-rendering after a reload). Raises CheckoutError ``not_found`` (also for
    another user's checkout) and ``checkout_closed`` when nothing was ever paid and the
    checkout is closed or has no payment yet."""
    return await _current_outcome(session, checkout_id, _user_id(user))


async def _current_outcome(session: AsyncSession, checkout_id: str, user_id: int) -> PayOutcome:
    checkout = await _owned_checkout(session, checkout_id, user_id)
    order = await _order_for(session, checkout.id)
    payments = await _payments_for(session, checkout.id)
    if order is not None:
        payment = next((p for p in payments if p.id == order.payment_id), None)
        return _paid_outcome(checkout.id, order, payment, replayed=True)
    if not payments:
        raise CheckoutError(
            "checkout_closed" if checkout.status != "open" else "no_pending_payment"
        )
    return _payment_outcome(checkout.id, payments[-1], replayed=True)


async def _hold_esim(session: AsyncSession, checkout: Checkout, until: datetime) -> bool:
    """Keep the checkout's reservation until ``until`` or reserve another free eSIM.
    Returns False when none is left. Does not commit. Top-ups need none (True)."""
    if checkout.kind != "new_esim":
        return True
    if checkout.esim_id is not None and await inventory.extend(
        session, checkout.esim_id, checkout.id, until
    ):
        checkout.reserved_until = until
        session.add(checkout)
        return True
    esim = await inventory.reserve(session, checkout.id, until)
    if esim is None:
        await inventory.release_expired(session, utcnow())
        esim = await inventory.reserve(session, checkout.id, until)
    if esim is None:
        return False
    checkout.esim_id = esim.id
    checkout.reserved_until = until
    session.add(checkout)
    return True


async def _close_sold_out(session: AsyncSession, checkout: Checkout) -> None:
    checkout.status = "sold_out"
    checkout.reserved_until = None
    checkout.updated_at = utcnow()
    session.add(checkout)
    await session.commit()


async def pay(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    checkout_id: str,
    user: User,
    card: Card,
    device_confirmed: bool,
    payment_window_minutes: int | None = None,
) -> PayOutcome:
    """Charge the checkout once; on success create the order (one transaction); commits.

    Args:
        provider: the card processor (``payments.DemoCardProvider`` in the demo).
        checkout_id, user: the checkout and the signed-in traveler (ownership is checked).
        card: passed to the provider only; never stored or logged (``Payment.card_last4``
            keeps the last four digits; ``Card``'s repr shows nothing more).
        device_confirmed: the traveler ticked "my destination is right and my phone supports
            eSIM and is carrier-unlocked" (here, or already at :func:`start_checkout`).
        payment_window_minutes: how long the reservation is extended while paying (default
            ``CHECKOUT_RESERVATION_MINUTES``).

    Returns a :class:`PayOutcome`. Idempotent per checkout: once paid, every further call
    returns the same order (``replayed=True``) without charging; while a second step is
    pending it returns ``requires_action`` again; while another call is charging it returns
    ``processing``.

    Raises CheckoutError: ``not_found`` (unknown or another user's checkout),
    ``confirm_device``, ``checkout_closed`` (expired/cancelled), ``sold_out`` (the reservation
    lapsed and no eSIM is left; nothing charged), ``payment_error`` (the provider failed; the
    payment is re-sent with the same key on the next call).
    """
    uid = _user_id(user)
    checkout = await _owned_checkout(session, checkout_id, uid)
    order = await _order_for(session, checkout.id)
    payments = await _payments_for(session, checkout.id)
    if order is not None:
        payment = next((p for p in payments if p.id == order.payment_id), None)
        return _paid_outcome(checkout.id, order, payment, replayed=True)
    if not (device_confirmed or checkout.device_confirmed):
        raise CheckoutError("confirm_device")
    if checkout.status == "sold_out":
        raise CheckoutError("sold_out")
    if checkout.status != "open":
        raise CheckoutError("checkout_closed")

    now = utcnow()
    resend: Payment | None = None
    for p in payments:
        if p.status == "succeeded" and p.id is not None:  # charged; order never written
            return await _finalize(session, provider, checkout.id, p.id, uid)
        if p.status == "requires_action":
            return _payment_outcome(checkout.id, p, replayed=True)
        if p.status == "processing":
            stale = p.failure_reason == "provider_error" or p.updated_at < now - STALE_PROCESSING
            if not stale:
                return _payment_outcome(checkout.id, p, replayed=True)
            resend = p

    if not await _hold_esim(session, checkout, now + _minutes(payment_window_minutes)):
        await _close_sold_out(session, checkout)
        raise CheckoutError("sold_out")
    if resend is None:
        key = checkout.id if not payments else f"{checkout.id}:{len(payments) + 1}"
        payment = Payment(
            checkout_id=checkout.id,
            idempotency_key=key,
            provider=provider.name,
            amount_minor=checkout.amount_minor,
            currency=checkout.currency,
            status="processing",
            created_at=now,
            updated_at=now,
        )
        session.add(payment)
        checkout.device_confirmed = True
        checkout.updated_at = now
        session.add(checkout)
        try:
            await session.commit()
        except IntegrityError:
            # Another request for this checkout claimed the same key first.
            await session.rollback()
            return await _current_outcome(session, checkout_id, uid)
    else:
        payment = resend
        await session.commit()
    payment_id = payment.id
    assert payment_id is not None

    try:
        result = await provider.charge(
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            card_number=card.digits,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            cvc=card.cvc,
            idempotency_key=payment.idempotency_key,
        )
    except PaymentProviderError as exc:
        payment.failure_reason = "provider_error"
        payment.updated_at = utcnow()
        session.add(payment)
        await session.commit()
        log.warning("payment provider error", extra={"checkout_id": checkout.id, "code": exc.code})
        raise CheckoutError("payment_error") from None
    return await _apply_charge(session, provider, checkout.id, payment, result, uid)


async def _apply_charge(
    session: AsyncSession,
    provider: PaymentProvider,
    checkout_id: str,
    payment: Payment,
    result: ChargeResult,
    user_id: int,
) -> PayOutcome:
    payment_id = payment.id
    assert payment_id is not None
    log.info(
        "payment charged",
        extra={"checkout_id": checkout_id, "status": result.status, "code": result.failure_code},
    )
    if result.status == "succeeded":
        # Usually the succeeded payment and its order are ONE commit. A crash before it
        # leaves the payment ``processing``, exactly as a crash right after the charge
        # would: it is re-sent with the same idempotency key, never charged twice.
        # Row locks in the order pay()'s first transaction takes them (eSIM, checkout, then
        # payment): the payment row is updated last, so a concurrent pay() of the same
        # checkout cannot deadlock with this one (PostgreSQL).
        try:
            order = await _create_order(session, checkout_id, payment_id, user_id)
            _record_charge(payment, result)
            session.add(payment)
            await session.commit()
        except (IntegrityError, inventory.InventoryError):
            # A concurrent order, or no eSIM left: record the charge on its own first, then
            # take the general path (which returns the existing order or refunds).
            await session.rollback()
            fresh = await session.get(Payment, payment_id, populate_existing=True)
            assert fresh is not None
            _record_charge(fresh, result)
            session.add(fresh)
            await session.commit()
            return await _finalize(session, provider, checkout_id, payment_id, user_id)
        log.info("order created", extra={"order_id": order.id, "checkout_id": checkout_id})
        return _paid_outcome(checkout_id, order, payment, replayed=False)
    _record_charge(payment, result)
    session.add(payment)
    await session.commit()
    return _payment_outcome(checkout_id, payment, replayed=False)


def _record_charge(payment: Payment, result: ChargeResult) -> None:
    """Copy the provider's answer onto ``payment`` (the caller adds and commits)."""
    payment.card_last4 = result.card_last4
    payment.provider_ref = result.provider_ref
    payment.updated_at = utcnow()
    if result.status in ("succeeded", "requires_action"):
        payment.status = result.status
        payment.failure_reason = None
    else:
        payment.status = "declined"
        payment.failure_reason = result.failure_code


async def confirm_payment(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    checkout_id: str,
    user: User,
    code: str,
    payment_window_minutes: int | None = None,
) -> PayOutcome:
    """Complete a ``requires_action`` payment with the traveler's verification ``code``;
    commits. Success creates the order exactly as :func:`pay` does; a wrong code declines the
    payment (``authentication_failed``) and leaves the checkout open for another attempt.
    Calling it again after success returns the same order (``replayed=True``).

    If the reservation lapsed and no eSIM is left, the pending charge is voided and
    CheckoutError ``sold_out`` is raised. Raises CheckoutError ``not_found``,
    ``no_pending_payment``, ``payment_error``.
    """
    uid = _user_id(user)
    checkout = await _owned_checkout(session, checkout_id, uid)
    order = await _order_for(session, checkout.id)
    payments = await _payments_for(session, checkout.id)
    if order is not None:
        payment = next((p for p in payments if p.id == order.payment_id), None)
        return _paid_outcome(checkout.id, order, payment, replayed=True)
    pending = next((p for p in reversed(payments) if p.status == "requires_action"), None)
    if pending is None:
        busy = next((p for p in payments if p.status in ("processing", "succeeded")), None)
        if busy is not None:
            return await _current_outcome(session, checkout_id, uid)
        raise CheckoutError("no_pending_payment")
    assert pending.id is not None and pending.provider_ref is not None
    payment_id, provider_ref = pending.id, pending.provider_ref

    if not await _hold_esim(session, checkout, utcnow() + _minutes(payment_window_minutes)):
        await _void_quietly(provider, pending)
        session.add(pending)
        await _close_sold_out(session, checkout)
        raise CheckoutError("sold_out")
    # Claim the pending step so that a double submit confirms only once.
    claimed: Any = await session.execute(
        update(Payment)
        .where(col(Payment.id) == payment_id, col(Payment.status) == "requires_action")
        .values(status="processing", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    if claimed.rowcount != 1:
        return await _current_outcome(session, checkout_id, uid)
    payment = await session.get(Payment, payment_id, populate_existing=True)
    assert payment is not None
    try:
        result = await provider.confirm(provider_ref, code)
    except PaymentProviderError as exc:
        payment.status = "declined" if exc.code == "invalid_state" else "requires_action"
        payment.failure_reason = exc.code if exc.code == "invalid_state" else None
        payment.updated_at = utcnow()
        session.add(payment)
        await session.commit()
        raise CheckoutError("payment_error") from None
    payment.updated_at = utcnow()
    if result.status == "succeeded":
        payment.status = "succeeded"
        session.add(payment)
        await session.commit()
        return await _finalize(session, provider, checkout.id, payment_id, uid)
    payment.status = "declined"
    payment.failure_reason = result.failure_code
    session.add(payment)
    await session.commit()
    return _payment_outcome(checkout.id, payment, replayed=False)


async def _void_quietly(provider: PaymentProvider, payment: Payment) -> None:
    """Void ``payment`` at the provider; ``voided`` on success, ``flagged`` if that fails."""
    try:
        if payment.provider_ref:
            await provider.void(payment.provider_ref)
        payment.status = "voided"
    except PaymentProviderError as exc:
        payment.status = "flagged"
        payment.failure_reason = f"void failed: {exc.code}"[:200]
    payment.updated_at = utcnow()


# --- finalize --------------------------------------------------------------------------------
async def _finalize(
    session: AsyncSession,
    provider: PaymentProvider,
    checkout_id: str,
    payment_id: int,
    user_id: int,
) -> PayOutcome:
    """Turn a succeeded payment into the order, in one transaction: order + steps + eSIM
    assignment + checkout ``paid``. Safe to repeat (unique ``purchase_order.checkout_id``):
    a concurrent or repeated call returns the existing order."""
    for _ in range(_FINALIZE_ATTEMPTS):
        existing = await _order_for(session, checkout_id)
        if existing is not None:
            payment = await session.get(Payment, existing.payment_id)
            return _paid_outcome(checkout_id, existing, payment, replayed=True)
        try:
            order = await _create_order(session, checkout_id, payment_id, user_id)
            await session.commit()
        except IntegrityError:
            await session.rollback()  # lost a race, or (rarely) a duplicate reference
            continue
        except inventory.InventoryError:
            await session.rollback()
            return await _refund_sold_out(session, provider, checkout_id, payment_id)
        log.info("order created", extra={"order_id": order.id, "checkout_id": checkout_id})
        payment = await session.get(Payment, payment_id)
        return _paid_outcome(checkout_id, order, payment, replayed=False)
    raise RuntimeError("could not create the order after repeated conflicts")


def included_vat(gross_minor: int, rate_percent: Decimal) -> int:
    """VAT contained in a VAT-inclusive price, in minor units, rounded half up:
    ``included_vat(450, Decimal(21))`` = round(450 x 21 / 121) = 78."""
    if rate_percent <= 0:
        return 0
    exact = Decimal(gross_minor) * rate_percent / (Decimal(100) + rate_percent)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def _create_order(
    session: AsyncSession, checkout_id: str, payment_id: int, user_id: int
) -> Order:
    checkout = await session.get(Checkout, checkout_id, populate_existing=True)
    payment = await session.get(Payment, payment_id)  # amount and currency never change
    assert checkout is not None and payment is not None
    now = utcnow()
    esim: Esim | None
    if checkout.kind == "new_esim":
        esim = await _esim_for_order(session, checkout, now)
        steps = NEW_ESIM_STEPS
    else:
        esim = await session.get(Esim, checkout.esim_id) if checkout.esim_id else None
        steps = TOPUP_STEPS
    if esim is None or esim.user_id != user_id:
        raise inventory.InventoryError("the order's eSIM is not the buyer's")
    assert esim.id is not None
    order = Order(
        id=str(uuid.uuid4()),
        reference=new_reference(),  # unique constraint; a collision retries (_finalize)
        checkout_id=checkout.id,
        user_id=user_id,
        plan_id=checkout.plan_id,
        esim_id=esim.id,
        payment_id=payment_id,
        kind=checkout.kind,
        status="paid",
        amount_minor=payment.amount_minor,
        tax_minor=included_vat(payment.amount_minor, get_settings().vat_rate_percent),
        currency=payment.currency,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    await session.flush()  # the order row must exist before its steps (foreign key)
    # One executemany; the step rows are loaded by provisioning, not needed here.
    await session.execute(
        insert(ProvisioningStep),
        [
            {"order_id": order.id, "seq": seq, "name": name, "status": "pending", "attempts": 0}
            for seq, name in enumerate(steps, start=1)
        ],
    )
    checkout.status = "paid"
    checkout.esim_id = esim.id
    checkout.reserved_until = None
    checkout.updated_at = now
    session.add(checkout)
    await session.flush()
    return order


async def _esim_for_order(session: AsyncSession, checkout: Checkout, now: datetime) -> Esim:
    """Assign the checkout's reserved eSIM (or, if the reservation was lost meanwhile,
    another free one). Raises InventoryError when none is left."""
    if checkout.esim_id is not None:
        try:
            return await inventory.assign(
                session,
                checkout.esim_id,
                checkout.user_id,
                checkout_id=checkout.id,
                destination=checkout.destination,
            )
        except inventory.InventoryError:
            log.warning("reservation lost before the order; taking another eSIM")
    other = await inventory.reserve(session, checkout.id, now + timedelta(minutes=5))
    if other is None:
        raise inventory.InventoryError("no free eSIM left")
    return await inventory.assign(
        session, other, checkout.user_id, checkout_id=checkout.id, destination=checkout.destination
    )


async def _refund_sold_out(
    session: AsyncSession, provider: PaymentProvider, checkout_id: str, payment_id: int
) -> PayOutcome:
    """The charge succeeded but no eSIM is left: void it, close the checkout ``sold_out``."""
    payment = await session.get(Payment, payment_id, populate_existing=True)
    checkout = await session.get(Checkout, checkout_id, populate_existing=True)
    assert payment is not None and checkout is not None
    await _void_quietly(provider, payment)
    session.add(payment)
    await _close_sold_out(session, checkout)
    log.error(
        "paid checkout sold out; payment %s", payment.status, extra={"checkout_id": checkout_id}
    )
    raise CheckoutError("sold_out")

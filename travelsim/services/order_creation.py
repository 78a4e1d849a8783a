"""Creating the order of a paid checkout (reference, invoice number, VAT, steps, eSIM
assignment), starting its provisioning; or, when no eSIM is left after the charge, voiding it.

:func:`create_order` writes, in the caller's transaction, the ``Order`` (reference
``TS-XXXXXX``, status ``paid``, its invoice number and the VAT it contains for the customer's
country: docs/business-rules.md#vat), its ``ProvisioningStep`` rows
(:data:`NEW_ESIM_STEPS` / :data:`TOPUP_STEPS`), the eSIM assignment and the checkout's ``paid``
status (docs/business-rules.md#one-payment-per-checkout). :func:`finalize` turns a succeeded
payment into that order, safe to repeat; no eSIM left → :func:`refund_sold_out`.

Once the commit that created an order is done, its provisioning is started in the background
(:func:`order_created`: ``start_provisioning``, by default ``platform.ensure_provisioning``,
idempotent in a process; docs/architecture.md#one-purchase-click-to-qr). Pages only watch it. An
order left ``paid`` (a process that stopped before or during its run, another worker) is
resumed by the recovery job (``jobs.runs.run_recovery``).
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NoReturn

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import (
    Checkout,
    CheckoutStatus,
    Esim,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    ProvisioningStep,
    PurchaseKind,
    StepName,
    StepStatus,
    User,
    utcnow,
)
from travelsim.services import consent, gifts, inventory, invoices, tax
from travelsim.services.checkout import CheckoutError, order_for_checkout
from travelsim.services.checkout_outcome import PayOutcome, paid_outcome
from travelsim.services.checkout_reservation import close_sold_out
from travelsim.services.payment_holds import void_payment
from travelsim.services.payments import PaymentProvider
from travelsim.settings import get_settings

__all__ = [
    "NEW_ESIM_STEPS",
    "TOPUP_STEPS",
    "StartProvisioning",
    "create_order",
    "finalize",
    "included_vat",
    "new_reference",
    "order_created",
    "refund_sold_out",
]

log = logging.getLogger(__name__)

#: Provisioning steps created with an order, in order (``provisioning.run_order`` runs them).
NEW_ESIM_STEPS: tuple[str, ...] = (
    StepName.ACTIVATE,
    StepName.SUBSCRIBE,
    StepName.FETCH_CODE,
    StepName.DELIVER,
)
TOPUP_STEPS: tuple[str, ...] = (StepName.ACTIVATE, StepName.SUBSCRIBE, StepName.DELIVER)

_REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
_FINALIZE_ATTEMPTS = 5

#: Starts a paid order's provisioning in the background, given the order id (return ignored).
StartProvisioning = Callable[[str], object]


def new_reference() -> str:
    """A traveler-facing order reference: ``TS-`` + 6 characters of an unambiguous alphabet
    (no 0/O/1/I), e.g. ``TS-7K3QX9``. Uniqueness is enforced by the database."""
    return "TS-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


#: VAT contained in a VAT-inclusive price (``tax.included_vat``), kept importable from here.
included_vat = tax.included_vat


async def _tax_of(session: AsyncSession, payment: Payment, user_id: int) -> tax.TaxDecision:
    """The order's VAT from its evidence as it stands now (``tax.decide``): the paying card's
    issuing country and the buyer's stated country, at the rates in force."""
    stated = (  # the country as stated now (one column, not the whole account)
        await session.exec(select(User.country).where(col(User.id) == user_id))
    ).first()
    return tax.decide(
        payment.card_country,
        stated,
        home_country=get_settings().seller_country,
        rates=await tax.rates_in_force(session),
    )


async def create_order(
    session: AsyncSession,
    checkout_id: str,
    payment_id: int,
    user_id: int,
    *,
    payment: Payment | None = None,
) -> Order:
    """Write the order of the paid checkout ``checkout_id`` (payment ``payment_id``, buyer
    ``user_id``) with its steps, assign its eSIM and mark the checkout ``paid``; flushes, does
    not commit. Amount and currency are the payment's; ``tax_minor`` is :func:`included_vat`
    at the rate of the customer's country (``tax.decide`` on the card's and the stated
    country, recorded on the order), and the order takes the next invoice number of the
    year (``invoices.next_invoice_number``, in this transaction: gap-free). When the
    payment's amount or currency is not the checkout's, the order is written
    ``needs_attention`` (``last_error`` says why) and :func:`order_created` starts no
    provisioning: staff look at it, nothing is lost.

    Raises ``inventory.InventoryError`` when no eSIM can be assigned (or the top-up's eSIM is
    not the buyer's), ``IntegrityError`` (on flush) for a concurrent order of the same checkout
    or a duplicate reference: the caller rolls back and retries or refunds.

    ``payment``: the payment row as this transaction just wrote it (Stripe's answer flushed),
    so it is not read again."""
    checkout = await session.get(Checkout, checkout_id, populate_existing=True)
    if payment is None:
        # Re-read: the amount and currency are what Stripe holds (copied onto the row by
        # conditional updates that bypass this session's identity map).
        payment = await session.get(Payment, payment_id, populate_existing=True)
    assert checkout is not None and payment is not None
    now = utcnow()
    esim: Esim | None
    if checkout.kind == PurchaseKind.NEW_ESIM:
        esim = await _esim_for_order(session, checkout, now)
        steps = NEW_ESIM_STEPS
    else:
        esim = await session.get(Esim, checkout.esim_id) if checkout.esim_id else None
        steps = TOPUP_STEPS
    if esim is None or esim.user_id != user_id:
        raise inventory.InventoryError("the order's eSIM is not the buyer's")
    assert esim.id is not None
    mismatch = _amount_mismatch(checkout, payment)
    if mismatch:
        log.error("charged amount differs from the checkout", extra={"checkout_id": checkout.id})
    decision = await _tax_of(session, payment, user_id)
    # Last before the insert: the year's counter row stays locked until the commit.
    invoice_number = await invoices.next_invoice_number(session, now.year)
    order = Order(
        id=str(uuid.uuid4()),
        reference=new_reference(),  # unique constraint; a collision retries (the caller)
        checkout_id=checkout.id,
        user_id=user_id,
        plan_id=checkout.plan_id,
        esim_id=esim.id,
        payment_id=payment_id,
        kind=checkout.kind,
        status=OrderStatus.NEEDS_ATTENTION if mismatch else OrderStatus.PAID,
        last_error=mismatch,
        amount_minor=payment.amount_minor,
        tax_minor=included_vat(payment.amount_minor, Decimal(decision.rate_bp) / 100),
        currency=payment.currency,
        invoice_number=invoice_number,
        tax_country=decision.country,
        tax_rate_bp=decision.rate_bp,
        tax_rule=decision.rule,
        evidence_card_country=decision.card_country,
        evidence_stated_country=decision.stated_country,
        created_at=now,
        updated_at=now,
    )
    consent.copy(checkout, order)  # the terms accepted (docs/legal.md#acceptance-at-checkout)
    session.add(order)
    await session.flush()  # the order row must exist before its steps (foreign key)
    # One executemany; the step rows are loaded by provisioning, not needed here.
    await session.execute(
        insert(ProvisioningStep),
        [
            {
                "order_id": order.id,
                "seq": seq,
                "name": name,
                "status": StepStatus.PENDING,
                "attempts": 0,
            }
            for seq, name in enumerate(steps, start=1)
        ],
    )
    await gifts.attach_to_order(session, order, esim, checkout)  # docs/business-rules.md#gifts
    checkout.status = CheckoutStatus.PAID
    checkout.esim_id = esim.id
    checkout.reserved_until = None
    checkout.updated_at = now
    session.add(checkout)
    await session.flush()
    return order


def _amount_mismatch(checkout: Checkout, payment: Payment) -> str | None:
    """Why the charge is not the checkout's (amount or currency differ), else ``None``: such
    an order is written ``needs_attention`` for staff and never provisioned
    (docs/business-rules.md#charge-re-checks)."""
    if (payment.amount_minor, payment.currency) == (checkout.amount_minor, checkout.currency):
        return None
    return (
        f"amount charged {payment.amount_minor} {payment.currency} is not the checkout's "
        f"{checkout.amount_minor} {checkout.currency}: not provisioned, check the payment"
    )


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


async def refund_sold_out(
    session: AsyncSession, provider: PaymentProvider, checkout_id: str, payment_id: int
) -> NoReturn:
    """The charge succeeded but no eSIM is left: void it (``payment_holds.void_payment``:
    ``voided``, or ``flagged`` when the void fails) and close the checkout ``sold_out``;
    commits. Always raises CheckoutError ``sold_out``."""
    payment = await session.get(Payment, payment_id, populate_existing=True)
    checkout = await session.get(Checkout, checkout_id, populate_existing=True)
    assert payment is not None and checkout is not None
    await void_payment(payment, provider)
    session.add(payment)
    await close_sold_out(session, checkout)
    log.error(
        "paid checkout sold out; payment %s", payment.status, extra={"checkout_id": checkout_id}
    )
    raise CheckoutError("sold_out")


async def finalize(
    session: AsyncSession,
    provider: PaymentProvider,
    checkout_id: str,
    payment_id: int,
    user_id: int,
    start_provisioning: StartProvisioning | None,
) -> PayOutcome:
    """Turn a succeeded payment into the order, in one transaction: order + steps + eSIM
    assignment + checkout ``paid``. Safe to repeat (unique ``purchase_order.checkout_id``):
    a concurrent or repeated call returns the existing order. No eSIM left: the charge is
    voided and CheckoutError ``sold_out`` raised (:func:`refund_sold_out`). Calls
    :func:`order_created` for an order it created."""
    for _ in range(_FINALIZE_ATTEMPTS):
        existing = await order_for_checkout(session, checkout_id)
        if existing is not None:
            if existing.payment_id != payment_id:
                await _release_extra_hold(session, provider, payment_id, checkout_id)
            payment = await session.get(Payment, existing.payment_id)
            return paid_outcome(checkout_id, existing, payment, replayed=True)
        try:
            order = await create_order(session, checkout_id, payment_id, user_id)
            await session.commit()
        except IntegrityError:
            await session.rollback()  # lost a race, or (rarely) a duplicate reference
            continue
        except inventory.InventoryError:
            await session.rollback()
            await refund_sold_out(session, provider, checkout_id, payment_id)
        payment = await session.get(Payment, payment_id)
        order_created(order, checkout_id, start_provisioning)
        return paid_outcome(checkout_id, order, payment, replayed=False)
    raise RuntimeError("could not create the order after repeated conflicts")


async def _release_extra_hold(
    session: AsyncSession, provider: PaymentProvider, payment_id: int, checkout_id: str
) -> None:
    """A second payment of a checkout that already has its order was held too (e.g. an
    earlier attempt's PaymentIntent settled late): release it (``voided``, or ``flagged``
    when Stripe refuses); commits. The order keeps its own payment."""
    extra = await session.get(Payment, payment_id, populate_existing=True)
    if extra is None or extra.status not in (PaymentStatus.AUTHORIZED, PaymentStatus.SUCCEEDED):
        return
    await void_payment(extra, provider)
    session.add(extra)
    await session.commit()
    log.error("second hold on a paid checkout released", extra={"checkout_id": checkout_id})


def order_created(
    order: Order, checkout_id: str, start_provisioning: StartProvisioning | None
) -> None:
    """Call once the commit that created ``order`` is done: logs it and starts its
    provisioning with ``start_provisioning(order.id)`` (``None``: nothing started; nor for an
    order written ``needs_attention``)."""
    log.info("order created", extra={"order_id": order.id, "checkout_id": checkout_id})
    if order.status == OrderStatus.NEEDS_ATTENTION:
        return  # the charge is not the checkout's: staff decide (create_order)
    if start_provisioning is not None:
        start_provisioning(order.id)

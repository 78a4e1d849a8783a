"""The zero-amount orders staff create (goodwill add-ons, replacements: :mod:`.goodwill`,
:mod:`.replacement`).

Staff orders
    Goodwill and replacement orders carry a ``Checkout``/``Payment`` of amount 0 with payment
    provider ``staff`` and status ``waived`` (never voided, never counted as revenue).
"""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import (
    Checkout,
    CheckoutStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Plan,
    ProvisioningStep,
    PurchaseKind,
    StepStatus,
    utcnow,
)
from travelsim.services.admin.base import Refused
from travelsim.services.order_creation import NEW_ESIM_STEPS, TOPUP_STEPS, new_reference

#: Payment provider of zero-amount staff orders (goodwill, replacement).
STAFF_PROVIDER = "staff"


async def staff_order(
    s: AsyncSession,
    *,
    checkout_id: str,
    user_id: int,
    esim_id: int,
    plan: Plan,
    kind: PurchaseKind,
    destination: str | None,
) -> Order:
    """A zero-amount order (module docstring "Staff orders") with its steps; not committed."""
    now = utcnow()
    currency = plan.currency or "EUR"
    s.add(
        Checkout(
            id=checkout_id,
            user_id=user_id,
            plan_id=plan.plan_id,
            kind=kind,
            esim_id=esim_id,
            destination=destination,
            amount_minor=0,
            currency=currency,
            status=CheckoutStatus.PAID,
            device_confirmed=True,
            created_at=now,
            updated_at=now,
        )
    )
    payment = Payment(
        checkout_id=checkout_id,
        idempotency_key=f"staff:{checkout_id}",
        provider=STAFF_PROVIDER,
        amount_minor=0,
        currency=currency,
        status=PaymentStatus.WAIVED,
        created_at=now,
        updated_at=now,
    )
    s.add(payment)
    await s.flush()
    assert payment.id is not None
    reference = new_reference()
    while (
        await s.exec(select(Order.id).where(col(Order.reference) == reference))
    ).first() is not None:
        reference = new_reference()
    order = Order(
        id=str(uuid.uuid4()),
        reference=reference,
        checkout_id=checkout_id,
        user_id=user_id,
        plan_id=plan.plan_id,
        esim_id=esim_id,
        payment_id=payment.id,
        kind=kind,
        status=OrderStatus.PAID,
        amount_minor=0,
        tax_minor=0,
        currency=currency,
        created_at=now,
        updated_at=now,
    )
    s.add(order)
    await s.flush()
    steps = NEW_ESIM_STEPS if kind == PurchaseKind.NEW_ESIM else TOPUP_STEPS
    for seq, name in enumerate(steps, start=1):
        s.add(ProvisioningStep(order_id=order.id, seq=seq, name=name, status=StepStatus.PENDING))
    await s.flush()
    return order


def check_request_id(request_id: str) -> str:
    """The staff form's idempotency key as a canonical UUID; :class:`Refused` otherwise."""
    try:
        return str(uuid.UUID(request_id))
    except (ValueError, AttributeError, TypeError):
        raise Refused("invalid request id (reload the page)") from None


def note_suffix(note: str) -> str:
    """The staff member's note as a message suffix (at most 200 characters), or ``""``."""
    return f" (note: {note.strip()[:200]})" if note.strip() else ""

"""Read models of a traveler's orders: the buyer's side of ownership
(``ownership.bought_order``, ``Order.user_id``) in every query; whether the viewer also holds
the order's eSIM (``ownership.is_owner``) decides the eSIM and install links
(docs/business-rules.md#gifts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.formatting import format_money
from travelsim.i18n import N_, _
from travelsim.models import (
    Checkout,
    Esim,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Plan,
    ProvisioningStep,
    PurchaseKind,
    StepStatus,
    User,
)
from travelsim.services import countries, ownership
from travelsim.services.plan_texts import Texts, plan_title, texts_for
from travelsim.services.tax import TaxRule, format_rate

#: Order statuses whose provisioning is not over: a failed step is tried again, either in the
#: same run (``provisioning``: attempts per step, ``provisioning.DEFAULT_MAX_ATTEMPTS``) or by
#: the scheduled automatic retry (``paid``; docs/business-rules.md#provisioning-retries).
UNFINISHED = frozenset({OrderStatus.PAID, OrderStatus.PROVISIONING})


def shown_step_status(order_status: str, step_status: str) -> str:
    """What the traveler reads for a step (``pending``, ``running``, ``done``, ``retrying``
    or ``failed``): a ``failed`` step of an order still being set up is ``retrying``; it
    reads ``failed`` only once the order is over (``needs_attention``)."""
    if step_status == StepStatus.FAILED and order_status in UNFINISHED:
        return "retrying"
    return step_status


@dataclass(frozen=True)
class StepView:
    """One provisioning step: ``status`` as stored, ``shown`` as the traveler reads it
    (:func:`shown_step_status`)."""

    name: str
    status: str
    error: str | None
    shown: str = ""


@dataclass(frozen=True)
class OrderView:
    """A traveler's order as the order page shows it.

    ``retrying``: the order failed on a transient platform fault and waits for its automatic
    retry (``Order.next_attempt_at`` set): "still setting up", not a failure.
    ``retry_pending``: a retry is coming, the scheduled one (``retrying``) or the next attempt
    of a step that failed inside the current run; the page says "we are still setting up".
    ``destination_code``/``destination_name``/``destination_flag``: the country the traveler
    bought for (ISO 3166-1 alpha-2, its common name, its emoji flag), from the checkout, else
    the plan's only destination; empty strings when neither names one country.
    ``plan_title``: the plan's name in the active language (``plan_texts.plan_title``), the
    plan id for a plan no longer in the catalogue.
    """

    order_id: str
    reference: str
    status: str
    kind: str
    plan_id: str
    plan_title: str
    amount: str
    esim_id: int
    iccid: str
    created_at: datetime
    steps: list[StepView] = field(default_factory=list)
    retrying: bool = False
    retry_pending: bool = False
    destination_code: str = ""
    destination_name: str = ""
    destination_flag: str = ""
    #: The viewer holds the order's eSIM (``ownership.is_owner``): the eSIM page, install
    #: page and top-ups are theirs. False for a gift (claimed by someone else, or not yet).
    holder: bool = False
    #: Staff refunded the order's payment, so its service was withdrawn (the add-on removed,
    #: a new eSIM suspended: docs/business-rules.md#voids-and-refunds).
    refunded: bool = False


async def order_view(session: AsyncSession, *, order_id: str, user_id: int) -> OrderView | None:
    """The order ``order_id`` if it belongs to ``user_id``; ``None`` otherwise (callers
    answer 404 either way, so another traveler's order ids reveal nothing)."""
    order = await ownership.bought_order(session, user_id, order_id)
    if order is None:
        return None
    steps = (
        await session.exec(
            select(ProvisioningStep)
            .where(ProvisioningStep.order_id == order.id)
            .order_by(col(ProvisioningStep.seq))
        )
    ).all()
    texts = await texts_for(session, [order.plan_id])
    return await _view(session, order, list(steps), texts, user_id)


def _destination(checkout: Checkout | None, plan: Plan | None) -> countries.Country | None:
    code = checkout.destination if checkout is not None else None
    if not code and plan is not None and len(plan.destinations) == 1:
        code = plan.destinations[0]
    if not code:
        return None
    try:
        return countries.country(code)
    except KeyError:
        return None


async def _view(
    session: AsyncSession,
    order: Order,
    steps: list[ProvisioningStep],
    texts: Texts,
    viewer_id: int,
) -> OrderView:
    plan = await session.get(Plan, order.plan_id)
    esim = await session.get(Esim, order.esim_id)
    place = _destination(await session.get(Checkout, order.checkout_id), plan)
    scheduled = order.status == OrderStatus.PAID and order.next_attempt_at is not None
    payment = await session.get(Payment, order.payment_id)
    views = [
        StepView(s.name, s.status, s.error, shown_step_status(order.status, s.status))
        for s in steps
    ]
    return OrderView(
        order_id=order.id,
        reference=order.reference,
        status=order.status,
        kind=order.kind,
        plan_id=order.plan_id,
        plan_title=plan_title(plan, texts) if plan else order.plan_id,
        amount=format_money(order.amount_minor, order.currency),
        esim_id=order.esim_id,
        iccid=esim.iccid if esim else "",
        created_at=order.created_at,
        steps=views,
        retrying=scheduled,
        retry_pending=scheduled or any(v.shown == "retrying" for v in views),
        destination_code=place.code if place else "",
        destination_name=place.name if place else "",
        destination_flag=place.flag if place else "",
        holder=ownership.is_owner(esim, viewer_id),
        refunded=payment is not None and payment.status == PaymentStatus.REFUNDED,
    )


async def orders_of(session: AsyncSession, user_id: int) -> list[OrderView]:
    """Every order of ``user_id``, newest first (without steps)."""
    rows = (
        await session.exec(
            select(Order).where(Order.user_id == user_id).order_by(col(Order.created_at).desc())
        )
    ).all()
    texts = await texts_for(session, (o.plan_id for o in rows))
    return [await _view(session, o, [], texts, user_id) for o in rows]


@dataclass(frozen=True)
class ReceiptView:
    """A printable receipt, the order's invoice: amounts exactly as charged (minor units
    formatted), ``invoice_number`` ("" for an order from before invoices), the customer's
    country taxed (flag and name, "" when not recorded), ``vat_rate`` in percent ("20",
    "25.5"), ``outside_eu`` (no EU VAT: docs/business-rules.md#vat-evidence) and the
    ``credit_note_number`` of a refund ("" when none)."""

    reference: str
    date: datetime
    customer_email: str
    description: str
    iccid: str
    net: str
    vat: str
    vat_rate: str
    total: str
    payment: str
    status: str
    invoice_number: str = ""
    customer_country: str = ""
    outside_eu: bool = False
    #: The credit note cancelling the invoice after a refund ("" when none).
    credit_note_number: str = ""


#: How a receipt names the payment's state (``PaymentStatus``) to the traveler.
_PAYMENT_WORDS = {
    "authorized": N_("authorised; charged when your eSIM is delivered"),
    "succeeded": N_("paid"),
    "voided": N_("released; not charged"),
    "refunded": N_("refunded"),
    "flagged": N_("being checked by our team"),
    "waived": N_("no charge"),
}


async def receipt_view(
    session: AsyncSession, *, order_id: str, user_id: int, fallback_rate_bp: int = 0
) -> ReceiptView | None:
    """The receipt of ``order_id`` if it belongs to ``user_id``, else ``None``; its words
    (description, payment, country) in the active language (``travelsim.i18n``). The rate
    is the order's own; ``fallback_rate_bp`` (hundredths of a percent) only names the rate
    of an order from before rates were recorded on orders."""
    view = await order_view(session, order_id=order_id, user_id=user_id)
    order = await session.get(Order, order_id)
    if view is None or order is None:
        return None
    payment = await session.get(Payment, order.payment_id)
    user = await session.get(User, user_id)
    state = (
        (_(_PAYMENT_WORDS[payment.status]) if payment.status in _PAYMENT_WORDS else payment.status)
        if payment
        else _("unknown")
    )
    paid_with = (
        _("Card ending {last4} ({state})").format(last4=payment.card_last4, state=state)
        if payment and payment.card_last4
        else _("Card ({state})").format(state=state)
    )
    described = (
        _("Data top-up: {plan}")
        if order.kind == PurchaseKind.TOPUP
        else _("eSIM with data plan: {plan}")
    )
    return ReceiptView(
        reference=order.reference,
        date=order.created_at,
        customer_email=user.email if user else "",
        description=described.format(plan=view.plan_title),
        iccid=view.iccid,
        net=format_money(order.amount_minor - order.tax_minor, order.currency),
        vat=format_money(order.tax_minor, order.currency),
        vat_rate=format_rate(
            order.tax_rate_bp if order.tax_rate_bp is not None else fallback_rate_bp
        ),
        total=format_money(order.amount_minor, order.currency),
        payment=paid_with,
        status=order.status,
        invoice_number=order.invoice_number or "",
        customer_country=countries.label(order.tax_country),
        outside_eu=order.tax_rule == TaxRule.OUTSIDE_EU,
        credit_note_number=order.credit_note_number or "",
    )

"""The orders section: the orders list, one order's detail, retry provisioning and resending
the installation email. Voids and refunds: :mod:`.refunds`.

Retry provisioning (docs/business-rules.md#provisioning-retries)
    A ``needs_attention`` order gets its unfinished steps back to ``pending`` and runs again
    (done steps are skipped; their re-reads keep it safe). A voided payment stays voided: the
    delivery is then at the seller's expense, which the result says. An order waiting for its
    automatic retry (a transient platform fault, ``Order.next_attempt_at``) is run at once.
Actions offered
    Each action is offered only when it applies (``order_detail`` ``can_*`` flags and
    ``payment_action``: ``void`` (release the Stripe hold) before delivery while the payment
    is ``authorized``, ``succeeded`` or ``flagged``, ``refund`` after delivery while it is
    ``succeeded`` or still ``authorized`` (capture pending), else nothing), and the
    service refuses it otherwise (e.g. a second void: "the payment is already voided").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.formatting import format_bytes
from travelsim.models import (
    AccountDeletion,
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
    utcnow,
)
from travelsim.services import email, email_messages, gift_claim, ownership, provisioning, tax
from travelsim.services.admin.base import (
    DEFAULT_PER_PAGE,
    ActionResult,
    PageResult,
    Refused,
    RunOptions,
    Staff,
    _act,
    _like,
    _money,
    _paged,
    _sort,
    _sync_quietly,
    _when,
    run_in_progress,
)
from travelsim.services.admin.refunds import order_addon, refund_rule
from travelsim.settings import get_settings
from travelsim.sft.client import SFTClient

#: The order statuses the list filters on.
ORDER_STATUSES = tuple(OrderStatus)

_ORDER_SORTS: dict[str, Any] = {
    "created_at": col(Order.created_at),
    "status": col(Order.status),
    "amount": col(Order.amount_minor),
    "reference": col(Order.reference),
    "traveler": col(User.email),
}


async def list_orders(
    session: AsyncSession,
    *,
    status: str | None = None,
    traveler: str | None = None,
    iccid: str | None = None,
    reference: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    sort: str = "created_at",
    desc: bool = True,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> PageResult:
    """Orders filtered by ``status``, traveler email (substring), ICCID (substring),
    reference (substring) and creation date (UTC days ``date_from``..``date_to`` inclusive),
    sorted by ``created_at`` / ``status`` / ``amount`` / ``reference`` / ``traveler``."""
    query: Any = (
        sa_select(
            Order,
            col(User.email),
            col(Esim.iccid),
            col(Plan.display_name),
            col(Plan.sft_name),
            col(Payment.status),
        )
        .join(Esim, col(Esim.id) == col(Order.esim_id))
        .join(Payment, col(Payment.id) == col(Order.payment_id))
        .outerjoin(User, col(User.id) == col(Order.user_id))
        .outerjoin(Plan, col(Plan.plan_id) == col(Order.plan_id))
    )
    if status:
        query = query.where(col(Order.status) == status)
    if traveler:
        query = query.where(func.lower(col(User.email)).like(_like(traveler), escape="\\"))
    if iccid:
        query = query.where(col(Esim.iccid).like(_like(iccid), escape="\\"))
    if reference:
        query = query.where(func.lower(col(Order.reference)).like(_like(reference), escape="\\"))
    if date_from:
        query = query.where(col(Order.created_at) >= datetime.combine(date_from, time(), UTC))
    if date_to:
        end = datetime.combine(date_to, time(), UTC) + timedelta(days=1)
        query = query.where(col(Order.created_at) < end)
    rows, total, page, per_page = await _paged(
        session,
        query,
        _sort(_ORDER_SORTS, sort, desc, "created_at", col(Order.id)),
        page,
        per_page,
    )
    out = []
    for order, user_email, esim_iccid, display, sft_name, pay_status in rows:
        out.append(
            {
                "order_id": order.id,
                "reference": order.reference,
                "created": _when(order.created_at),
                "traveler": user_email or "(deleted)",
                "iccid": esim_iccid,
                "esim_id": str(order.esim_id),
                "plan": display or sft_name or order.plan_id,
                "kind": order.kind,
                "amount": _money(order.amount_minor, order.currency),
                "status": order.status,
                "payment": pay_status,
                "error": order.last_error or "",
            }
        )
    return PageResult(out, total, page, per_page)


def _offered(order: Order, payment: Payment | None, esim: Esim | None) -> dict[str, Any]:
    """The ``can_*`` flags, ``payment_action`` and automatic-retry line of
    :func:`order_detail` (module docstring "Actions offered")."""
    can_void = (
        payment is not None
        and payment.status
        in (PaymentStatus.AUTHORIZED, PaymentStatus.SUCCEEDED, PaymentStatus.FLAGGED)
        and order.status != OrderStatus.DELIVERED
    )
    can_refund = (
        payment is not None
        and payment.status in (PaymentStatus.AUTHORIZED, PaymentStatus.SUCCEEDED)
        and order.status == OrderStatus.DELIVERED
    )
    waiting = order.status == OrderStatus.PAID and order.next_attempt_at is not None
    return {
        "can_retry": order.status == OrderStatus.NEEDS_ATTENTION
        or waiting
        or (
            order.status in (OrderStatus.PAID, OrderStatus.PROVISIONING)
            and order.updated_at <= utcnow() - provisioning.DEFAULT_LEASE
        ),
        "can_void": can_void,
        "can_refund": can_refund,
        "payment_action": "refund" if can_refund else ("void" if can_void else ""),
        "retry": (
            f"automatic retry {order.retry_count} due {_when(order.next_attempt_at)} "
            f"(failing since {_when(order.first_failed_at)})"
            if waiting
            else ""
        ),
        "can_resend": order.kind == PurchaseKind.NEW_ESIM
        and order.status == OrderStatus.DELIVERED
        and bool(esim and esim.activation_code_enc),
    }


def _step_row(st: ProvisioningStep) -> dict[str, str]:
    """One provisioning step of :func:`order_detail` (duration in seconds)."""
    return {
        "name": st.name,
        "status": st.status,
        "attempts": str(st.attempts),
        "started": _when(st.started_at),
        "duration": (
            f"{(st.finished_at - st.started_at).total_seconds():.1f} s"
            if st.started_at and st.finished_at
            else ""
        ),
        "detail": st.detail or "",
        "error": st.error or "",
    }


async def order_detail(session: AsyncSession, order_id: str) -> dict[str, Any] | None:
    """One order with its payment, eSIM, traveler, add-on figures, provisioning steps
    (status, attempts, start, duration, error) and the refund decision on stored figures.
    ``None`` for an unknown id."""
    order = await session.get(Order, order_id)
    if order is None:
        return None
    payment = await session.get(Payment, order.payment_id)
    esim = await session.get(Esim, order.esim_id)
    user = await session.get(User, order.user_id) if order.user_id else None
    plan = await session.get(Plan, order.plan_id)
    steps = (
        await session.exec(
            select(ProvisioningStep)
            .where(col(ProvisioningStep.order_id) == order_id)
            .order_by(col(ProvisioningStep.seq))
        )
    ).all()
    addon = await order_addon(session, order)
    decision = refund_rule(
        kind=order.kind,
        profile_status=esim.profile_status if esim else None,
        used_bytes=addon.used_bytes if addon else None,
    )
    gift = await gift_claim.admin_gift(session, order)  # docs/business-rules.md#gifts
    return {
        "gift_recipient": gift["recipient"] if gift else "",
        "gift_status": gift["status"] if gift else "",
        "gift_sent": gift["sent_at"] if gift else "",
        "gift_claimed": (f"{gift['claimed_at']} {gift['claimed_by']}".strip() if gift else ""),
        "order_id": order.id,
        "reference": order.reference,
        "status": order.status,
        "kind": order.kind,
        "created": _when(order.created_at),
        "delivered": _when(order.delivered_at),
        "attempts": str(order.attempts),
        "last_error": order.last_error or "",
        "amount": _money(order.amount_minor, order.currency),
        "plan": (plan.display_name or plan.sft_name) if plan else order.plan_id,
        "plan_id": order.plan_id,
        "traveler": user.email if user else "(deleted)",
        "user_id": str(order.user_id or ""),
        "esim_id": str(order.esim_id),
        "iccid": esim.iccid if esim else "",
        "endpoint_id": esim.endpoint_id if esim else "",
        "profile_status": (esim.profile_status if esim else None) or "unknown",
        "addon_unique_id": order.addon_unique_id or "",
        "addon_used": format_bytes(addon.used_bytes) if addon else "unknown",
        "payment_status": payment.status if payment else "",
        "payment_provider": payment.provider if payment else "",
        "payment_ref": (payment.provider_ref or "") if payment else "",
        "card_last4": (payment.card_last4 or "") if payment else "",
        "invoice": _invoice_text(order),
        "refund_allowed": decision.allowed,
        "refund_reason": decision.reason,
        **_offered(order, payment, esim),
        "steps": [_step_row(st) for st in steps],
    }


def _invoice_text(order: Order) -> str:
    """The invoice line of the order detail: number, VAT, country and rate, the rule and its
    evidence (docs/business-rules.md#vat-evidence), e.g. "2026-000001 · VAT €1.65 · FR 20 % ·
    evidence_agree (card FR, stated FR)"; "" for an order without an invoice."""
    if not order.invoice_number:
        return ""
    rate = tax.format_rate(order.tax_rate_bp or 0)
    return (
        f"{order.invoice_number} · VAT {_money(order.tax_minor, order.currency)} · "
        f"{order.tax_country} {rate} % · {order.tax_rule} "
        f"(card {order.evidence_card_country or '?'}, "
        f"stated {order.evidence_stated_country or '?'})"
    )


async def _reopen(s: AsyncSession, order: Order) -> None:
    """A ``needs_attention`` order back to ``paid`` with its unfinished steps ``pending``
    and a new automatic-retry window (module docstring "Retry provisioning"); committed."""
    steps = (
        await s.exec(
            select(ProvisioningStep).where(
                col(ProvisioningStep.order_id) == order.id,
                col(ProvisioningStep.status) != StepStatus.DONE,
            )
        )
    ).all()
    for step in steps:
        step.status = StepStatus.PENDING
        step.error = None
        s.add(step)
    order.status = OrderStatus.PAID
    order.attempts = 0
    order.retry_count = 0  # a new automatic-retry window if it fails again
    order.first_failed_at = None
    order.next_attempt_at = None
    order.last_error = None
    order.updated_at = utcnow()
    s.add(order)
    await s.commit()


async def retry_provisioning(
    staff: Staff,
    order_id: str,
    *,
    client: SFTClient,
    run_options: RunOptions | None = None,
) -> ActionResult:
    """Run a stuck or ``needs_attention`` order's provisioning again (module docstring);
    waits for the run and reports its end state."""

    async def body() -> str:
        async with db.session() as s:
            order = await s.get(Order, order_id)
            if order is None:
                raise Refused("unknown order")
            payment = await s.get(Payment, order.payment_id)
            if order.status == OrderStatus.DELIVERED:
                raise Refused("the order is already delivered")
            if run_in_progress(order.status, order.updated_at):
                raise Refused("provisioning is running right now")
            if order.status == OrderStatus.NEEDS_ATTENTION:
                await _reopen(s, order)
            pay_status = payment.status if payment else ""
        # Staff ask for a run now: an automatic retry that is not due yet runs too.
        options: dict[str, Any] = {"force": True, **(run_options or {})}
        result = await provisioning.run_order(order_id, client=client, **options)
        if result.status == OrderStatus.DELIVERED:
            await _sync_quietly(client, [result.esim_id])
        note = (
            f"; payment {pay_status}: delivered at the seller's expense"
            if result.status == OrderStatus.DELIVERED
            and pay_status in (PaymentStatus.VOIDED, PaymentStatus.FLAGGED, PaymentStatus.REFUNDED)
            else ""
        )
        return f"provisioning run ended {result.status}{note}"

    return await _act(staff, "order.retry", "order", order_id, body)


async def resend_installation_email(staff: Staff, order_id: str) -> ActionResult:
    """Queue the installation email of a delivered new-eSIM order again (same content as at
    delivery: QR image, SM-DP+ address, link to the install page)."""

    async def body() -> str:
        async with db.session() as s:
            order = await s.get(Order, order_id)
            if order is None:
                raise Refused("unknown order")
            if order.kind != PurchaseKind.NEW_ESIM or order.status != OrderStatus.DELIVERED:
                raise Refused("only a delivered new-eSIM order has an installation email")
            esim = await s.get(Esim, order.esim_id)
            user = await s.get(User, order.user_id) if order.user_id else None
            plan = await s.get(Plan, order.plan_id)
            if esim is None or not esim.activation_code_enc:
                raise Refused("no activation code stored for this eSIM")
            if user is None or await s.get(AccountDeletion, user.id) is not None:
                raise Refused("the traveler's account no longer exists")
            if not ownership.is_owner(esim, user.id):  # docs/business-rules.md#gifts
                raise Refused(
                    "a gift: the buyer does not hold this eSIM, its QR is the recipient's"
                )
            title = (plan.display_name or plan.sft_name) if plan else order.plan_id
            message = email_messages.installation_email(
                order,
                esim,
                title=title,
                locale=email.recipient_locale(user),
                public_url=get_settings().public_url,
            )
            row = await email.enqueue(s, to=user.email, user_id=user.id, **message)
            await s.commit()
            return f"installation email queued (outbox #{row.id})"

    return await _act(staff, "order.resend_email", "order", order_id, body)

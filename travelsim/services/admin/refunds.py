"""Voids and refunds of an order's payment, and the rule deciding a refund.

Refund (docs/business-rules.md#voids-and-refunds; :func:`refund_rule`)
    Before delivery (order ``paid``/``needs_attention``, or ``provisioning`` whose run is dead)
    the payment is **voided** (no service was given) and the order is left ``needs_attention``
    with "payment voided by staff", so recovery never provisions it. After delivery the payment
    is **refunded** only when the traveler cannot have had anything from it: the order's add-on
    has no data used (usage known, 0 bytes) and, for a new eSIM, its profile was never
    downloaded or installed (``released`` = ready, or ``error`` = the download failed, F2).
    ``downloaded`` / ``installed`` / ``enabled`` / ``disabled`` / ``deleted`` mean the single-use
    code was consumed (F1), and unknown usage or install status cannot prove anything: all are
    refused with the reason. Staff may force a refused refund by giving a reason (at least
    :data:`FORCE_REASON_MIN` characters), recorded in the audit log. The figures are refreshed
    from SFT first. A refunded order's service is withdrawn: its add-on instance is removed
    from the endpoint (``PATCH endpoint removeAddonUniqueIds``, re-read before and after) and,
    for a new eSIM, the endpoint is suspended as a staff suspension (reason "3" CSR).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.esim.lifecycle import install_state
from travelsim.formatting import format_bytes
from travelsim.models import (
    Esim,
    EsimAddon,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    PurchaseKind,
    utcnow,
)
from travelsim.services import invoices
from travelsim.services.admin.base import (
    PRIORITY,
    ActionResult,
    Refused,
    Staff,
    _act,
    _sync_quietly,
    run_in_progress,
)
from travelsim.services.admin.esims import staff_lifecycle
from travelsim.services.payments import PaymentProvider, PaymentProviderError, get_provider
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTBusinessError, SFTOutcomeUnknown
from travelsim.sft.models import AddonStatus as PlatformAddonStatus

#: A forced refund needs a reason at least this long.
FORCE_REASON_MIN = 5


@dataclass(frozen=True)
class RefundDecision:
    """Whether a delivered order's payment may be refunded without forcing, and why."""

    allowed: bool
    reason: str


def refund_rule(*, kind: str, profile_status: str | None, used_bytes: int | None) -> RefundDecision:
    """The refund rule of the module docstring (docs/business-rules.md#voids-and-refunds).

    ``kind``: ``new_esim`` or ``topup``; ``profile_status``: the eSIM profile status last
    read from SFT; ``used_bytes``: data used on the order's add-on (``None`` = unknown).
    """
    if used_bytes is None:
        return RefundDecision(False, "data use of the add-on is unknown (refresh from SFT)")
    if used_bytes > 0:
        return RefundDecision(False, f"{format_bytes(used_bytes)} of data already used")
    if kind == PurchaseKind.NEW_ESIM:
        install = install_state(profile_status)
        if install in ("downloaded", "installed", "deleted"):
            return RefundDecision(
                False,
                f"the eSIM profile was {profile_status} (F1: its code is used up)",
            )
        if install == "unknown":
            return RefundDecision(False, "the eSIM's install status is unknown")
        if install == "error":
            return RefundDecision(True, "download failed (F2) and no data used")
        return RefundDecision(True, "never downloaded and no data used")
    return RefundDecision(True, "no data used on this add-on")


async def order_addon(session: AsyncSession, order: Order) -> EsimAddon | None:
    """The add-on instance ``order`` bought (``Order.addon_unique_id``), or ``None`` before
    it was subscribed or when its figures were never read."""
    if not order.addon_unique_id:
        return None
    return (
        await session.exec(
            select(EsimAddon).where(col(EsimAddon.unique_id) == order.addon_unique_id)
        )
    ).first()


async def refund_order(
    staff: Staff,
    order_id: str,
    *,
    client: SFTClient,
    force_reason: str | None = None,
    provider: PaymentProvider | None = None,
) -> ActionResult:
    """Void (before delivery) or refund (after delivery, :func:`refund_rule`, forced with a
    reason) an order's payment; a refund withdraws the service (module docstring)."""
    force = " ".join((force_reason or "").split())

    async def body() -> str:
        async with db.session() as s:
            order = await s.get(Order, order_id)
            if order is None:
                raise Refused("unknown order")
            payment = await s.get(Payment, order.payment_id)
            esim = await s.get(Esim, order.esim_id)
            assert payment is not None and esim is not None and esim.id is not None
            kind, status, esim_id = order.kind, order.status, esim.id
            pay_status, ref, prov_name = payment.status, payment.provider_ref, payment.provider
            updated_at = order.updated_at
        if pay_status in (PaymentStatus.VOIDED, PaymentStatus.REFUNDED):
            raise Refused(f"the payment is already {pay_status}")
        if pay_status not in (
            PaymentStatus.AUTHORIZED,
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FLAGGED,
        ):
            raise Refused(f"nothing to refund: the payment is {pay_status}")
        if not ref:
            raise Refused("the payment has no provider reference")
        prov = provider or get_provider(prov_name)
        if status != OrderStatus.DELIVERED:
            if run_in_progress(status, updated_at):
                raise Refused("provisioning is running right now; wait for it to end")
            return await _void(prov, order_id, ref)
        if pay_status not in (PaymentStatus.AUTHORIZED, PaymentStatus.SUCCEEDED):
            raise Refused(f"the payment is {pay_status}")
        await _sync_quietly(client, [esim_id])
        async with db.session() as s:
            order_row = await s.get(Order, order_id)
            esim_row = await s.get(Esim, esim_id)
            assert order_row is not None and esim_row is not None
            addon = await order_addon(s, order_row)
            decision = refund_rule(
                kind=kind,
                profile_status=esim_row.profile_status,
                used_bytes=addon.used_bytes if addon else None,
            )
            unique_id = order_row.addon_unique_id
            endpoint_id = esim_row.endpoint_id
        if not decision.allowed and len(force) < FORCE_REASON_MIN:
            raise Refused(
                f"refund refused: {decision.reason}. Give a reason to force it "
                f"(at least {FORCE_REASON_MIN} characters)."
            )
        withdrawn = await _withdraw(
            client, endpoint_id, unique_id, suspend=kind == PurchaseKind.NEW_ESIM
        )
        # Delivered but not captured yet (capture postponed or failed): releasing the hold
        # is the refund; nothing was charged (docs/payments.md#refunds).
        held = pay_status == PaymentStatus.AUTHORIZED
        try:
            if held:
                await prov.void(ref)
            else:
                await prov.refund(ref)
        except PaymentProviderError as exc:
            raise Refused(f"Stripe refused the refund ({exc.code}); nothing changed") from None
        async with db.session() as s:
            await _set_payment(
                s,
                order_id,
                PaymentStatus.VOIDED if held else PaymentStatus.REFUNDED,
                f"{'hold released' if held else 'refunded'} by staff: {decision.reason}",
            )
            # The invoice is cancelled by a credit note, in the same transaction.
            await invoices.issue_credit_note(s, order_id)
            await s.commit()
        await _sync_quietly(client, [esim_id])
        forced = "" if decision.allowed else f"; FORCED ({decision.reason}): {force}"
        return f"payment refunded ({decision.reason}){forced}; {withdrawn}"

    return await _act(staff, "order.refund", "order", order_id, body)


async def _void(prov: PaymentProvider, order_id: str, ref: str) -> str:
    """Void the payment of an undelivered order and leave the order ``needs_attention`` so
    recovery never provisions it (module docstring)."""
    try:
        await prov.void(ref)
    except PaymentProviderError as exc:
        raise Refused(
            f"Stripe refused to release the payment ({exc.code}); nothing changed"
        ) from None
    async with db.session() as s:
        await _set_payment(s, order_id, PaymentStatus.VOIDED, "voided by staff")
        order_row = await s.get(Order, order_id)
        assert order_row is not None
        order_row.status = OrderStatus.NEEDS_ATTENTION
        order_row.last_error = "payment voided by staff"
        order_row.updated_at = utcnow()
        s.add(order_row)
        await s.commit()
    return "payment voided (not delivered); order left needing attention"


async def _set_payment(
    s: AsyncSession, order_id: str, status: PaymentStatus, reason: str | None
) -> None:
    """Set the status (and ``failure_reason``, at most 200 characters) of the order's
    payment; not committed."""
    order = await s.get(Order, order_id)
    assert order is not None
    payment = await s.get(Payment, order.payment_id, populate_existing=True)
    assert payment is not None
    payment.status = status
    if reason:
        payment.failure_reason = reason[:200]
    payment.updated_at = utcnow()
    s.add(payment)


async def _withdraw(
    client: SFTClient, endpoint_id: str, unique_id: str | None, *, suspend: bool
) -> str:
    """Remove the add-on instance (re-read first and after an unknown outcome) and, for a
    new eSIM, suspend the endpoint as staff. Returns what was done."""
    done: list[str] = []
    if unique_id:
        rows = await client.addon_details(priority=PRIORITY, endpoint_id=endpoint_id)
        present = [
            r
            for r in rows
            if r.unique_id == unique_id and r.status != PlatformAddonStatus.DEACTIVATED
        ]
        if present:
            try:
                await client.modify_endpoint_addons(
                    endpoint_id, priority=PRIORITY, remove=[unique_id]
                )
            except (SFTOutcomeUnknown, SFTBusinessError):
                rows = await client.addon_details(priority=PRIORITY, endpoint_id=endpoint_id)
                if any(
                    r.unique_id == unique_id and r.status != PlatformAddonStatus.DEACTIVATED
                    for r in rows
                ):
                    raise
            done.append(f"add-on {unique_id} removed")
        else:
            done.append(f"add-on {unique_id} already gone")
    if suspend:
        done.append(await staff_lifecycle(client, endpoint_id, suspend=True))
    return ", ".join(done) or "nothing to withdraw"

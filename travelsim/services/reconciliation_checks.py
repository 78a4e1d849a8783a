"""The reconciliation's rules: from what Stripe, the portal and SFT say, the discrepancies
(docs/reconciliation.md#what-is-compared). Pure functions, no I/O.

:func:`find_discrepancies` takes the three sources (:class:`Sources`) and returns one
:class:`Finding` per disagreement, each with a stable ``key`` (``<kind>:<subject id>``) so a
later run finding the same thing names it the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from travelsim.formatting import format_money
from travelsim.models import DiscrepancyKind, OrderStatus, PaymentStatus
from travelsim.services.reconciliation_stripe import StripeIntent
from travelsim.sft.models import AddonDetail, AddonStatus

__all__ = [
    "LIVE_ADDON",
    "PAID_STATUSES",
    "UNPAID_STATUSES",
    "Finding",
    "OrderFacts",
    "Sources",
    "find_discrepancies",
]

#: Add-on statuses that still give service (an unknown status counts as live: it may).
LIVE_ADDON = frozenset({AddonStatus.WAITING, AddonStatus.ACTIVE, AddonStatus.UNKNOWN})
#: Portal payment statuses under which an order counts as paid for (``waived``: a staff order).
PAID_STATUSES = frozenset(
    {
        PaymentStatus.AUTHORIZED,
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FLAGGED,
        PaymentStatus.WAIVED,
    }
)
#: Portal payment statuses saying the money went back (or was never taken).
UNPAID_STATUSES = frozenset({PaymentStatus.REFUNDED, PaymentStatus.VOIDED})
#: Order statuses whose provisioning may still be running (its add-on may not be recorded).
IN_PROGRESS = frozenset({OrderStatus.PAID, OrderStatus.PROVISIONING})


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """One order and its payment as the portal's books have them. Money in minor units of
    the ISO 4217 ``currency``; ``created_at`` UTC; ``payment_ref`` the PaymentIntent
    (``pi_…``) for a Stripe payment."""

    order_id: str
    reference: str
    status: str
    amount_minor: int
    currency: str
    created_at: datetime
    addon_unique_id: str | None
    esim_id: int
    iccid: str
    endpoint_id: str
    payment_id: int
    payment_status: str
    payment_provider: str
    payment_ref: str | None

    @property
    def on_stripe(self) -> bool:
        """True for a card payment at Stripe (not a waived staff order)."""
        return self.payment_provider == "stripe" and bool(self.payment_ref)


@dataclass
class Sources:
    """What one run read.

    ``orders``: every order (any age: an old order's add-on may still be live);
    ``window_start``: UTC start of the period whose orders and PaymentIntents are checked;
    ``intents``: Stripe's PaymentIntents by id (``None``: Stripe does not have it);
    ``addons``: the add-ons SFT listed, per endpoint read (an endpoint whose read failed is
    absent); ``endpoints``: ``endpoint_id -> (esim id, ICCID)`` of the portal's endpoints;
    ``seen_addons``: add-on ``uniqueId`` the portal ever recorded (its usage figures);
    ``payment_refs``: the PaymentIntent of every portal payment, with or without an order."""

    orders: list[OrderFacts]
    window_start: datetime
    intents: dict[str, StripeIntent | None]
    addons: dict[str, list[AddonDetail]]
    endpoints: dict[str, tuple[int, str]] = field(default_factory=dict)
    seen_addons: set[str] = field(default_factory=set)
    payment_refs: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Finding:
    """One discrepancy found by a run (the fields of ``models.Discrepancy`` it sets)."""

    key: str
    kind: DiscrepancyKind
    detail: str
    occurred_at: datetime | None = None
    order_id: str | None = None
    payment_id: int | None = None
    payment_intent: str | None = None
    iccid: str | None = None
    endpoint_id: str | None = None
    addon_unique_id: str | None = None
    expected_minor: int | None = None
    expected_currency: str | None = None
    actual_minor: int | None = None
    actual_currency: str | None = None


def _money(amount_minor: int, currency: str) -> str:
    """Money as staff read it (English: staff texts stay English, docs/i18n.md)."""
    return format_money(amount_minor, currency, "en")


def _of_order(o: OrderFacts, kind: DiscrepancyKind, key: str, detail: str, **kw: object) -> Finding:
    return Finding(
        key=key,
        kind=kind,
        detail=detail[:500],
        occurred_at=o.created_at,
        order_id=o.order_id,
        payment_id=o.payment_id,
        payment_intent=o.payment_ref,
        iccid=o.iccid,
        endpoint_id=o.endpoint_id,
        addon_unique_id=o.addon_unique_id,
        expected_minor=o.amount_minor,
        expected_currency=o.currency,
        **kw,  # type: ignore[arg-type]
    )


def _undelivered(o: OrderFacts, src: Sources) -> str | None:
    """Why the captured order ``o`` has no delivered add-on, or ``None`` when it has one."""
    if o.status != OrderStatus.DELIVERED:
        return f"order {o.reference} is {o.status}"
    if not o.addon_unique_id:
        return f"order {o.reference} has no add-on"
    listed = src.addons.get(o.endpoint_id)
    if listed is None:  # the endpoint could not be read: nothing concluded
        return None
    row = next((a for a in listed if a.unique_id == o.addon_unique_id), None)
    if row is not None and row.status == AddonStatus.DEACTIVATED:
        return f"add-on {o.addon_unique_id} was removed on SFT"
    if row is None and o.addon_unique_id not in src.seen_addons:
        return f"add-on {o.addon_unique_id} was never seen on SFT"
    return None


def _order_findings(o: OrderFacts, src: Sources) -> Iterable[Finding]:
    """Kinds 1, 3, 6 and 7 for one order of the window."""
    if not o.on_stripe or o.payment_ref is None:
        return
    ref = o.payment_ref
    intent = src.intents.get(ref)
    if o.payment_status == PaymentStatus.SUCCEEDED and (intent is None or not intent.captured):
        said = "has no such PaymentIntent" if intent is None else f"says {intent.status}"
        yield _of_order(
            o,
            DiscrepancyKind.PORTAL_CAPTURE_MISSING,
            f"{DiscrepancyKind.PORTAL_CAPTURE_MISSING}:{o.payment_id}",
            f"the portal counts {o.reference} as captured; Stripe {said}",
            actual_minor=intent.captured_minor if intent else None,
            actual_currency=intent.currency if intent else None,
        )
    if intent is None:
        return
    if intent.captured or intent.held:
        amount = intent.captured_minor if intent.captured else intent.amount_minor
        if (amount, intent.currency) != (o.amount_minor, o.currency.upper()):
            yield _of_order(
                o,
                DiscrepancyKind.AMOUNT_MISMATCH,
                f"{DiscrepancyKind.AMOUNT_MISMATCH}:{ref}",
                f"Stripe {'captured' if intent.captured else 'holds'} "
                f"{_money(amount, intent.currency)} for {o.reference}, the order is "
                f"{_money(o.amount_minor, o.currency)}",
                actual_minor=amount,
                actual_currency=intent.currency,
            )
    if intent.refunded_minor > 0 and o.payment_status not in UNPAID_STATUSES:
        yield _of_order(
            o,
            DiscrepancyKind.REFUND_UNRECORDED,
            f"{DiscrepancyKind.REFUND_UNRECORDED}:{ref}",
            f"Stripe refunded {_money(intent.refunded_minor, intent.currency)} of "
            f"{o.reference}; the portal has the payment {o.payment_status}",
            actual_minor=intent.refunded_minor,
            actual_currency=intent.currency,
        )
    if (
        intent.captured
        and intent.refunded_minor == 0
        and o.payment_status not in UNPAID_STATUSES
        and (why := _undelivered(o, src)) is not None
    ):
        yield _of_order(
            o,
            DiscrepancyKind.PAID_NOT_DELIVERED,
            f"{DiscrepancyKind.PAID_NOT_DELIVERED}:{o.order_id}",
            f"captured {_money(intent.captured_minor, intent.currency)} but {why}",
            actual_minor=intent.captured_minor,
            actual_currency=intent.currency,
        )


def _addon_findings(src: Sources) -> Iterable[Finding]:
    """Kinds 2 and 4: each live add-on SFT listed on a portal endpoint, against its order."""
    by_addon = {o.addon_unique_id: o for o in src.orders if o.addon_unique_id}
    busy = {o.endpoint_id for o in src.orders if o.status in IN_PROGRESS}
    for endpoint_id, rows in sorted(src.addons.items()):
        _esim_id, iccid = src.endpoints.get(endpoint_id, (None, None))
        for a in rows:
            if a.status not in LIVE_ADDON:
                continue
            order = by_addon.get(a.unique_id)
            if order is None:
                if endpoint_id in busy:  # its order may not have recorded the add-on yet
                    continue
                yield Finding(
                    key=f"{DiscrepancyKind.ORPHAN_ADDON}:{a.unique_id}",
                    kind=DiscrepancyKind.ORPHAN_ADDON,
                    detail=(
                        f"add-on {a.unique_id} (plan {a.plan_id}, {a.status.lower()}) on "
                        f"ICCID {iccid} has no paid order"
                    )[:500],
                    occurred_at=a.subscribed_at,
                    iccid=iccid,
                    endpoint_id=endpoint_id,
                    addon_unique_id=a.unique_id,
                )
                continue
            intent = src.intents.get(order.payment_ref or "")
            refunded = order.payment_status in UNPAID_STATUSES or (
                intent is not None and intent.refunded_minor > 0
            )
            if refunded:
                where = (
                    f"the portal has the payment {order.payment_status}"
                    if order.payment_status in UNPAID_STATUSES
                    else f"Stripe refunded {_money(intent.refunded_minor, intent.currency)}"
                    if intent is not None
                    else ""
                )
                yield _of_order(
                    order,
                    DiscrepancyKind.REFUNDED_ADDON_LIVE,
                    f"{DiscrepancyKind.REFUNDED_ADDON_LIVE}:{order.order_id}",
                    f"{where}, but add-on {a.unique_id} is still {a.status.lower()} on SFT",
                    actual_minor=intent.refunded_minor if intent else None,
                    actual_currency=intent.currency if intent else None,
                )
            elif order.payment_status not in PAID_STATUSES:
                yield _of_order(
                    order,
                    DiscrepancyKind.ORPHAN_ADDON,
                    f"{DiscrepancyKind.ORPHAN_ADDON}:{a.unique_id}",
                    f"add-on {a.unique_id} is live but order {order.reference}'s payment is "
                    f"{order.payment_status}",
                )


def find_discrepancies(src: Sources) -> list[Finding]:
    """Every discrepancy in ``src`` (docs/reconciliation.md#what-is-compared), sorted by key;
    each key at most once."""
    found: dict[str, Finding] = {}
    for o in src.orders:
        if o.created_at >= src.window_start:
            for f in _order_findings(o, src):
                found.setdefault(f.key, f)
    for f in _addon_findings(src):
        found.setdefault(f.key, f)
    portal_refs = src.payment_refs | {o.payment_ref for o in src.orders if o.payment_ref}
    for ref, intent in sorted(src.intents.items()):
        if intent is None or not intent.captured or ref in portal_refs:
            continue
        if intent.refunded_minor >= intent.captured_minor:  # given back in full
            continue
        if intent.created < src.window_start:
            continue
        key = f"{DiscrepancyKind.STRIPE_UNKNOWN_CAPTURE}:{ref}"
        found.setdefault(
            key,
            Finding(
                key=key,
                kind=DiscrepancyKind.STRIPE_UNKNOWN_CAPTURE,
                detail=(
                    f"Stripe captured {_money(intent.captured_minor, intent.currency)} "
                    f"({ref}) that no portal payment names"
                ),
                occurred_at=intent.created,
                payment_intent=ref,
                actual_minor=intent.captured_minor,
                actual_currency=intent.currency,
            ),
        )
    return [found[k] for k in sorted(found)]

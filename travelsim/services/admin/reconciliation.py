"""The reconciliation section: the discrepancies list and the one action that resolves each
(docs/reconciliation.md#resolving).

One action per kind (:data:`ACTIONS`), each an audited staff action (``base._act``, action
``reconciliation.<action>``, target ``discrepancy <id>``) that marks the discrepancy
``resolved`` with who, when, what was done and the note:

* ``paid_not_delivered`` → **refund**: the order's payment through the admin refund path
  (``refunds.refund_order``: released or refunded, the service withdrawn; its own
  ``order.refund`` audit row). The note, when given, is the reason that forces a refund the
  refund rule refuses.
* ``orphan_addon`` and ``refunded_addon_live`` → **remove the add-on** from its endpoint on
  SFT (``PATCH endpoint removeAddonUniqueIds``, re-read before and after, as a refund's
  withdrawal does).
* ``refund_unrecorded`` → **record the refund**: the portal's payment becomes ``refunded``.
* ``stripe_unknown_capture`` → **refund at Stripe** (note required): nothing in the portal
  was sold for it.
* ``amount_mismatch`` and ``portal_capture_missing`` → **mark reviewed** (note required):
  staff settle it with the traveler or in Stripe; it stays resolved when found again.

Only an ``open`` discrepancy can be resolved; a refused action changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.models import (
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    Order,
    PaymentStatus,
    utcnow,
)
from travelsim.services import reconciliation
from travelsim.services.admin.base import (
    DEFAULT_PER_PAGE,
    PRIORITY,
    ActionResult,
    PageResult,
    Refused,
    Staff,
    _act,
    _money,
    _paged,
    _sort,
    _when,
)
from travelsim.services.admin.refunds import _set_payment, _withdraw, refund_order
from travelsim.services.payments import PaymentProvider, PaymentProviderError, get_provider
from travelsim.services.reconciliation import REVIEWED
from travelsim.sft.client import SFTClient

__all__ = [
    "ACTIONS",
    "NOTE_MIN",
    "Action",
    "count_by_status",
    "list_discrepancies",
    "resolve_discrepancy",
    "run_now",
]

#: A required note is at least this long.
NOTE_MIN = 5


@dataclass(frozen=True)
class Action:
    """The resolving action of a kind: ``name`` (audit ``reconciliation.<name>``, stored as
    the resolution), the button's ``label``, and whether a note is required."""

    name: str
    label: str
    note_required: bool


#: The one action of each kind (module docstring).
ACTIONS: dict[str, Action] = {
    DiscrepancyKind.PAID_NOT_DELIVERED: Action("refund", "Refund the payment", False),
    DiscrepancyKind.ORPHAN_ADDON: Action("remove_addon", "Remove the add-on on SFT", False),
    DiscrepancyKind.REFUNDED_ADDON_LIVE: Action("remove_addon", "Remove the add-on on SFT", False),
    DiscrepancyKind.REFUND_UNRECORDED: Action("record_refund", "Record the refund", False),
    DiscrepancyKind.STRIPE_UNKNOWN_CAPTURE: Action("refund_stripe", "Refund at Stripe", True),
    DiscrepancyKind.AMOUNT_MISMATCH: Action(REVIEWED, "Mark reviewed", True),
    DiscrepancyKind.PORTAL_CAPTURE_MISSING: Action(REVIEWED, "Mark reviewed", True),
}

#: Short names of the kinds for the list.
KIND_LABELS: dict[str, str] = {
    DiscrepancyKind.PAID_NOT_DELIVERED: "Paid, not delivered",
    DiscrepancyKind.ORPHAN_ADDON: "Add-on without paid order",
    DiscrepancyKind.AMOUNT_MISMATCH: "Amount differs",
    DiscrepancyKind.REFUNDED_ADDON_LIVE: "Refunded, add-on live",
    DiscrepancyKind.STRIPE_UNKNOWN_CAPTURE: "Capture unknown to portal",
    DiscrepancyKind.PORTAL_CAPTURE_MISSING: "Capture missing at Stripe",
    DiscrepancyKind.REFUND_UNRECORDED: "Refund not recorded",
}

_SORTS: dict[str, Any] = {
    "first_seen": col(Discrepancy.first_seen_at),
    "last_seen": col(Discrepancy.last_seen_at),
    "kind": col(Discrepancy.kind),
    "resolved": col(Discrepancy.resolved_at),
}


def _row(d: Discrepancy) -> dict[str, str]:
    action = ACTIONS.get(d.kind)
    ids = [
        f"order {d.order_id}" if d.order_id else "",
        d.payment_intent or "",
        f"ICCID {d.iccid}" if d.iccid else "",
        f"add-on {d.addon_unique_id}" if d.addon_unique_id else "",
    ]
    return {
        "id": str(d.id),
        "kind": d.kind,
        "kind_label": KIND_LABELS.get(d.kind, d.kind),
        "status": d.status,
        "detail": d.detail,
        "ids": " · ".join(i for i in ids if i),
        "order_id": d.order_id or "",
        "expected": _money(d.expected_minor, d.expected_currency),
        "actual": _money(d.actual_minor, d.actual_currency),
        "first_seen": _when(d.first_seen_at),
        "last_seen": _when(d.last_seen_at),
        "action": action.name if action else "",
        "action_label": action.label if action else "",
        "note_required": "yes" if action and action.note_required else "",
        "resolved": _when(d.resolved_at),
        "resolved_by": d.resolved_by or "",
        "resolution": d.resolution or "",
        "resolution_note": d.resolution_note or "",
    }


async def list_discrepancies(
    session: AsyncSession,
    *,
    history: bool = False,
    kind: str | None = None,
    sort: str = "first_seen",
    desc: bool = True,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> PageResult:
    """Open discrepancies (``history=False``) or resolved and cleared ones, optionally of
    one ``kind``; rows of display strings (times UTC, money formatted) with the resolving
    action's name and label."""
    query: Any = select(Discrepancy)
    if history:
        query = query.where(col(Discrepancy.status) != DiscrepancyStatus.OPEN)
    else:
        query = query.where(col(Discrepancy.status) == DiscrepancyStatus.OPEN)
    if kind:
        query = query.where(col(Discrepancy.kind) == kind)
    default = "resolved" if history else "first_seen"
    rows, total, page, per_page = await _paged(
        session,
        query,
        _sort(_SORTS, sort if sort in _SORTS else default, desc, default, col(Discrepancy.id)),
        page,
        per_page,
    )
    return PageResult([_row(d) for (d,) in rows], total, page, per_page)


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    """Discrepancies per status (``open``, ``resolved``, ``cleared``; 0 when none)."""
    counts = dict.fromkeys(DiscrepancyStatus, 0)
    for status, n in (
        await session.execute(
            select(col(Discrepancy.status), func.count()).group_by(col(Discrepancy.status))
        )
    ).all():
        counts[status] = int(n)
    return {str(k): v for k, v in counts.items()}


async def _fix(
    d: Discrepancy,
    staff: Staff,
    note: str,
    client: SFTClient,
    provider: PaymentProvider | None,
) -> str:
    """Carry out the kind's action (module docstring); returns what was done. Raises
    :class:`Refused` when it cannot be done (nothing changed)."""
    kind = d.kind
    if kind == DiscrepancyKind.PAID_NOT_DELIVERED:
        if not d.order_id:
            raise Refused("this discrepancy names no order")
        outcome = await refund_order(
            staff, d.order_id, client=client, force_reason=note or None, provider=provider
        )
        if not outcome.ok:
            raise Refused(f"refund not done: {outcome.message}")
        return outcome.message
    if kind in (DiscrepancyKind.ORPHAN_ADDON, DiscrepancyKind.REFUNDED_ADDON_LIVE):
        if not (d.endpoint_id and d.addon_unique_id):
            raise Refused("this discrepancy names no add-on")
        return await _withdraw(client, d.endpoint_id, d.addon_unique_id, suspend=False)
    if kind == DiscrepancyKind.REFUND_UNRECORDED:
        if not d.order_id:
            raise Refused("this discrepancy names no order")
        async with db.session() as s:
            order = await s.get(Order, d.order_id)
            if order is None:
                raise Refused("unknown order")
            await _set_payment(
                s, d.order_id, PaymentStatus.REFUNDED, "refund found at Stripe by reconciliation"
            )
            await s.commit()
        return f"payment of order {d.order_id} recorded as refunded"
    if kind == DiscrepancyKind.STRIPE_UNKNOWN_CAPTURE:
        if not d.payment_intent:
            raise Refused("this discrepancy names no PaymentIntent")
        try:
            await (provider or get_provider()).refund(d.payment_intent)
        except PaymentProviderError as exc:
            raise Refused(f"Stripe refused the refund ({exc.code}); nothing changed") from None
        return f"{d.payment_intent} refunded at Stripe"
    return "marked reviewed"


async def resolve_discrepancy(
    staff: Staff,
    discrepancy_id: int,
    *,
    note: str = "",
    client: SFTClient,
    provider: PaymentProvider | None = None,
) -> ActionResult:
    """Resolve an open discrepancy with its kind's one action (module docstring), audited
    as ``reconciliation.<action>``. ``note``: free text (spaces collapsed, at most 900
    characters), required (at least :data:`NOTE_MIN` characters) where the action says so.
    Never raises: a refusal or failure is the result."""
    clean = " ".join((note or "").split())[:900]
    async with db.session() as s:
        found = await s.get(Discrepancy, discrepancy_id)
    action = ACTIONS.get(found.kind) if found else None
    name = action.name if action else "resolve"

    async def body() -> str:
        if found is None or action is None:
            raise Refused("unknown discrepancy")
        if found.status != DiscrepancyStatus.OPEN:
            raise Refused(f"this discrepancy is already {found.status}")
        if action.note_required and len(clean) < NOTE_MIN:
            raise Refused(f"{action.label}: write a note (at least {NOTE_MIN} characters)")
        done = await _fix(found, staff, clean, client, provider)
        async with db.session() as s:
            row = await s.get(Discrepancy, discrepancy_id)
            assert row is not None
            if row.status != DiscrepancyStatus.OPEN:
                raise Refused(f"this discrepancy is already {row.status}")
            row.status = DiscrepancyStatus.RESOLVED
            row.resolved_at = utcnow()
            row.resolved_by = staff.email[:254]
            row.resolved_by_user_id = staff.user_id
            row.resolution = action.name
            row.resolution_note = (done + (f"; note: {clean}" if clean else ""))[:1000]
            s.add(row)
            await s.commit()
        return f"{action.label}: {done}"

    return await _act(staff, f"reconciliation.{name}", "discrepancy", str(discrepancy_id), body)


async def run_now(staff: Staff, *, client: SFTClient) -> ActionResult:
    """Run the reconciliation now (``reconciliation.reconcile``, as the daily job does),
    audited as ``reconciliation.run``; the message sums up what it found. A Stripe failure
    is a ``failed`` result. Never raises."""

    async def body() -> str:
        report = await reconciliation.reconcile(client, priority=PRIORITY)
        unread = len(report.endpoints_failed)
        return (
            f"Reconciliation run: {report.found} found, {report.new} new, "
            f"{report.cleared} cleared, {report.open} open"
            + (f"; {unread} endpoints could not be read" if unread else "")
        )

    return await _act(staff, "reconciliation.run", "reconciliation", "all", body)

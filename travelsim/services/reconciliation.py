"""Money reconciliation: do Stripe, the portal's books and the SFT platform agree?
(docs/reconciliation.md). No Reflex.

:func:`reconcile` is one run, for the daily job (``services.jobs.reconcile``) and ``python
-m travelsim.cli reconcile``:

1. **Read the portal**: every order with its payment and eSIM, every payment's
   PaymentIntent, the add-on instances the portal ever recorded.
2. **Read Stripe** (``reconciliation_stripe.read_intents``): the PaymentIntents of the
   window (``RECONCILIATION_WINDOW_DAYS``, ending now) and each window order's own.
   A Stripe failure ends the run before anything is stored.
3. **Read SFT**: the add-ons of each endpoint the portal sold (Get Endpoint Add-on Details
   per endpoint, docs/sft-platform.md#get-endpoint-add-on-details, at ``Priority.SYNC``).
   An endpoint that cannot be read is skipped and counted; nothing about it is concluded.
4. **Compare** (``reconciliation_checks.find_discrepancies``) and **store**: a finding
   whose key is new inserts a :class:`~travelsim.models.Discrepancy`; one already stored
   gets its ``last_seen_at`` and figures updated (a ``cleared`` one, or one a staff action
   fixed, is ``open`` again; one staff marked ``reviewed`` stays resolved). An ``open`` one
   the run no longer finds is ``cleared`` automatically, unless its subject is older than
   the window or its endpoint could not be read.
5. **Tell staff** about new discrepancies, once: one email (``STAFF_ALERT_EMAIL``, else
   every staff account) through the outbox, in the same transaction that stores them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.db import SessionFactory
from travelsim.models import (
    Discrepancy,
    DiscrepancyStatus,
    Esim,
    EsimAddon,
    InventoryState,
    Order,
    Payment,
    User,
    utcnow,
)
from travelsim.services import email
from travelsim.services.reconciliation_checks import (
    Finding,
    OrderFacts,
    Sources,
    find_discrepancies,
)
from travelsim.services.reconciliation_stripe import read_intents
from travelsim.settings import Settings, get_settings
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTError
from travelsim.sft.models import AddonDetail, Priority
from travelsim.stripe_config import StripeConfig

__all__ = [
    "AUTO_ACTOR",
    "REVIEWED",
    "ReconcileReport",
    "open_count",
    "reconcile",
    "staff_recipients",
]

log = logging.getLogger(__name__)

#: ``Discrepancy.resolved_by`` of an automatic clearing.
AUTO_ACTOR = "reconciliation"
#: ``Discrepancy.resolution`` of a discrepancy staff acknowledged without changing anything:
#: it stays resolved when found again.
REVIEWED = "reviewed"
#: Discrepancies listed in one staff email (the rest are counted).
EMAIL_LISTED = 50


@dataclass
class ReconcileReport:
    """What one run did: ``found`` discrepancies (``by_kind``), ``new`` (first seen now),
    ``reopened``, ``cleared`` (no longer found), ``open`` afterwards, ``emailed`` (staff
    emails queued), ``intents`` (PaymentIntents read), ``endpoints`` (read) and
    ``endpoints_failed`` (ids whose add-ons could not be read)."""

    found: int = 0
    new: int = 0
    reopened: int = 0
    cleared: int = 0
    open: int = 0
    emailed: int = 0
    intents: int = 0
    endpoints: int = 0
    endpoints_failed: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)


async def staff_recipients(s: AsyncSession, settings: Settings) -> list[tuple[str, int | None]]:
    """Who staff alerts go to: ``STAFF_ALERT_EMAIL`` when set, else every staff account
    (``(address, user id or None)``), as the low-stock alert does."""
    if settings.staff_alert_email:
        return [(settings.staff_alert_email, None)]
    rows = (await s.exec(select(User).where(col(User.is_staff).is_(True)))).all()
    return [(u.email, u.id) for u in rows]


async def open_count(session: AsyncSession) -> int:
    """Open discrepancies now (the admin overview's figure)."""
    rows = await session.exec(
        select(col(Discrepancy.id)).where(col(Discrepancy.status) == DiscrepancyStatus.OPEN)
    )
    return len(rows.all())


async def _read_portal(
    s: AsyncSession,
) -> tuple[list[OrderFacts], set[str], set[str], dict[str, tuple[int, str]]]:
    """Orders (with payment and eSIM), every payment's PaymentIntent, every recorded add-on
    instance, and the endpoints to read (sold eSIMs and every ordered one)."""
    rows = (
        await s.exec(
            select(Order, Payment, Esim)
            .join(Payment, col(Payment.id) == col(Order.payment_id))
            .join(Esim, col(Esim.id) == col(Order.esim_id))
            .order_by(col(Order.created_at))
        )
    ).all()
    orders = [
        OrderFacts(
            order_id=o.id,
            reference=o.reference,
            status=o.status,
            amount_minor=o.amount_minor,
            currency=o.currency,
            created_at=o.created_at,
            addon_unique_id=o.addon_unique_id,
            esim_id=int(e.id or 0),
            iccid=e.iccid,
            endpoint_id=e.endpoint_id,
            payment_id=int(p.id or 0),
            payment_status=p.status,
            payment_provider=p.provider,
            payment_ref=p.provider_ref,
        )
        for o, p, e in rows
    ]
    refs = {r for r in (await s.exec(select(col(Payment.provider_ref)))).all() if r}
    seen = set((await s.exec(select(col(EsimAddon.unique_id)))).all())
    sold = (
        await s.exec(
            select(Esim).where(
                (col(Esim.state) == InventoryState.ASSIGNED)
                | col(Esim.id).in_({o.esim_id for o in orders} or {-1})
            )
        )
    ).all()
    endpoints = {e.endpoint_id: (int(e.id or 0), e.iccid) for e in sold}
    return orders, refs, seen, endpoints


async def _read_sft(
    client: SFTClient, endpoints: dict[str, tuple[int, str]], priority: Priority
) -> tuple[dict[str, list[AddonDetail]], list[str]]:
    listed: dict[str, list[AddonDetail]] = {}
    failed: list[str] = []
    for endpoint_id in sorted(endpoints):
        try:
            listed[endpoint_id] = await client.addon_details(
                priority=priority, endpoint_id=endpoint_id
            )
        except SFTError as exc:
            log.warning("reconciliation: add-ons of %s not read: %s", endpoint_id, exc)
            failed.append(endpoint_id)
    return listed, failed


def _apply(row: Discrepancy, f: Finding, now: datetime) -> None:
    """Copy a finding's ids, amounts and text onto its stored row (seen now)."""
    for name in (
        "kind",
        "detail",
        "occurred_at",
        "order_id",
        "payment_id",
        "payment_intent",
        "iccid",
        "endpoint_id",
        "addon_unique_id",
        "expected_minor",
        "expected_currency",
        "actual_minor",
        "actual_currency",
    ):
        setattr(row, name, getattr(f, name))
    row.last_seen_at = now


def _reopen(row: Discrepancy) -> None:
    row.status = DiscrepancyStatus.OPEN
    row.resolved_at = row.resolved_by = row.resolved_by_user_id = None
    row.resolution = row.resolution_note = None


async def _store(
    s: AsyncSession,
    findings: list[Finding],
    *,
    now: datetime,
    window_start: datetime,
    unread: set[str],
    report: ReconcileReport,
) -> list[Discrepancy]:
    """Insert, refresh, reopen and clear (module docstring); returns the new rows. Not
    committed."""
    keys = {f.key for f in findings}
    stored = {
        r.key: r
        for r in (
            await s.exec(
                select(Discrepancy).where(
                    col(Discrepancy.key).in_(keys or {""})
                    | (col(Discrepancy.status) == DiscrepancyStatus.OPEN)
                )
            )
        ).all()
    }
    new: list[Discrepancy] = []
    for f in findings:
        row = stored.get(f.key)
        if row is None:
            row = Discrepancy(key=f.key, kind=f.kind, first_seen_at=now, last_seen_at=now)
            _apply(row, f, now)
            s.add(row)
            new.append(row)
            continue
        _apply(row, f, now)
        if row.status == DiscrepancyStatus.CLEARED or (
            row.status == DiscrepancyStatus.RESOLVED and row.resolution != REVIEWED
        ):
            _reopen(row)
            report.reopened += 1
        s.add(row)
    for key, row in stored.items():
        if key in keys or row.status != DiscrepancyStatus.OPEN:
            continue
        if row.occurred_at is not None and row.occurred_at < window_start:
            continue  # outside the window: not looked at, so not known to be gone
        if row.endpoint_id is not None and row.endpoint_id in unread:
            continue
        row.status = DiscrepancyStatus.CLEARED
        row.resolved_at = now
        row.resolved_by = AUTO_ACTOR
        row.resolution = "cleared"
        row.resolution_note = f"no longer found by the run of {now:%Y-%m-%d %H:%M} UTC"
        s.add(row)
        report.cleared += 1
    await s.flush()
    return new


async def _notify(
    s: AsyncSession, new: list[Discrepancy], settings: Settings, now: datetime
) -> int:
    """One email about the ``new`` discrepancies to each staff recipient; marks them
    notified when at least one was queued. Not committed. Returns the emails queued."""
    if not new:
        return 0
    recipients = await staff_recipients(s, settings)
    lines = [f"- {r.kind}: {r.detail}" for r in new[:EMAIL_LISTED]]
    if len(new) > EMAIL_LISTED:
        lines.append(f"- … and {len(new) - EMAIL_LISTED} more")
    text = (
        f"The reconciliation of Stripe, the portal's orders and SFT found {len(new)} new "
        "discrepanc" + ("y" if len(new) == 1 else "ies") + ":\n\n" + "\n".join(lines) + "\n\n"
        "Each one has a resolving action on the staff page Admin > Reconciliation "
        "(/admin/reconciliation).\n"
    )
    queued = 0
    for address, user_id in recipients:
        try:
            await email.enqueue(
                s,
                to=address,
                user_id=user_id,
                subject=f"Reconciliation: {len(new)} new discrepanc"
                + ("y" if len(new) == 1 else "ies"),
                text=text,
                kind="staff_reconciliation",
            )
            queued += 1
        except ValueError as exc:
            log.warning("reconciliation email not queued for a recipient: %s", exc)
    if not recipients:
        log.warning("new discrepancies but no staff recipient (set STAFF_ALERT_EMAIL)")
    if queued:
        for row in new:
            row.notified_at = now
            s.add(row)
    return queued


async def reconcile(
    client: SFTClient,
    *,
    settings: Settings | None = None,
    session_factory: SessionFactory = db.session,
    now: datetime | None = None,
    stripe: StripeConfig | None = None,
    priority: Priority = Priority.SYNC,
) -> ReconcileReport:
    """One reconciliation run (module docstring). ``now`` (UTC, default the current time)
    ends the window; ``stripe``: default ``stripe_config()``. Returns a
    :class:`ReconcileReport`. Raises ``PaymentProviderError`` when Stripe cannot be read
    (nothing stored then). Two runs at once store each key once: the one that loses the
    race reads the stored rows again and applies its findings to them."""
    s_ = settings or get_settings()
    at = now or utcnow()
    window_start = at - timedelta(days=s_.reconciliation_window_days)
    async with session_factory() as s:
        orders, refs, seen, endpoints = await _read_portal(s)
    window_refs = {o.payment_ref for o in orders if o.payment_ref and o.created_at >= window_start}
    intents = await read_intents(window_start, window_refs, config=stripe)
    addons, failed = await _read_sft(client, endpoints, priority)
    findings = find_discrepancies(
        Sources(
            orders=orders,
            window_start=window_start,
            intents=intents,
            addons=addons,
            endpoints=endpoints,
            seen_addons=seen,
            payment_refs=refs,
        )
    )
    report = ReconcileReport(
        found=len(findings),
        intents=sum(1 for i in intents.values() if i is not None),
        endpoints=len(addons),
        endpoints_failed=failed,
    )
    for f in findings:
        report.by_kind[f.kind] = report.by_kind.get(f.kind, 0) + 1
    for attempt in (1, 2):
        counted = ReconcileReport()
        async with session_factory() as s:
            try:
                new = await _store(
                    s,
                    findings,
                    now=at,
                    window_start=window_start,
                    unread=set(failed),
                    report=counted,
                )
                emailed = await _notify(s, new, s_, at)
                await s.commit()
            except IntegrityError:  # another run stored one of the keys first: read again
                await s.rollback()
                if attempt == 2:
                    raise
                continue
            report.open = await open_count(s)
        report.new, report.emailed = len(new), emailed
        report.reopened, report.cleared = counted.reopened, counted.cleared
        break
    log.info(
        "reconciliation: %d found, %d new, %d cleared",
        report.found,
        report.new,
        report.cleared,
        extra={"by_kind": report.by_kind},
    )
    return report

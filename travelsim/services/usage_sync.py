"""The usage sync: read each eSIM's figures from SFT and store only what changed. No Reflex.

For each eSIM the platform is read with three calls (docs/business-rules.md#usage-sync): Get
Endpoint Add-on Details by ``endPointId`` (docs/sft-platform.md#get-endpoint-add-on-details; when
that read fails the client builds the add-ons from the profile instead, same section),
GetEndPointProfile (docs/sft-platform.md#getendpointprofile: endpoint status, lifecycle reason, eSIM
profile status) and GetStatistics for the last :data:`STATS_DAYS` UTC days
(docs/sft-platform.md#getstatistics). Only when all three succeed is anything written (per eSIM, one
transaction), and **only what changed** is written:

* ``EsimAddon``: inserted when new; updated only when one of its platform fields differs
  (status, figures, dates, plan, priority, validity, activation). ``figures_at`` and
  ``updated_at`` move only with such a change. An instance the platform no longer lists
  while it was live has **ended**: the platform removes a One-Time add-on once it has expired
  or is used up (docs/sft-platform.md#queryrateplan, 4.13 release). Which of the two is decided
  from what was last stored (:func:`ended_status`); its figures are kept as last read.
* ``UsageDay``: inserted or updated only when the day's bytes differ. Days are never deleted.
* ``Esim.endpoint_status`` / ``Esim.profile_status``: mirrored only when they differ.
* ``EsimSync``: ``endpoint_status``/``lifecycle_reason``/``profile_status`` only when they
  differ; the **timestamps** ``synced_at`` and ``attempted_at`` are written on every sync
  (that is the only write an unchanged refresh makes: one row; it is not counted as a
  changed row). ``synced_at`` is what the dashboard shows as "updated at": the moment the
  read began, so every figure stored is at least that fresh.

Reads of one eSIM can overlap (scheduler, traveler and staff refreshes), and one begun first
may be stored last: a read is dropped whole when one begun later (``EsimSync.synced_at``) is
stored. That check, a conditional update of ``EsimSync``, is the transaction's first
statement, so a concurrent store waits for it (a row or write lock).

A failure of one eSIM (any SFT error, or an unexpected error) is recorded in
``EsimSync.last_error`` (with ``attempted_at``) and the others carry on.

A traveler's "refresh now" (:mod:`travelsim.services.usage_refresh`) is the same sync of one
eSIM at the traveler's priority. What the stored figures mean to a traveler is read by
:mod:`travelsim.services.my_esims` and :mod:`travelsim.services.esim_dashboard`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.db import SessionFactory
from travelsim.esim.addons import LIVE_STATUSES
from travelsim.models import AddonState, Esim, EsimAddon, EsimSync, UsageDay, utcnow
from travelsim.services import figures_hooks
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTError
from travelsim.sft.models import (
    ActivatedBy,
    AddonDetail,
    AddonStatus,
    DailyUsage,
    EndpointProfile,
    Priority,
)

__all__ = [
    "STATS_DAYS",
    "SYNC_CONCURRENCY",
    "EsimSyncOutcome",
    "SyncResult",
    "ended_status",
    "sync_esims",
    "utc_day",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: Days of statistics read per sync (today and the 29 UTC days before it).
STATS_DAYS = 30
#: eSIMs synced concurrently by one :func:`sync_esims` call (the rate budget still applies).
SYNC_CONCURRENCY = 4

#: The platform's add-on status (wire enum) → the stored ``EsimAddon.status``.
_STATUS_MAP: dict[AddonStatus, AddonState] = {
    AddonStatus.WAITING: AddonState.WAITING,
    AddonStatus.ACTIVE: AddonState.ACTIVE,
    AddonStatus.EXHAUSTED: AddonState.USED_UP,
    AddonStatus.EXPIRED: AddonState.EXPIRED,
    AddonStatus.DEACTIVATED: AddonState.DEACTIVATED,
    AddonStatus.UNKNOWN: AddonState.UNKNOWN,
}
_ACTIVATED_BY_MAP: dict[ActivatedBy, str] = {
    ActivatedBy.IMMEDIATE: "immediate",
    ActivatedBy.ON_USAGE: "on_usage",
}


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of an aware ``moment`` (the days of ``UsageDay`` and of
    GetStatistics are UTC days)."""
    return moment.astimezone(UTC).date()


@dataclass(frozen=True)
class EsimSyncOutcome:
    """What one eSIM's sync did.

    Attributes:
        esim_id: the eSIM.
        ok: True when the platform was read and the database updated.
        error: why not (``None`` when ``ok``): ``"not_found"`` for an unknown eSIM id, or the
            error type and message (never a token or matching ID).
        addons_inserted / addons_updated: ``EsimAddon`` rows inserted / changed.
        days_written: ``UsageDay`` rows inserted or changed.
        esim_updated: ``Esim.endpoint_status``/``profile_status`` changed.
        status_changed: ``EsimSync`` status fields (endpoint, reason, profile) changed or the
            row was created.
    """

    esim_id: int
    ok: bool
    error: str | None = None
    addons_inserted: int = 0
    addons_updated: int = 0
    days_written: int = 0
    esim_updated: bool = False
    status_changed: bool = False

    @property
    def changed_rows(self) -> int:
        """Rows whose content changed (timestamps-only ``EsimSync`` updates excluded)."""
        return (
            self.addons_inserted
            + self.addons_updated
            + self.days_written
            + int(self.esim_updated)
            + int(self.status_changed)
        )


@dataclass(frozen=True)
class SyncResult:
    """Outcome of :func:`sync_esims`: one :class:`EsimSyncOutcome` per requested id, in order."""

    outcomes: list[EsimSyncOutcome] = field(default_factory=list)

    @property
    def changed_rows(self) -> int:
        """Total rows whose content changed (see :attr:`EsimSyncOutcome.changed_rows`)."""
        return sum(o.changed_rows for o in self.outcomes)

    @property
    def synced(self) -> int:
        """eSIMs read and stored successfully."""
        return sum(1 for o in self.outcomes if o.ok)

    @property
    def failed(self) -> list[EsimSyncOutcome]:
        """Outcomes of the eSIMs that could not be synced."""
        return [o for o in self.outcomes if not o.ok]


@dataclass(frozen=True)
class _Read:
    addons: list[AddonDetail]
    profile: EndpointProfile
    days: list[DailyUsage]
    at: datetime  # when the read began


async def sync_esims(
    client: SFTClient,
    esim_ids: Iterable[int],
    *,
    priority: Priority,
    session_factory: SessionFactory = db.session,
    clock: Clock = utcnow,
    concurrency: int = SYNC_CONCURRENCY,
) -> SyncResult:
    """Refresh each eSIM from SFT and store only what changed (module docstring).

    Args:
        client: the SFT client (its rate budget is shared with every caller).
        esim_ids: ``Esim.id`` values (duplicates are synced once).
        priority: rate-budget priority: ``Priority.SYNC`` for the scheduler,
            ``Priority.REFRESH`` for a traveler's refresh.
        session_factory: async session context manager factory (commits are done here).
        clock: aware UTC "now", read as each eSIM's read begins (its ``figures_at`` and
            ``synced_at``, and the statistics window ``[today - 29 days, today]``).
        concurrency: eSIMs read at once (>= 1).

    Returns a :class:`SyncResult` once the hooks of the synced eSIMs ran
    (``figures_hooks.figures_changed``). Never raises for a platform error of one eSIM (recorded
    in ``EsimSync.last_error``); database errors other than a lost insert race propagate.
    """
    ids = list(dict.fromkeys(esim_ids))
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(esim_id: int) -> EsimSyncOutcome:
        async with gate:
            return await _sync_one(client, esim_id, priority, session_factory, clock)

    result = SyncResult(list(await asyncio.gather(*(one(i) for i in ids))))
    counts = {"synced": result.synced, "failed": len(result.failed)}
    log.info(
        "usage sync done", extra={"esims": len(ids), **counts, "changed_rows": result.changed_rows}
    )
    # Then what acts on new figures (the automatic top-up: docs/business-rules.md#automatic-top-up).
    await figures_hooks.figures_changed(
        [o.esim_id for o in result.outcomes if o.ok], session_factory
    )
    return result


async def _sync_one(
    client: SFTClient,
    esim_id: int,
    priority: Priority,
    factory: SessionFactory,
    clock: Clock,
) -> EsimSyncOutcome:
    async with factory() as s:
        esim = await s.get(Esim, esim_id)
        endpoint_id = esim.endpoint_id if esim is not None else None
    if endpoint_id is None:
        return EsimSyncOutcome(esim_id, False, "not_found")
    try:
        read = await _read_platform(client, endpoint_id, priority, clock)
    except Exception as exc:
        if not isinstance(exc, SFTError):
            log.exception("usage sync: unexpected error reading eSIM %s", esim_id)
        message = f"{type(exc).__name__}: {exc}"[:500]
        await _record_error(factory, esim_id, message, clock())
        return EsimSyncOutcome(esim_id, False, message)
    try:
        return await _store(factory, esim_id, read)
    except IntegrityError:
        # Another sync of the same eSIM inserted the same rows first: compare again.
        return await _store(factory, esim_id, read)


async def _read_platform(
    client: SFTClient, endpoint_id: str, priority: Priority, clock: Clock
) -> _Read:
    began = clock()
    today = utc_day(began)
    addons, profile = await client.addons_and_profile(endpoint_id, priority=priority)
    days = await client.statistics(
        endpoint_id, today - timedelta(days=STATS_DAYS - 1), today, priority=priority
    )
    return _Read(addons, profile, days, began)


async def _record_error(factory: SessionFactory, esim_id: int, message: str, at: datetime) -> None:
    async with factory() as s:
        row = await s.get(EsimSync, esim_id)
        if row is None:
            row = EsimSync(esim_id=esim_id)
        row.last_error = message
        row.attempted_at = at
        s.add(row)
        try:
            await s.commit()
        except IntegrityError:
            await s.rollback()


def _addon_values(d: AddonDetail) -> dict[str, Any]:
    return {
        "plan_id": d.plan_id,
        "plan_name": d.plan_name,
        "status": _STATUS_MAP.get(d.status, AddonState.UNKNOWN),
        "activated_by": _ACTIVATED_BY_MAP.get(d.activated_by) if d.activated_by else None,
        "priority": d.priority,
        "validity_days": d.validity_days,
        "subscribed_at": d.subscribed_at,
        "started_at": d.started_at,
        "expires_at": d.expires_at,
        "initial_bytes": d.initial_bytes,
        "remaining_bytes": max(d.remaining_bytes, 0),
        "used_bytes": max(d.used_bytes, 0),
    }


async def _store(factory: SessionFactory, esim_id: int, read: _Read) -> EsimSyncOutcome:
    """Write what changed in one transaction (module docstring); ``IntegrityError`` when a
    concurrent sync inserted the same rows first (rolled back, the caller compares again)."""
    at = read.at
    async with factory() as s:
        try:
            stored = await _stamp_sync_row(s, esim_id, at)
        except _NewerReadStored:
            await s.rollback()
            return EsimSyncOutcome(esim_id, True, None)
        esim = await s.get(Esim, esim_id)
        if esim is None:
            await s.rollback()
            return EsimSyncOutcome(esim_id, False, "not_found")
        inserted, updated = await _store_addons(s, esim_id, read.addons, at)
        days_written = await _store_days(s, esim_id, read.days)
        esim_updated = _store_esim_status(s, esim, read.profile, at)
        status_changed = await _store_sync_statuses(s, esim_id, stored, read.profile, at)
        try:
            await s.commit()
        except IntegrityError:
            await s.rollback()
            raise
    return EsimSyncOutcome(
        esim_id,
        True,
        None,
        addons_inserted=inserted,
        addons_updated=updated,
        days_written=days_written,
        esim_updated=esim_updated,
        status_changed=status_changed,
    )


async def _store_addons(
    s: AsyncSession, esim_id: int, details: Sequence[AddonDetail], at: datetime
) -> tuple[int, int]:
    """Insert new add-on instances, update changed ones, mark live ones no longer listed
    ``unknown``. Returns ``(inserted, updated)``. Does not commit."""
    existing = {
        a.unique_id: a
        for a in (await s.exec(select(EsimAddon).where(col(EsimAddon.esim_id) == esim_id))).all()
    }
    inserted = updated = 0
    seen: set[str] = set()
    for detail in details:
        seen.add(detail.unique_id)
        values = _addon_values(detail)
        row = existing.get(detail.unique_id)
        if row is None:
            s.add(
                EsimAddon(
                    esim_id=esim_id,
                    unique_id=detail.unique_id,
                    figures_at=at,
                    updated_at=at,
                    **values,
                )
            )
            inserted += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.figures_at = at
            row.updated_at = at
            s.add(row)
            updated += 1
    for unique_id, row in existing.items():
        if unique_id not in seen and row.status in LIVE_STATUSES:
            # Listed before, gone now: the platform removed it because it ended.
            row.status = ended_status(row, at)
            row.updated_at = at
            s.add(row)
            updated += 1
    return inserted, updated


def ended_status(row: EsimAddon, at: datetime) -> AddonState:
    """The status of a live add-on the platform no longer lists (removed once expired or used
    up: docs/sft-platform.md#queryrateplan), from what was last stored: 0 bytes left ->
    ``USED_UP``; else past its expiry at ``at`` (aware UTC) -> ``EXPIRED``; else ``USED_UP``
    (inferred: it had not reached its expiry, so its volume ran out after the figures last
    read, which lag traffic)."""
    if row.remaining_bytes is not None and row.remaining_bytes <= 0:
        return AddonState.USED_UP
    expires = row.expires_at
    if expires is not None:
        if expires.tzinfo is None:  # SQLite returns naive UTC
            expires = expires.replace(tzinfo=UTC)
        if at >= expires:
            return AddonState.EXPIRED
    return AddonState.USED_UP


async def _store_days(s: AsyncSession, esim_id: int, days: Sequence[DailyUsage]) -> int:
    """Insert or update the ``UsageDay`` rows whose bytes differ (the day's records summed,
    negative figures as 0). Returns the rows written. Does not commit."""
    if not days:
        return 0
    first = min(d.date for d in days)
    stored = {
        u.day: u
        for u in (
            await s.exec(
                select(UsageDay).where(col(UsageDay.esim_id) == esim_id, col(UsageDay.day) >= first)
            )
        ).all()
    }
    totals: dict[date, int] = {}
    for d in days:
        totals[d.date] = totals.get(d.date, 0) + max(d.bytes, 0)
    written = 0
    for day, nbytes in totals.items():
        row_day = stored.get(day)
        if row_day is None:
            s.add(UsageDay(esim_id=esim_id, day=day, bytes=nbytes))
            written += 1
        elif row_day.bytes != nbytes:
            row_day.bytes = nbytes
            s.add(row_day)
            written += 1
    return written


def _store_esim_status(s: AsyncSession, esim: Esim, prof: EndpointProfile, at: datetime) -> bool:
    """Mirror the reported endpoint and profile statuses on ``Esim`` when they differ (a
    status not reported is left as stored). True when the row changed. Does not commit."""
    esim_updated = False
    if prof.status is not None and esim.endpoint_status != prof.status:
        esim.endpoint_status = prof.status
        esim_updated = True
    if prof.esim_profile_status is not None and esim.profile_status != (prof.esim_profile_status):
        esim.profile_status = prof.esim_profile_status
        esim_updated = True
    if esim_updated:
        esim.updated_at = at
        s.add(esim)
    return esim_updated


class _NewerReadStored(Exception):
    """A read of the eSIM begun later than this one is stored already."""


_SyncStatuses = tuple[str | None, str | None, str | None]


async def _stamp_sync_row(s: AsyncSession, esim_id: int, at: datetime) -> _SyncStatuses | None:
    """Stamp ``EsimSync`` with this read (``synced_at``/``attempted_at`` = ``at``, no error)
    unless a read begun later is stored. Returns the stored ``(endpoint status, lifecycle
    reason, profile status)``, or ``None`` when the eSIM has no row yet. Raises
    :class:`_NewerReadStored` when a newer read is stored. Does not commit."""
    result: Any = await s.execute(
        update(EsimSync)
        .where(
            col(EsimSync.esim_id) == esim_id,
            or_(col(EsimSync.synced_at).is_(None), col(EsimSync.synced_at) <= at),
        )
        .values(synced_at=at, attempted_at=at, last_error=None)
        .returning(
            col(EsimSync.endpoint_status),
            col(EsimSync.lifecycle_reason),
            col(EsimSync.profile_status),
        )
        .execution_options(synchronize_session=False)
    )
    row = result.first()
    if row is not None:
        return (row[0], row[1], row[2])
    if await s.scalar(select(col(EsimSync.esim_id)).where(col(EsimSync.esim_id) == esim_id)):
        raise _NewerReadStored
    return None


async def _store_sync_statuses(
    s: AsyncSession,
    esim_id: int,
    stored: _SyncStatuses | None,
    prof: EndpointProfile,
    at: datetime,
) -> bool:
    """Write the ``EsimSync`` statuses when they differ from ``stored`` (the row is created,
    stamped with ``at``, when there was none). True when the row was created or a status
    changed. Does not commit."""
    new_status = (prof.status, prof.lifecycle_reason, prof.esim_profile_status)
    if stored == new_status:
        return False
    endpoint_status, reason, profile_status = new_status
    if stored is None:
        s.add(
            EsimSync(
                esim_id=esim_id,
                endpoint_status=endpoint_status,
                lifecycle_reason=reason,
                profile_status=profile_status,
                synced_at=at,
                attempted_at=at,
            )
        )
        return True
    await s.execute(
        update(EsimSync)
        .where(col(EsimSync.esim_id) == esim_id)
        .values(
            endpoint_status=endpoint_status,
            lifecycle_reason=reason,
            profile_status=profile_status,
        )
        .execution_options(synchronize_session=False)
    )
    return True

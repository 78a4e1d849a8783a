"""Usage sync and the "My eSIMs" read models. No Reflex.

Sync (:func:`sync_esims`, :func:`refresh_now`)
==============================================
For each eSIM the platform is read with three calls (docs/business-rules.md#usage-sync): Get
Endpoint Add-on Details by ``endPointId`` (docs/sft-platform.md#get-endpoint-add-on-details),
GetEndPointProfile (docs/sft-platform.md#getendpointprofile: endpoint status, lifecycle reason, eSIM
profile status) and GetStatistics for the last :data:`STATS_DAYS` UTC days
(docs/sft-platform.md#getstatistics). Only when all three succeed is anything written (per eSIM, one
transaction), and **only what changed** is written:

* ``EsimAddon``: inserted when new; updated only when one of its platform fields differs
  (status, figures, dates, plan, priority, validity, activation). ``figures_at`` and
  ``updated_at`` move only with such a change. An instance the platform no longer lists
  while it was live becomes ``unknown`` (never silently 0).
* ``UsageDay``: inserted or updated only when the day's bytes differ. Days are never deleted.
* ``Esim.endpoint_status`` / ``Esim.profile_status``: mirrored only when they differ.
* ``EsimSync``: ``endpoint_status``/``lifecycle_reason``/``profile_status`` only when they
  differ; the **timestamps** ``synced_at`` and ``attempted_at`` are written on every sync
  (that is the only write an unchanged refresh makes: one row; it is not counted as a
  changed row). ``synced_at`` is what the dashboard shows as "updated at".

A failure of one eSIM (any SFT error, or an unexpected error) is recorded in
``EsimSync.last_error`` (with ``attempted_at``) and the others carry on.

Read models (:func:`esim_dashboard`, :func:`esims_of`)
=====================================================
Bytes everywhere; datetimes aware UTC (pages render local time with the zone named,
docs/esim.md#time-zone-names). ``None`` means unknown and is never shown as 0
(docs/esim.md#f9-usage-lag). Statuses are the stored ones corrected for time
(``esim.addons.effective_status``).

Every eSIM has one **data state** (:data:`DataState`, on :class:`Dashboard` and
:class:`EsimSummary`; docs/business-rules.md#data-states), which pages turn into words, so that no
page has to guess from the figures:

* ``unknown``: the network has not reported the figures (never read, a live plan's figure
  not reported, or nothing live while a plan the platform stopped listing may still run).
  ``percent_remaining`` is ``None`` exactly in this state; nothing is claimed about plans
  or usage.
* ``live``: a plan is running or waiting, with known figures.
* ``used_up`` / ``expired``: no plan is running or waiting; the plan that ran last (the
  highest draw order among the ended ones, :attr:`Dashboard.last_plan`) was used up /
  expired. Remaining is a known 0 (0 %): the traveler needs to buy more data.
* ``no_plan``: read from the network, and no plan at all (none, or only removed ones).

Percentages are rounded down (:func:`travelsim.formatting.percent_left`,
docs/business-rules.md#figures-shown-to-travelers):
100 % only when nothing was used, 0 % only when nothing is left. Ownership: only the eSIM's
owner (``Esim.user_id``, state ``assigned``) sees or changes anything; other ids give
``None``, so they reveal nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.esim.addons import (
    LIVE_STATUSES,
    AddonOrder,
    order_addons,
)
from travelsim.esim.lifecycle import InstallState, endpoint_state, install_state, suspended_by_staff
from travelsim.formatting import percent_left
from travelsim.models import (
    Esim,
    EsimAddon,
    EsimSync,
    Order,
    Payment,
    ReplacementRequest,
    UsageDay,
    utcnow,
)
from travelsim.services import projection as proj
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
    "DEFAULT_COOLDOWN_SECONDS",
    "NICKNAME_MAX",
    "STALE_AFTER",
    "STATS_DAYS",
    "AddonView",
    "Dashboard",
    "DataState",
    "EsimSummary",
    "EsimSyncOutcome",
    "NicknameError",
    "RefreshOutcome",
    "SyncResult",
    "UsagePoint",
    "esim_dashboard",
    "esims_of",
    "install_state",
    "refresh_now",
    "rename_esim",
    "request_replacement",
    "sync_esims",
]

log = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Clock = Callable[[], datetime]

#: Days of statistics read per sync (today and the 29 UTC days before it).
STATS_DAYS = 30
#: Manual refresh cool-down per eSIM (seconds).
DEFAULT_COOLDOWN_SECONDS = 60
#: Figures older than this are flagged ``figures_stale`` on the dashboard.
STALE_AFTER = timedelta(hours=3)
#: Nickname length limits (characters, after trimming).
NICKNAME_MIN = 1
NICKNAME_MAX = 40
#: eSIMs synced concurrently by one :func:`sync_esims` call (the rate budget still applies).
SYNC_CONCURRENCY = 4

_STATUS_MAP: dict[AddonStatus, str] = {
    AddonStatus.WAITING: "waiting",
    AddonStatus.ACTIVE: "active",
    AddonStatus.EXHAUSTED: "used_up",
    AddonStatus.EXPIRED: "expired",
    AddonStatus.DEACTIVATED: "deactivated",
    AddonStatus.UNKNOWN: "unknown",
}
_ACTIVATED_BY_MAP: dict[ActivatedBy, str] = {
    ActivatedBy.IMMEDIATE: "immediate",
    ActivatedBy.ON_USAGE: "on_usage",
}
#: Fields of ``EsimAddon`` that come from the platform and are compared before writing.
_ADDON_FIELDS = (
    "plan_id",
    "plan_name",
    "status",
    "activated_by",
    "priority",
    "validity_days",
    "subscribed_at",
    "started_at",
    "expires_at",
    "initial_bytes",
    "remaining_bytes",
    "used_bytes",
)


def _owned(esim: Esim | None, user_id: int) -> bool:
    return esim is not None and esim.user_id == user_id and esim.state == "assigned"


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


# ============================================================================ sync
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
    at: datetime


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
        clock: aware UTC "now" (``figures_at``/``synced_at``, and the statistics window:
            ``[today - 29 days, today]`` of ``clock()``'s UTC date).
        concurrency: eSIMs read at once (>= 1).

    Returns a :class:`SyncResult`. Never raises for a platform error of one eSIM (recorded in
    ``EsimSync.last_error``); database errors other than a lost insert race propagate.
    """
    ids = list(dict.fromkeys(esim_ids))
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(esim_id: int) -> EsimSyncOutcome:
        async with gate:
            return await _sync_one(client, esim_id, priority, session_factory, clock)

    outcomes = await asyncio.gather(*(one(i) for i in ids))
    result = SyncResult(list(outcomes))
    log.info(
        "usage sync done",
        extra={
            "esims": len(ids),
            "synced": result.synced,
            "failed": len(result.failed),
            "changed_rows": result.changed_rows,
        },
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
    today = _utc_day(clock())
    addons = await client.addon_details(priority=priority, endpoint_id=endpoint_id)
    profile = await client.endpoint_profile(endpoint_id, priority=priority)
    days = await client.statistics(
        endpoint_id, today - timedelta(days=STATS_DAYS - 1), today, priority=priority
    )
    return _Read(addons, profile, days, clock())


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
        "status": _STATUS_MAP.get(d.status, "unknown"),
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
    at = read.at
    async with factory() as s:
        esim = await s.get(Esim, esim_id)
        if esim is None:
            return EsimSyncOutcome(esim_id, False, "not_found")
        existing = {
            a.unique_id: a
            for a in (
                await s.exec(select(EsimAddon).where(col(EsimAddon.esim_id) == esim_id))
            ).all()
        }
        inserted = updated = 0
        seen: set[str] = set()
        for detail in read.addons:
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
                # Listed before, gone now: we no longer know its state (not "0 left").
                row.status = "unknown"
                row.updated_at = at
                s.add(row)
                updated += 1

        days_written = 0
        if read.days:
            first = min(d.date for d in read.days)
            stored = {
                u.day: u
                for u in (
                    await s.exec(
                        select(UsageDay).where(
                            col(UsageDay.esim_id) == esim_id, col(UsageDay.day) >= first
                        )
                    )
                ).all()
            }
            totals: dict[date, int] = {}
            for d in read.days:
                totals[d.date] = totals.get(d.date, 0) + max(d.bytes, 0)
            for day, nbytes in totals.items():
                row_day = stored.get(day)
                if row_day is None:
                    s.add(UsageDay(esim_id=esim_id, day=day, bytes=nbytes))
                    days_written += 1
                elif row_day.bytes != nbytes:
                    row_day.bytes = nbytes
                    s.add(row_day)
                    days_written += 1

        prof = read.profile
        esim_updated = False
        if prof.status is not None and esim.endpoint_status != prof.status:
            esim.endpoint_status = prof.status
            esim_updated = True
        if prof.esim_profile_status is not None and esim.profile_status != (
            prof.esim_profile_status
        ):
            esim.profile_status = prof.esim_profile_status
            esim_updated = True
        if esim_updated:
            esim.updated_at = at
            s.add(esim)

        sync = await s.get(EsimSync, esim_id)
        status_changed = False
        if sync is None:
            sync = EsimSync(esim_id=esim_id)
            status_changed = True
        new_status = (prof.status, prof.lifecycle_reason, prof.esim_profile_status)
        if (sync.endpoint_status, sync.lifecycle_reason, sync.profile_status) != new_status:
            sync.endpoint_status, sync.lifecycle_reason, sync.profile_status = new_status
            status_changed = True
        sync.synced_at = at
        sync.attempted_at = at
        sync.last_error = None
        s.add(sync)
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


# ============================================================================ manual refresh
@dataclass(frozen=True)
class RefreshOutcome:
    """Result of :func:`refresh_now`.

    Attributes:
        status: ``"refreshed"`` (figures re-read), ``"cooling_down"`` (refreshed less than
            the cool-down ago: try again in ``retry_after_seconds``), ``"failed"`` (the
            platform could not be read: ``error``), ``"not_found"`` (no such eSIM for this
            user; says nothing about other users' eSIMs).
        retry_after_seconds: whole seconds to wait (> 0 only for ``cooling_down``).
        changed_rows: rows changed by the refresh (0 = the figures were already current).
        synced_at: aware UTC time of the last successful read, if any.
        error: failure description for ``failed``.
    """

    status: Literal["refreshed", "cooling_down", "failed", "not_found"]
    retry_after_seconds: int = 0
    changed_rows: int = 0
    synced_at: datetime | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "refreshed"


async def refresh_now(
    client: SFTClient,
    *,
    user_id: int,
    esim_id: int,
    cooldown_seconds: int = DEFAULT_COOLDOWN_SECONDS,
    session_factory: SessionFactory = db.session,
    clock: Clock = utcnow,
) -> RefreshOutcome:
    """A traveler's "refresh now" for one eSIM, at ``Priority.REFRESH``.

    Only the owner may refresh (else ``not_found``). At most one accepted refresh per eSIM per
    ``cooldown_seconds``: the slot is claimed with a compare-and-set on
    ``EsimSync.refresh_requested_at`` (two clicks at once → one refresh, one ``cooling_down``).
    A failed platform read still uses the slot (protects the shared rate budget). Raises only
    database errors.
    """
    now = clock()
    async with session_factory() as s:
        esim = await s.get(Esim, esim_id)
        if not _owned(esim, user_id):
            return RefreshOutcome("not_found")
        wait = await _claim_refresh(s, esim_id, now, cooldown_seconds)
        if wait > 0:
            sync = await s.get(EsimSync, esim_id)
            return RefreshOutcome(
                "cooling_down",
                retry_after_seconds=wait,
                synced_at=sync.synced_at if sync else None,
            )
    result = await sync_esims(
        client, [esim_id], priority=Priority.REFRESH, session_factory=session_factory, clock=clock
    )
    outcome = result.outcomes[0]
    async with session_factory() as s:
        sync = await s.get(EsimSync, esim_id)
        synced_at = sync.synced_at if sync else None
    if not outcome.ok:
        return RefreshOutcome("failed", synced_at=synced_at, error=outcome.error)
    return RefreshOutcome("refreshed", changed_rows=outcome.changed_rows, synced_at=synced_at)


async def _claim_refresh(s: AsyncSession, esim_id: int, now: datetime, cooldown: int) -> int:
    """Claim the refresh slot; returns 0 when claimed (committed), else seconds to wait."""
    threshold = now - timedelta(seconds=cooldown)
    for _ in range(2):
        result: Any = await s.execute(
            update(EsimSync)
            .where(
                col(EsimSync.esim_id) == esim_id,
                or_(
                    col(EsimSync.refresh_requested_at).is_(None),
                    col(EsimSync.refresh_requested_at) <= threshold,
                ),
            )
            .values(refresh_requested_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            await s.commit()
            return 0
        row = (
            await s.exec(
                select(EsimSync)
                .where(col(EsimSync.esim_id) == esim_id)
                .execution_options(populate_existing=True)
            )
        ).one_or_none()
        if row is not None:
            last = row.refresh_requested_at or now
            await s.rollback()
            return max(1, math.ceil(cooldown - (now - last).total_seconds()))
        s.add(EsimSync(esim_id=esim_id, refresh_requested_at=now))
        try:
            await s.commit()
            return 0
        except IntegrityError:
            await s.rollback()  # created concurrently: compare-and-set again
    return cooldown


# ============================================================================ read models
#: What the traveler has in data right now (module docstring, "data state";
#: docs/business-rules.md#data-states).
DataState = Literal["unknown", "live", "used_up", "expired", "no_plan"]


@dataclass(frozen=True)
class AddonView:
    """One add-on on the dashboard.

    Attributes:
        unique_id, plan_id, plan_name: identity.
        state: ``waiting``/``active``/``used_up``/``expired``/``deactivated``/``unknown`` at
            ``now`` (docs/esim.md#f11-add-on-queue).
        activated_by: ``immediate``/``on_usage``/``None`` (not reported).
        clock_starts: what starts its validity: ``"purchase"`` (Immediate) or ``"first_use"``
            (On Usage), ``None`` if not reported (docs/esim.md#f7-validity-started-early).
        started_at / expires_at: aware UTC from the platform (``None`` until started).
        time_left_seconds: seconds until ``expires_at`` (>= 0), ``None`` if not running.
        validity_days: validity length (days) or ``None``.
        initial_bytes / remaining_bytes / used_bytes: bytes, ``None`` = unknown.
        percent_remaining: 0-100 (1 decimal) or ``None``.
        figures_at: when these figures were read (aware UTC).
        is_current: data is being drawn from this add-on now.
        queue_position: 1-based order among waiting add-ons (``None`` if not waiting).
    """

    unique_id: str
    plan_id: str
    plan_name: str | None
    state: str
    activated_by: str | None
    clock_starts: Literal["purchase", "first_use"] | None
    started_at: datetime | None
    expires_at: datetime | None
    time_left_seconds: int | None
    validity_days: int | None
    initial_bytes: int | None
    remaining_bytes: int | None
    used_bytes: int | None
    percent_remaining: float | None
    figures_at: datetime | None
    is_current: bool
    queue_position: int | None


@dataclass(frozen=True)
class UsagePoint:
    """Bytes used on one UTC day."""

    day: date
    bytes: int


@dataclass(frozen=True)
class Dashboard:
    """The "My eSIM" page of one eSIM (docs/esim.md#balance-and-validity, F1 and F9-F12 of
    docs/esim.md#failure-scenarios).

    Attributes:
        esim_id, iccid, nickname, destination: identity (``destination`` ISO alpha-2).
        title: nickname, else "eSIM ··1234" (last 4 ICCID digits).
        data_state: :data:`DataState` (module docstring): ``unknown`` / ``live`` /
            ``used_up`` / ``expired`` / ``no_plan``.
        remaining_bytes / total_bytes: summed over live add-ons (waiting + active); ``None``
            = unknown (never synced, or a live add-on's figure is unknown); ``0``/``0`` when
            nothing is live. Never negative.
        used_bytes: ``total - remaining`` when both known (live add-ons only).
        percent_remaining: 0-100, rounded down to 1 decimal
            (:func:`travelsim.formatting.percent_left`); ``0.0`` when nothing is live;
            ``None`` exactly when ``data_state`` is ``unknown``.
        has_live_addons: at least one waiting/active add-on.
        last_plan: when nothing is live, the ended add-on that ran last (it names the
            ending: used up or expired, with its figures and expiry), else ``None``.
        current: the add-on data is drawn from now (first active by draw order), else the
            first waiting one, else ``None``.
        expires_at / time_left_seconds: validity of ``current`` (``None`` until started).
        clock_starts / clock_started: what starts ``current``'s clock and whether it has.
        updated_at: when the figures were last read from the platform (``EsimSync.synced_at``),
            ``None`` if never. figures_age_seconds: ``now - updated_at`` (>= 0).
        figures_stale: older than :data:`STALE_AFTER` (or never read).
        last_error: the last sync attempt failed (figures may be older), else ``None``.
        addons: every add-on, live ones first (current, then draw/queue order), then ended
            ones newest first.
        daily_usage: last :data:`STATS_DAYS` UTC days up to the last successful sync's day;
            days without a row inside that range are 0 (the platform reported none); days
            after it are left out (unknown).
        projection: run-out forecast for ``current`` (:mod:`projection`), or ``None``.
        endpoint_status / lifecycle_reason: platform endpoint status and suspension reason.
        profile_status / install: raw profile status and its :func:`install_state`.
        qr_used: the platform reports the profile as downloaded/installed/deleted: the QR code
            will not work again, "do not delete this eSIM" (docs/esim.md#single-use-codes).
        install_problem: the profile is deleted or in error: the traveler may need a
            replacement (offered prominently). Downloaded/installed is good news.
        replacement_open: an open replacement request exists.
        can_request_replacement: the replacement request may be made (QR used or error, none
            open); pages offer it quietly unless ``install_problem``.
        suspended_by_staff: the endpoint is Suspended with lifecycle reason "3" (CSR, staff;
            docs/business-rules.md#staff-suspension): the traveler can neither buy more data
            nor usefully install it; only support can help.
        refunded: the payment of the order that sold this eSIM (``new_esim``) was refunded
            by staff; its service was withdrawn (docs/business-rules.md#voids-and-refunds).
    """

    esim_id: int
    iccid: str
    nickname: str | None
    destination: str | None
    title: str
    data_state: DataState
    remaining_bytes: int | None
    total_bytes: int | None
    used_bytes: int | None
    percent_remaining: float | None
    has_live_addons: bool
    last_plan: AddonView | None
    current: AddonView | None
    expires_at: datetime | None
    time_left_seconds: int | None
    clock_starts: Literal["purchase", "first_use"] | None
    clock_started: bool
    updated_at: datetime | None
    figures_age_seconds: int | None
    figures_stale: bool
    last_error: str | None
    addons: list[AddonView]
    daily_usage: list[UsagePoint]
    projection: proj.Projection | None
    endpoint_status: str | None
    lifecycle_reason: str | None
    profile_status: str | None
    install: InstallState
    qr_used: bool
    install_problem: bool
    replacement_open: bool
    can_request_replacement: bool
    suspended_by_staff: bool = False
    refunded: bool = False


def _percent(remaining: int | None, total: int | None) -> float | None:
    if remaining is None or total is None:
        return None
    return percent_left(remaining, total)


def _seconds_left(expires_at: datetime | None, now: datetime) -> int | None:
    if expires_at is None:
        return None
    return max(0, int((expires_at - now).total_seconds()))


def _clock_starts(activated_by: str | None) -> Literal["purchase", "first_use"] | None:
    if activated_by == "immediate":
        return "purchase"
    if activated_by == "on_usage":
        return "first_use"
    return None


def _title(esim: Esim) -> str:
    return esim.nickname or f"eSIM ··{esim.iccid[-4:]}"


def _data_state(
    ordered: AddonOrder, remaining: int | None, total: int | None, synced: bool
) -> DataState:
    """The :data:`DataState` of an eSIM (module docstring)."""
    if ordered.live:
        return "live" if remaining is not None and total is not None else "unknown"
    if any(ordered.states[a.unique_id] == "unknown" for a in ordered.ended):
        return "unknown"  # the platform stopped listing a live plan: it may still run
    if ordered.last is not None:
        return "used_up" if ordered.states[ordered.last.unique_id] == "used_up" else "expired"
    if ordered.ended or synced:
        return "no_plan"
    return "unknown"


def _addon_view(
    a: EsimAddon, state: str, now: datetime, *, current: bool, queue: int | None
) -> AddonView:
    running = state == "active"
    return AddonView(
        unique_id=a.unique_id,
        plan_id=a.plan_id,
        plan_name=a.plan_name,
        state=state,
        activated_by=a.activated_by,
        clock_starts=_clock_starts(a.activated_by),
        started_at=a.started_at,
        expires_at=a.expires_at,
        time_left_seconds=_seconds_left(a.expires_at, now) if running else None,
        validity_days=a.validity_days,
        initial_bytes=a.initial_bytes,
        remaining_bytes=a.remaining_bytes,
        used_bytes=a.used_bytes,
        percent_remaining=_percent(a.remaining_bytes, a.initial_bytes),
        figures_at=a.figures_at,
        is_current=current,
        queue_position=queue,
    )


def _totals(live: Sequence[EsimAddon], synced: bool) -> tuple[int | None, int | None]:
    if not live:
        return (0, 0) if synced else (None, None)
    remaining = [a.remaining_bytes for a in live]
    total = [a.initial_bytes for a in live]
    rem = None if any(r is None for r in remaining) else sum(max(0, r or 0) for r in remaining)
    tot = None if any(t is None for t in total) else sum(max(0, t or 0) for t in total)
    return rem, tot


async def _addons_of(session: AsyncSession, esim_ids: Sequence[int]) -> dict[int, list[EsimAddon]]:
    out: dict[int, list[EsimAddon]] = {i: [] for i in esim_ids}
    if not esim_ids:
        return out
    rows = (
        await session.exec(select(EsimAddon).where(col(EsimAddon.esim_id).in_(list(esim_ids))))
    ).all()
    for row in rows:
        out[row.esim_id].append(row)
    return out


async def esim_dashboard(
    session: AsyncSession, *, user_id: int, esim_id: int, now: datetime
) -> Dashboard | None:
    """The dashboard of ``esim_id`` for its owner ``user_id`` at ``now`` (aware UTC), from the
    stored figures only (no platform call; see :func:`refresh_now`). ``None`` unless the eSIM
    exists and is assigned to ``user_id``. Raises ``ValueError`` for a naive ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware UTC datetime")
    esim = await session.get(Esim, esim_id)
    if esim is None or not _owned(esim, user_id):
        return None
    assert esim.id is not None
    addons = (await _addons_of(session, [esim.id]))[esim.id]
    sync = await session.get(EsimSync, esim.id)
    synced_at = sync.synced_at if sync else None
    ordered = order_addons(addons, now)

    views: list[AddonView] = []
    queue = 0
    for a in ordered.live:
        state = ordered.states[a.unique_id]
        position = None
        if state == "waiting":
            queue += 1
            position = queue
        views.append(_addon_view(a, state, now, current=a is ordered.current, queue=position))
    views.extend(
        _addon_view(a, ordered.states[a.unique_id], now, current=False, queue=None)
        for a in ordered.ended
    )
    current_view = next((v for v in views if v.is_current), None)

    remaining, total = _totals(ordered.live, synced_at is not None)
    used = total - remaining if remaining is not None and total is not None else None
    data_state = _data_state(ordered, remaining, total, synced_at is not None)
    if data_state != "unknown" and not ordered.live:
        remaining, total, used = 0, 0, 0  # e.g. an unsynced eSIM told by callbacks: known 0
    last_view = next(
        (v for v in views if ordered.last is not None and v.unique_id == ordered.last.unique_id),
        None,
    )

    daily = await _daily_usage(session, esim.id, synced_at, now)
    cur = ordered.current
    projection = None
    if cur is not None and ordered.states[cur.unique_id] == "active":
        projection = proj.project_run_out(
            [(p.day, p.bytes) for p in daily], cur.remaining_bytes, cur.expires_at, now=now
        )

    age = max(0, int((now - synced_at).total_seconds())) if synced_at else None
    profile_status = (sync.profile_status if sync else None) or esim.profile_status
    install = install_state(profile_status)
    qr_used = install in ("downloaded", "installed", "deleted")
    replacement_open = (
        await session.exec(
            select(ReplacementRequest.id).where(
                col(ReplacementRequest.esim_id) == esim.id,
                col(ReplacementRequest.status) == "open",
            )
        )
    ).first() is not None
    endpoint_status = (sync.endpoint_status if sync else None) or esim.endpoint_status
    lifecycle_reason = sync.lifecycle_reason if sync else None
    refunded = (
        await session.exec(
            select(Payment.id)
            .join(Order, col(Order.payment_id) == col(Payment.id))
            .where(
                col(Order.esim_id) == esim.id,
                col(Order.kind) == "new_esim",
                col(Payment.status) == "refunded",
            )
        )
    ).first() is not None

    return Dashboard(
        esim_id=esim.id,
        iccid=esim.iccid,
        nickname=esim.nickname,
        destination=esim.destination,
        title=_title(esim),
        data_state=data_state,
        remaining_bytes=remaining,
        total_bytes=total,
        used_bytes=used,
        percent_remaining=None if data_state == "unknown" else _percent(remaining, total),
        has_live_addons=bool(ordered.live),
        last_plan=last_view,
        current=current_view,
        expires_at=current_view.expires_at if current_view else None,
        time_left_seconds=current_view.time_left_seconds if current_view else None,
        clock_starts=current_view.clock_starts if current_view else None,
        clock_started=bool(current_view and current_view.state == "active"),
        updated_at=synced_at,
        figures_age_seconds=age,
        figures_stale=synced_at is None or now - synced_at > STALE_AFTER,
        last_error=sync.last_error if sync else None,
        addons=views,
        daily_usage=daily,
        projection=projection,
        endpoint_status=endpoint_status,
        lifecycle_reason=lifecycle_reason,
        profile_status=profile_status,
        install=install,
        qr_used=qr_used,
        install_problem=install in ("deleted", "error"),
        replacement_open=replacement_open,
        can_request_replacement=(qr_used or install == "error") and not replacement_open,
        suspended_by_staff=suspended_by_staff(endpoint_status, lifecycle_reason),
        refunded=refunded,
    )


async def _daily_usage(
    session: AsyncSession, esim_id: int, synced_at: datetime | None, now: datetime
) -> list[UsagePoint]:
    today = _utc_day(now)
    first = today - timedelta(days=STATS_DAYS - 1)
    rows = (
        await session.exec(
            select(UsageDay)
            .where(col(UsageDay.esim_id) == esim_id, col(UsageDay.day) >= first)
            .order_by(col(UsageDay.day))
        )
    ).all()
    stored = {r.day: r.bytes for r in rows if r.day <= today}
    if synced_at is None:
        return [UsagePoint(d, b) for d, b in sorted(stored.items())]
    last = min(today, _utc_day(synced_at))
    points: list[UsagePoint] = []
    day = first
    while day <= last:
        points.append(UsagePoint(day, stored.get(day, 0)))
        day += timedelta(days=1)
    points.extend(UsagePoint(d, b) for d, b in sorted(stored.items()) if d > last)
    return points


EsimListState = Literal["active", "waiting", "suspended", "ended", "unknown"]


@dataclass(frozen=True)
class EsimSummary:
    """One row of the "My eSIMs" list.

    Attributes:
        esim_id, iccid, nickname, destination, title: identity (see :class:`Dashboard`).
        state: ``suspended`` (endpoint Suspended) > ``active`` (an add-on's clock runs) >
            ``waiting`` (add-ons not started yet) > ``ended`` (none live; all used up, expired
            or removed) > ``unknown`` (never synced and no add-ons stored).
        data_state: as :attr:`Dashboard.data_state` (``state`` says whether a plan runs
            or waits; ``data_state`` says whether data is known, live, used up or expired).
        install: :func:`install_state` of the profile status.
        remaining_bytes / total_bytes / percent_remaining: as :class:`Dashboard` (``None`` =
            unknown).
        expires_at: the current add-on's expiry (``None`` if not running).
        ended_at: the expiry of the plan that ran last when ``data_state`` is ``expired``
            (aware UTC), else ``None``.
        updated_at: ``EsimSync.synced_at``.
    """

    esim_id: int
    iccid: str
    nickname: str | None
    destination: str | None
    title: str
    state: EsimListState
    data_state: DataState
    install: InstallState
    remaining_bytes: int | None
    total_bytes: int | None
    percent_remaining: float | None
    expires_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime | None


async def esims_of(
    session: AsyncSession, user_id: int, *, now: datetime | None = None
) -> list[EsimSummary]:
    """The eSIMs assigned to ``user_id``, newest first, with a remaining-data summary at
    ``now`` (aware UTC, default: current time). Three queries whatever the count."""
    at = now or utcnow()
    esims = (
        await session.exec(
            select(Esim)
            .where(col(Esim.user_id) == user_id, col(Esim.state) == "assigned")
            .order_by(col(Esim.assigned_at).desc(), col(Esim.id).desc())
        )
    ).all()
    ids = [e.id for e in esims if e.id is not None]
    addons = await _addons_of(session, ids)
    syncs = (
        {
            s.esim_id: s
            for s in (
                await session.exec(select(EsimSync).where(col(EsimSync.esim_id).in_(ids)))
            ).all()
        }
        if ids
        else {}
    )
    out: list[EsimSummary] = []
    for esim in esims:
        assert esim.id is not None
        sync = syncs.get(esim.id)
        synced_at = sync.synced_at if sync else None
        ordered = order_addons(addons[esim.id], at)
        remaining, total = _totals(ordered.live, synced_at is not None)
        data_state = _data_state(ordered, remaining, total, synced_at is not None)
        if data_state != "unknown" and not ordered.live:
            remaining, total = 0, 0
        endpoint = (sync.endpoint_status if sync else None) or esim.endpoint_status
        states = {ordered.states[a.unique_id] for a in ordered.live}
        state: EsimListState
        if endpoint_state(endpoint) == "suspended":
            state = "suspended"
        elif "active" in states:
            state = "active"
        elif "waiting" in states:
            state = "waiting"
        elif addons[esim.id] or synced_at is not None:
            state = "ended"
        else:
            state = "unknown"
        cur = ordered.current
        running = cur is not None and ordered.states[cur.unique_id] == "active"
        profile_status = (sync.profile_status if sync else None) or esim.profile_status
        out.append(
            EsimSummary(
                esim_id=esim.id,
                iccid=esim.iccid,
                nickname=esim.nickname,
                destination=esim.destination,
                title=_title(esim),
                state=state,
                data_state=data_state,
                install=install_state(profile_status),
                remaining_bytes=remaining,
                total_bytes=total,
                percent_remaining=None if data_state == "unknown" else _percent(remaining, total),
                expires_at=cur.expires_at if running and cur is not None else None,
                ended_at=(
                    ordered.last.expires_at
                    if data_state == "expired" and ordered.last is not None
                    else None
                ),
                updated_at=synced_at,
            )
        )
    return out


# ============================================================================ changes
class NicknameError(ValueError):
    """The nickname is empty, too long (> :data:`NICKNAME_MAX`) or has control characters."""


def _clean_nickname(raw: str) -> str:
    name = " ".join(raw.split())
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise NicknameError("control characters are not allowed")
    if not NICKNAME_MIN <= len(name) <= NICKNAME_MAX:
        raise NicknameError(f"use {NICKNAME_MIN} to {NICKNAME_MAX} characters")
    return name


async def rename_esim(
    session: AsyncSession, *, user_id: int, esim_id: int, nickname: str
) -> str | None:
    """Set the nickname of ``user_id``'s eSIM ``esim_id``; commits.

    The nickname is trimmed and inner whitespace runs collapse to one space; it must then be
    1-40 characters without control characters, else :class:`NicknameError`. Returns the
    stored nickname, or ``None`` if the eSIM is not this user's (nothing written).
    """
    name = _clean_nickname(nickname)
    esim = await session.get(Esim, esim_id)
    if esim is None or not _owned(esim, user_id):
        return None
    if esim.nickname != name:
        esim.nickname = name
        esim.updated_at = utcnow()
        session.add(esim)
        await session.commit()
    return name


async def request_replacement(
    session: AsyncSession, *, user_id: int, esim_id: int, reason: str
) -> ReplacementRequest | None:
    """Open a replacement request for ``user_id``'s eSIM (docs/esim.md#f1-code-already-used,
    docs/esim.md#f2-download-failed); commits.

    Idempotent: an already open request is returned unchanged. ``reason`` is trimmed and
    cut to 500 characters (``"unspecified"`` if empty). Returns ``None`` if the eSIM is not
    this user's.
    """
    esim = await session.get(Esim, esim_id)
    if esim is None or not _owned(esim, user_id):
        return None
    existing = (
        await session.exec(
            select(ReplacementRequest).where(
                col(ReplacementRequest.esim_id) == esim_id,
                col(ReplacementRequest.status) == "open",
            )
        )
    ).first()
    if existing is not None:
        return existing
    row = ReplacementRequest(
        esim_id=esim_id,
        user_id=user_id,
        reason=(" ".join(reason.split()) or "unspecified")[:500],
        status="open",
    )
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return row

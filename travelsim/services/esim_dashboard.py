"""The eSIM page's read model: one eSIM's :class:`Dashboard` (figures, plans, daily usage,
run-out forecast, install status) for its owner. No Reflex, no platform call: the stored
figures only (written by :mod:`travelsim.services.usage_sync`; "refresh now" is
:func:`travelsim.services.usage_sync.refresh_now`).

Units, the data state and ownership are those of the "My eSIMs" read model
(:mod:`travelsim.services.my_esims`, docs/business-rules.md#data-states): bytes, aware UTC,
``None`` = unknown (never 0), percentages rounded down; another traveler's eSIM gives
``None`` (it reveals nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.esim.addons import AddonOrder, order_addons
from travelsim.esim.lifecycle import InstallState, install_state, suspended_by_staff
from travelsim.models import (
    AddonState,
    Esim,
    EsimAddon,
    EsimSync,
    ReplacementRequest,
    ReplacementRequestStatus,
    UsageDay,
)
from travelsim.services import projection as proj
from travelsim.services.my_esims import (
    DataState,
    addons_by_esim,
    data_state,
    esim_title,
    live_totals,
    percent_of,
)
from travelsim.services.ownership import owned_esim, sale_refunded
from travelsim.services.plan_texts import plan_titles
from travelsim.services.usage_sync import STATS_DAYS, utc_day

__all__ = ["STALE_AFTER", "AddonView", "Dashboard", "UsagePoint", "esim_dashboard"]

#: Figures older than this are flagged ``figures_stale`` on the dashboard.
STALE_AFTER = timedelta(hours=3)


@dataclass(frozen=True)
class AddonView:
    """One add-on on the dashboard.

    Attributes:
        unique_id, plan_id: identity.
        plan_name: the plan's name for travelers, the catalogue's in the active language
            (``plan_texts.plan_title``), else the platform's; ``None`` when neither is known.
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
        data_state: :data:`~travelsim.services.my_esims.DataState` (that module's docstring):
            ``unknown`` / ``live`` / ``used_up`` / ``expired`` / ``no_plan``.
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
        daily_usage: last :data:`~travelsim.services.usage_sync.STATS_DAYS` UTC days up to
            the last successful sync's day; days without a row inside that range are 0 (the
            platform reported none); days after it are left out (unknown).
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


@dataclass(frozen=True)
class _Figures:
    """The eSIM's data figures at one moment (bytes; ``None`` = unknown)."""

    data_state: DataState
    remaining: int | None
    total: int | None
    used: int | None


@dataclass(frozen=True)
class _Profile:
    """Where the eSIM stands on the platform and with support (the latest synced statuses,
    else those on ``Esim``)."""

    endpoint_status: str | None
    lifecycle_reason: str | None
    profile_status: str | None
    install: InstallState
    qr_used: bool
    replacement_open: bool
    refunded: bool


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


def _addon_view(
    a: EsimAddon,
    state: str,
    now: datetime,
    *,
    current: bool,
    queue: int | None,
    names: dict[str, str],
) -> AddonView:
    running = state == AddonState.ACTIVE
    return AddonView(
        unique_id=a.unique_id,
        plan_id=a.plan_id,
        plan_name=names.get(a.plan_id) or a.plan_name,
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
        percent_remaining=percent_of(a.remaining_bytes, a.initial_bytes),
        figures_at=a.figures_at,
        is_current=current,
        queue_position=queue,
    )


def _addon_views(ordered: AddonOrder, now: datetime, names: dict[str, str]) -> list[AddonView]:
    """Every add-on: the live ones (current first, then draw/queue order, waiting ones
    numbered 1, 2, ...), then the ended ones newest first; ``names``: the catalogue's plan
    names by plan id (``plan_texts.plan_titles``)."""
    views: list[AddonView] = []
    queue = 0
    for a in ordered.live:
        state = ordered.states[a.unique_id]
        position = None
        if state == AddonState.WAITING:
            queue += 1
            position = queue
        views.append(
            _addon_view(a, state, now, current=a is ordered.current, queue=position, names=names)
        )
    views.extend(
        _addon_view(a, ordered.states[a.unique_id], now, current=False, queue=None, names=names)
        for a in ordered.ended
    )
    return views


def _figures(ordered: AddonOrder, synced: bool) -> _Figures:
    """The totals over the live add-ons and the data state; nothing live but known is a
    known 0 (e.g. an unsynced eSIM told by callbacks)."""
    remaining, total = live_totals(ordered.live, synced)
    used = total - remaining if remaining is not None and total is not None else None
    state = data_state(ordered, remaining, total, synced)
    if state != "unknown" and not ordered.live:
        remaining, total, used = 0, 0, 0
    return _Figures(state, remaining, total, used)


def _projection(
    ordered: AddonOrder, daily: list[UsagePoint], now: datetime
) -> proj.Projection | None:
    """The run-out forecast of the running current add-on, else ``None``."""
    cur = ordered.current
    if cur is None or ordered.states[cur.unique_id] != AddonState.ACTIVE:
        return None
    return proj.project_run_out(
        [(p.day, p.bytes) for p in daily], cur.remaining_bytes, cur.expires_at, now=now
    )


async def _profile(session: AsyncSession, esim: Esim, sync: EsimSync | None) -> _Profile:
    """The eSIM's platform statuses, install state, open replacement request and refund."""
    assert esim.id is not None
    profile_status = (sync.profile_status if sync else None) or esim.profile_status
    install = install_state(profile_status)
    replacement_open = (
        await session.exec(
            select(ReplacementRequest.id).where(
                col(ReplacementRequest.esim_id) == esim.id,
                col(ReplacementRequest.status) == ReplacementRequestStatus.OPEN,
            )
        )
    ).first() is not None
    refunded = await sale_refunded(session, esim.id)
    return _Profile(
        endpoint_status=(sync.endpoint_status if sync else None) or esim.endpoint_status,
        lifecycle_reason=sync.lifecycle_reason if sync else None,
        profile_status=profile_status,
        install=install,
        qr_used=install in ("downloaded", "installed", "deleted"),
        replacement_open=replacement_open,
        refunded=refunded,
    )


async def esim_dashboard(
    session: AsyncSession, *, user_id: int, esim_id: int, now: datetime
) -> Dashboard | None:
    """The dashboard of ``esim_id`` for its owner ``user_id`` at ``now`` (aware UTC), from the
    stored figures only (no platform call; see :func:`~travelsim.services.usage_sync.refresh_now`).
    ``None`` unless the eSIM exists and is assigned to ``user_id``. Raises ``ValueError`` for a
    naive ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware UTC datetime")
    esim = await owned_esim(session, user_id, esim_id)
    if esim is None:
        return None
    assert esim.id is not None
    sync = await session.get(EsimSync, esim.id)
    synced_at = sync.synced_at if sync else None
    addons = (await addons_by_esim(session, [esim.id]))[esim.id]
    ordered = order_addons(addons, now)
    views = _addon_views(ordered, now, await plan_titles(session, (a.plan_id for a in addons)))
    current = next((v for v in views if v.is_current), None)
    last = ordered.last
    figures = _figures(ordered, synced_at is not None)
    daily = await _daily_usage(session, esim.id, synced_at, now)
    p = await _profile(session, esim, sync)
    return Dashboard(
        esim_id=esim.id,
        iccid=esim.iccid,
        nickname=esim.nickname,
        destination=esim.destination,
        title=esim_title(esim),
        data_state=figures.data_state,
        remaining_bytes=figures.remaining,
        total_bytes=figures.total,
        used_bytes=figures.used,
        percent_remaining=(
            None
            if figures.data_state == "unknown"
            else percent_of(figures.remaining, figures.total)
        ),
        has_live_addons=bool(ordered.live),
        last_plan=next(
            (v for v in views if last is not None and v.unique_id == last.unique_id), None
        ),
        current=current,
        expires_at=current.expires_at if current else None,
        time_left_seconds=current.time_left_seconds if current else None,
        clock_starts=current.clock_starts if current else None,
        clock_started=bool(current and current.state == AddonState.ACTIVE),
        updated_at=synced_at,
        figures_age_seconds=max(0, int((now - synced_at).total_seconds())) if synced_at else None,
        figures_stale=synced_at is None or now - synced_at > STALE_AFTER,
        last_error=sync.last_error if sync else None,
        addons=views,
        daily_usage=daily,
        projection=_projection(ordered, daily, now),
        endpoint_status=p.endpoint_status,
        lifecycle_reason=p.lifecycle_reason,
        profile_status=p.profile_status,
        install=p.install,
        qr_used=p.qr_used,
        install_problem=p.install in ("deleted", "error"),
        replacement_open=p.replacement_open,
        can_request_replacement=(p.qr_used or p.install == "error") and not p.replacement_open,
        suspended_by_staff=suspended_by_staff(p.endpoint_status, p.lifecycle_reason),
        refunded=p.refunded,
    )


async def _daily_usage(
    session: AsyncSession, esim_id: int, synced_at: datetime | None, now: datetime
) -> list[UsagePoint]:
    today = utc_day(now)
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
    last = min(today, utc_day(synced_at))
    points: list[UsagePoint] = []
    day = first
    while day <= last:
        points.append(UsagePoint(day, stored.get(day, 0)))
        day += timedelta(days=1)
    points.extend(UsagePoint(d, b) for d, b in sorted(stored.items()) if d > last)
    return points

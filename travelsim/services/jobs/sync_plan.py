"""The plan of the scheduled usage sync: which eSIMs it reads, in which order. No Reflex.

The run itself (:func:`travelsim.services.jobs.runs.run_usage_sync`) works through this list
under the TPS budget; the rules are docs/business-rules.md#usage-sync.

Candidates (:func:`sync_candidates`): every ``assigned`` eSIM with a live add-on at ``now``
(``waiting`` or ``active`` after ``esim.addons.effective_status``), plus assigned eSIMs never synced
yet. Order (:func:`order_for_sync`):

1. eSIMs being viewed (:func:`~travelsim.services.jobs.viewed.mark_viewed`, for
   ``SYNC_VIEWED_SECONDS``; shared by all workers through Redis when ``REDIS_URL`` is set,
   else per process);
2. eSIMs near empty (an active add-on ≥ ``SYNC_NEAR_EMPTY_PERCENT`` used) or near expiry (an
   active add-on expiring within ``SYNC_NEAR_EXPIRY_HOURS``);
3. the rest, least recently refreshed first (never synced first), which makes successive
   runs a round-robin.

Inside each group the least recently refreshed comes first. "Refreshed" is the last full sync
(``EsimSync.synced_at``); with platform callbacks on (``SFT_CALLBACK_TOKEN`` set) it is the
later of that and the last platform event received for the eSIM, so the budget goes where
events are missing, and an urgent eSIM that just got an event is no longer urgent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.esim.addons import LIVE_STATUSES, effective_status
from travelsim.models import AddonState, Esim, EsimAddon, EsimSync, InventoryState
from travelsim.services import callbacks
from travelsim.services.jobs.viewed import viewed_esims
from travelsim.settings import Settings

__all__ = ["SyncCandidate", "oldest_figure_age", "order_for_sync", "sync_candidates"]

_MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SyncCandidate:
    """An eSIM the usage sync should refresh.

    ``fresh_at``: last time its figures were refreshed (full sync, or with callbacks on also
    a platform event), ``None`` if never; ``urgent``: near empty or near expiry (and, with
    callbacks on, no event within the last interval); ``viewed``: marked viewed;
    ``since``: when its figures date from for the staleness figure (``fresh_at``, else the
    assignment time).
    """

    esim_id: int
    fresh_at: datetime | None
    urgent: bool = False
    viewed: bool = False
    since: datetime | None = None


def order_for_sync(candidates: Iterable[SyncCandidate]) -> list[int]:
    """eSIM ids in sync order: viewed, then urgent, then the rest; least recently refreshed
    first inside each group (never refreshed first), then by id."""
    return [
        c.esim_id
        for c in sorted(
            candidates,
            key=lambda c: (not c.viewed, not c.urgent, c.fresh_at or _MIN_TIME, c.esim_id),
        )
    ]


def _urgent(addons: list[EsimAddon], now: datetime, settings: Settings) -> bool:
    soon = now + timedelta(hours=settings.sync_near_expiry_hours)
    for a in addons:
        if effective_status(a, now) != AddonState.ACTIVE:
            continue
        if a.expires_at is not None and a.expires_at <= soon:
            return True
        if a.initial_bytes and a.remaining_bytes is not None:
            used_pct = (a.initial_bytes - a.remaining_bytes) * 100.0 / a.initial_bytes
            if used_pct >= settings.sync_near_empty_percent:
                return True
    return False


async def sync_candidates(
    session: AsyncSession,
    *,
    now: datetime,
    settings: Settings,
    viewed: set[int] | None = None,
    callbacks_on: bool | None = None,
) -> list[SyncCandidate]:
    """The usage-sync candidates at ``now`` (module docstring), unordered."""
    on = settings.sft_callback_token is not None if callbacks_on is None else callbacks_on
    seen = viewed if viewed is not None else viewed_esims()
    esims = list(
        (
            await session.exec(
                select(Esim).where(
                    col(Esim.state) == InventoryState.ASSIGNED, col(Esim.user_id).is_not(None)
                )
            )
        ).all()
    )
    ids = [e.id for e in esims if e.id is not None]
    if not ids:
        return []
    addons: dict[int, list[EsimAddon]] = {i: [] for i in ids}
    for a in (await session.exec(select(EsimAddon).where(col(EsimAddon.esim_id).in_(ids)))).all():
        addons[a.esim_id].append(a)
    syncs = {
        r.esim_id: r
        for r in (await session.exec(select(EsimSync).where(col(EsimSync.esim_id).in_(ids))))
    }
    events = await callbacks.last_event_times(session, ids) if on else {}
    recent = now - timedelta(seconds=settings.sync_interval_seconds)
    out: list[SyncCandidate] = []
    for e in esims:
        assert e.id is not None
        sync = syncs.get(e.id)
        synced_at = sync.synced_at if sync else None
        live_addons = [a for a in addons[e.id] if effective_status(a, now) in LIVE_STATUSES]
        if not live_addons and synced_at is not None:
            continue
        event_at = events.get(e.id)
        fresh = max((t for t in (synced_at, event_at) if t is not None), default=None)
        urgent = _urgent(live_addons, now, settings)
        if on and urgent and event_at is not None and event_at >= recent:
            urgent = False
        out.append(
            SyncCandidate(
                esim_id=e.id,
                fresh_at=fresh,
                urgent=urgent,
                viewed=e.id in seen,
                since=fresh or e.assigned_at,
            )
        )
    return out


def oldest_figure_age(candidates: list[SyncCandidate], now: datetime) -> int | None:
    """Seconds (by ``now``) since the figures of the stalest candidate date from
    (:attr:`SyncCandidate.since`); ``None`` when no candidate has a date."""
    ages = [int((now - c.since).total_seconds()) for c in candidates if c.since is not None]
    return max(ages) if ages else None

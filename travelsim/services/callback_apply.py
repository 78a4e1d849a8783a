"""How one platform event changes the stored rows: newest figures win. No Reflex.

Called by ``services.callbacks`` inside the transaction that also marks the event processed
(docs/business-rules.md#platform-callbacks). Events come late, twice, or out of order, and the
usage sync also writes the same rows, so:

* Add-on status only moves forward: ``waiting`` < ``active`` < ``used_up`` / ``expired`` /
  ``deactivated`` (``unknown`` is below all). An older status never overwrites a newer one.
* Figures (``initial/remaining/used`` bytes; "Counter Changes" is the usage update, the
  other add-on events carry them too) are taken only when the event's used bytes are
  greater than the stored ones: usage of an add-on instance never decreases, so the larger
  figure is the newer one. Start/expiry/subscription dates fill in when unknown.
* eSIM profile status (which may go back and forth) is applied only when the event is not
  older than the last applied profile event of the eSIM (platform ``eventTimestamp``/
  ``callbackTimestamp``, then ``sequence``) and not older than the last full sync
  (``EsimSync.synced_at``; assumes the platform's clock is roughly right). The event itself:
  docs/sft-platform.md#esim-profile-status-events.

The platform's add-on status and ``activatedBy`` (``sft.models.AddonStatus``/``ActivatedBy``,
read by ``sft.callbacks``) are stored in the portal's words (:class:`AddonState`,
``immediate``/``on_usage``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import AddonState, CallbackEvent, CallbackStatus, Esim, EsimAddon, EsimSync
from travelsim.sft.callbacks import ADDON_EVENTS, EventType, PlatformEvent
from travelsim.sft.models import ActivatedBy, AddonStatus

__all__ = ["Outcome", "apply_event"]

#: ``applied``: rows changed; ``superseded``: nothing newer in it; ``ignored``: not
#: applicable (with the reason); ``skipped``: another processor took the event.
Outcome = Literal["applied", "superseded", "ignored", "skipped"]

#: The platform's add-on status in the portal's words.
_STATUS_MAP: dict[AddonStatus, AddonState] = {
    AddonStatus.WAITING: AddonState.WAITING,
    AddonStatus.ACTIVE: AddonState.ACTIVE,
    AddonStatus.EXHAUSTED: AddonState.USED_UP,
    AddonStatus.EXPIRED: AddonState.EXPIRED,
    AddonStatus.DEACTIVATED: AddonState.DEACTIVATED,
}
_ACTIVATED_BY_MAP = {ActivatedBy.IMMEDIATE: "immediate", ActivatedBy.ON_USAGE: "on_usage"}
#: Add-on statuses only move forward: a higher rank replaces a lower one.
_RANK: dict[str, int] = {
    AddonState.UNKNOWN: -1,
    AddonState.WAITING: 0,
    AddonState.ACTIVE: 1,
    AddonState.USED_UP: 2,
    AddonState.EXPIRED: 2,
    AddonState.DEACTIVATED: 2,
}


async def apply_event(
    s: AsyncSession, esim_id: int, event: PlatformEvent, event_id: int, now: datetime
) -> tuple[Outcome, str | None]:
    """Apply ``event`` (stored as ``CallbackEvent`` ``event_id``) to eSIM ``esim_id``'s rows
    in ``s``, without committing. Returns the outcome and, when ignored, why. ``now`` (aware
    UTC) becomes ``figures_at``/``updated_at`` of changed rows."""
    if event.event_type in ADDON_EVENTS:
        return await _apply_addon(s, esim_id, event, now)
    if event.event_type == EventType.PROFILE_STATUS:
        return await _apply_profile(s, esim_id, event, event_id, now)
    if event.event_type == EventType.USAGE:  # no add-on instance in it: the usage sync reads
        return "ignored", "usage record: figures come from Counter Changes and the sync"
    return "ignored", f"event type not handled: {event.raw_type or '?'}"


def _activated_by(event: PlatformEvent) -> str | None:
    return _ACTIVATED_BY_MAP[event.activated_by] if event.activated_by is not None else None


def _event_figures(event: PlatformEvent) -> dict[str, Any]:
    return {
        "initial_bytes": event.initial_bytes,
        "remaining_bytes": event.remaining_bytes,
        "used_bytes": event.used_bytes,
    }


async def _apply_addon(
    s: AsyncSession, esim_id: int, event: PlatformEvent, now: datetime
) -> tuple[Outcome, str | None]:
    if event.unique_id is None:
        return "ignored", "add-on event without uniqueId"
    row = (
        await s.exec(select(EsimAddon).where(col(EsimAddon.unique_id) == event.unique_id))
    ).first()
    status = _STATUS_MAP.get(event.status) if event.status is not None else None
    if event.event_type == EventType.ADDON_DEACTIVATION and status is None:
        status = AddonState.DEACTIVATED
    if event.event_type in (EventType.ADDON_ACTIVATION, EventType.ADDON_RENEWAL) and status is None:
        status = AddonState.ACTIVE
    if row is None:
        if event.plan_id is None:
            return "ignored", "unknown add-on and no planId"
        s.add(
            EsimAddon(
                esim_id=esim_id,
                unique_id=event.unique_id,
                plan_id=event.plan_id,
                plan_name=event.plan_name,
                status=status or AddonState.WAITING,
                activated_by=_activated_by(event),
                subscribed_at=event.subscribed_at,
                started_at=event.started_at,
                expires_at=event.expires_at,
                figures_at=now,
                updated_at=now,
                **_event_figures(event),
            )
        )
        return "applied", None
    if row.esim_id != esim_id:
        return "ignored", "uniqueId belongs to another eSIM"
    changed = False
    if status is not None and _RANK.get(status, -1) > _RANK.get(row.status, -1):
        row.status = status
        changed = True
    if event.used_bytes is not None and (
        row.used_bytes is None or event.used_bytes > row.used_bytes
    ):
        for k, v in _event_figures(event).items():
            if v is not None and getattr(row, k) != v:
                setattr(row, k, v)
                changed = True
    filled = {
        "subscribed_at": event.subscribed_at,
        "started_at": event.started_at,
        "expires_at": event.expires_at,
        "plan_name": event.plan_name,
        "activated_by": _activated_by(event),
    }
    for name, value in filled.items():
        if value is not None and getattr(row, name) is None:
            setattr(row, name, value)
            changed = True
    if not changed:
        return "superseded", None
    row.figures_at = now
    row.updated_at = now
    s.add(row)
    return "applied", None


def _order_key(at: datetime | None, seq: int | None) -> tuple[datetime, int]:
    return (at or datetime.min.replace(tzinfo=UTC), seq if seq is not None else -1)


async def _apply_profile(
    s: AsyncSession, esim_id: int, event: PlatformEvent, event_id: int, now: datetime
) -> tuple[Outcome, str | None]:
    if event.profile_status is None:
        return "ignored", "profile event without eSimProfileStatus"
    newer = (
        await s.exec(
            select(CallbackEvent).where(
                col(CallbackEvent.esim_id) == esim_id,
                col(CallbackEvent.event_type) == EventType.PROFILE_STATUS,
                col(CallbackEvent.status) == CallbackStatus.PROCESSED,
                col(CallbackEvent.id) != event_id,
            )
        )
    ).all()
    mine = _order_key(event.event_at, event.seq)
    if any(_order_key(o.event_at, o.seq) > mine for o in newer):
        return "superseded", None
    esim = await s.get(Esim, esim_id)
    sync = await s.get(EsimSync, esim_id)
    if esim is None:
        return "ignored", "unknown eSIM"
    if sync is not None and sync.synced_at and event.event_at and event.event_at < sync.synced_at:
        return "superseded", None
    changed = False
    if esim.profile_status != event.profile_status:
        esim.profile_status = event.profile_status
        esim.updated_at = now
        s.add(esim)
        changed = True
    if sync is None:
        s.add(EsimSync(esim_id=esim_id, profile_status=event.profile_status))
        changed = True
    elif sync.profile_status != event.profile_status:
        sync.profile_status = event.profile_status
        s.add(sync)
        changed = True
    return ("applied" if changed else "superseded"), None

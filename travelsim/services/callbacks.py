"""Platform callbacks (push events from SFT, docs/sft-platform.md#callbacks). No Reflex.

Rules: docs/business-rules.md#platform-callbacks; the failure scenario they answer:
docs/esim.md#f17-callback-trouble.

SFT POSTs batches of events (every 60 s, at most 800 per POST, **no retries**, no replay) to
``POST /callbacks/sft`` (``travelsim.routes.callbacks``). Two steps, so the platform gets its
answer fast and nothing is lost if processing fails:

1. :func:`parse_batch` + :func:`ingest` (inside the request): each notification is stored raw
   as a :class:`~travelsim.models.CallbackEvent` with ``status="pending"``. The
   ``dedupe_key`` (SHA-256 of ``callbackId`` and the message) is unique, so a duplicated
   delivery is stored once (``INSERT … ON CONFLICT DO NOTHING``).
2. :func:`process_pending` (right after the response, as a Starlette background task, and
   again by the scheduler's sweep for anything left ``pending`` by a crash): each event is
   applied in its own transaction that first moves it ``pending → processed`` with a
   compare-and-set, so two processors never apply the same event.

Envelope (process 10011 "CallBackNotification", docs/sft-platform.md#callbacks)::

    {"Request": {"apiCallback": {"accountId", "callbackProcessId", "callbackProcessName",
                                 "callbackUri"},
                 "notification": {"callbackId", "callbackTimestamp", "message"}
                                 | [ {…}, … ]}}

``notification`` may be one object (the documented sample) or a list (a batch). ``message``
is "customer-defined text"; the portal expects a JSON object, as a string or inline, with
``eventType`` (or ``eventType`` beside ``message``) and the fields of Get Endpoint Add-on Details
(docs/sft-platform.md#get-endpoint-add-on-details): ``endPointId``, ``iccid``, ``uniqueId``,
``planId``, ``planName``, ``status``, ``activatedBy``, ``subscriptionDate``, ``startDate``,
``expiryDate`` (``dd/mm/yyyy HH:MM:SS`` UTC or ``"-"``), ``initialVolume``, ``remainingVolume``,
``usedVolume`` (bytes), ``esimProfileStatus``, plus optional ``eventTimestamp`` and ``sequence``.
Event types (docs/sft-platform.md#callbacks, matched ignoring case, spaces, dashes and underscores):
Addon Subscription, Addon Activation, Addon Renew(al), Addon Deactivation, Counter Change(s), eSIM
Profile Status. Anything else is stored and marked ``ignored``.

Newest figures win, whatever the arrival order (events come late, twice, or out of order; the
usage sync also writes the same rows):

* Add-on status only moves forward: ``waiting`` < ``active`` < ``used_up`` / ``expired`` /
  ``deactivated`` (``unknown`` is below all). An older status never overwrites a newer one.
* Figures (``initial/remaining/used`` bytes) are taken only when the event's used bytes are
  greater than the stored ones: usage of an add-on instance never decreases, so the larger
  figure is the newer one. Start/expiry/subscription dates fill in when unknown.
* eSIM profile status (which may go back and forth) is applied only when the event is not
  older than the last applied profile event of the eSIM (platform ``eventTimestamp``/
  ``callbackTimestamp``, then ``sequence``) and not older than the last full sync
  (``EsimSync.synced_at``; assumes the platform's clock is roughly right). The event itself:
  docs/sft-platform.md#esim-profile-status-events.

An event for an endpoint the portal does not own is ``ignored``. Changed rows get
``figures_at``/``updated_at`` = the processing time; the caller wakes open pages
(``services.live.notify``) with the returned eSIM ids.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.models import CallbackEvent, Esim, EsimAddon, EsimSync, utcnow

__all__ = [
    "MAX_EVENTS_PER_BATCH",
    "CallbackFormatError",
    "IngestResult",
    "PlatformEvent",
    "ProcessReport",
    "ingest",
    "last_event_times",
    "parse_batch",
    "process_pending",
]

log = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]

#: The platform sends at most 800 events per POST (docs/sft-platform.md#callbacks "Delivery");
#: a little slack is accepted.
MAX_EVENTS_PER_BATCH = 1000

# Wire names of the callback envelope (docs/sft-platform.md#callbacks) and the event message.
_REQUEST = "Request"
_NOTIFICATION = "notification"
_CALLBACK_ID = "callbackId"
_CALLBACK_TS = "callbackTimestamp"
_MESSAGE = "message"
_EVENT_TYPE = "eventType"
_EVENT_TS = "eventTimestamp"
_SEQUENCE = "sequence"
_WIRE_TS = "%d/%m/%Y %H:%M:%S"

TYPE_SUBSCRIPTION = "addon_subscription"
TYPE_ACTIVATION = "addon_activation"
TYPE_RENEWAL = "addon_renewal"
TYPE_DEACTIVATION = "addon_deactivation"
TYPE_COUNTER = "counter_change"
TYPE_PROFILE = "profile_status"
_TYPES = {
    "addonsubscription": TYPE_SUBSCRIPTION,
    "addonactivation": TYPE_ACTIVATION,
    "addonrenew": TYPE_RENEWAL,
    "addonrenewal": TYPE_RENEWAL,
    "addondeactivation": TYPE_DEACTIVATION,
    "counterchange": TYPE_COUNTER,
    "counterchanges": TYPE_COUNTER,
    "esimprofilestatus": TYPE_PROFILE,
    "profilestatus": TYPE_PROFILE,
}
_ADDON_TYPES = frozenset(
    {TYPE_SUBSCRIPTION, TYPE_ACTIVATION, TYPE_RENEWAL, TYPE_DEACTIVATION, TYPE_COUNTER}
)
_STATUS_MAP = {
    "subscribed": "waiting",
    "active": "active",
    "exhausted": "used_up",
    "expired": "expired",
    "deactivated": "deactivated",
}
_RANK = {"unknown": -1, "waiting": 0, "active": 1, "used_up": 2, "expired": 2, "deactivated": 2}


class CallbackFormatError(ValueError):
    """The body is not a CallBackNotification envelope (answered with HTTP 400)."""


# ============================================================================ parsing
def _get(d: Any, name: str) -> Any:
    """Case-insensitive key lookup (None when absent or ``d`` is not a dict)."""
    if not isinstance(d, dict):
        return None
    if name in d:
        return d[name]
    low = name.lower()
    for k, v in d.items():
        if isinstance(k, str) and k.lower() == low:
            return v
    return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list | bool):
        return None
    s = str(value).strip()
    return s if s and s != "-" else None


def _int(value: Any) -> int | None:
    s = _text(value)
    if s is None:
        return None
    try:
        return int(float(s)) if "." in s else int(s)
    except ValueError:
        return None


def _ts(value: Any) -> datetime | None:
    s = _text(value)
    if s is None:
        return None
    try:
        return datetime.strptime(s, _WIRE_TS).replace(tzinfo=UTC)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(s)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _event_type(raw: str | None) -> str:
    key = "".join(c for c in (raw or "").lower() if c.isalnum())
    return _TYPES.get(key, "other")


@dataclass(frozen=True)
class PlatformEvent:
    """One parsed platform event. Volumes in bytes, times aware UTC (``None`` = not given).

    ``event_type``: one of the module's ``TYPE_*`` values or ``"other"``; ``raw_type`` as
    sent. ``status``: the portal's add-on status (``waiting``/``active``/``used_up``/
    ``expired``/``deactivated``) or ``None``. ``event_at``: ``eventTimestamp`` or else
    ``callbackTimestamp``. ``payload``: the notification object as received.
    """

    dedupe_key: str
    event_type: str
    raw_type: str
    endpoint_id: str | None
    iccid: str | None
    unique_id: str | None
    plan_id: str | None
    plan_name: str | None
    status: str | None
    activated_by: str | None
    subscribed_at: datetime | None
    started_at: datetime | None
    expires_at: datetime | None
    initial_bytes: int | None
    remaining_bytes: int | None
    used_bytes: int | None
    profile_status: str | None
    event_at: datetime | None
    seq: int | None
    payload: dict[str, Any] = field(default_factory=dict)


def _message(note: dict[str, Any]) -> dict[str, Any]:
    raw = _get(note, _MESSAGE)
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return {"text": raw}
        return parsed if isinstance(parsed, dict) else {"text": raw}
    return {}


def _parse_note(note: dict[str, Any]) -> PlatformEvent:
    msg = _message(note)
    raw_type = _text(_get(note, _EVENT_TYPE)) or _text(_get(msg, _EVENT_TYPE)) or ""
    canonical = json.dumps(
        [_text(_get(note, _CALLBACK_ID)), msg if msg else _get(note, _MESSAGE)],
        sort_keys=True,
        default=str,
    )
    initial = _int(_get(msg, "initialVolume"))
    remaining = _int(_get(msg, "remainingVolume"))
    used = _int(_get(msg, "usedVolume"))
    if used is None and initial is not None and remaining is not None:
        used = initial - remaining
    if remaining is None and initial is not None and used is not None:
        remaining = initial - used
    status_raw = (_text(_get(msg, "status")) or "").lower()
    activated = _text(_get(msg, "activatedBy"))
    return PlatformEvent(
        dedupe_key=hashlib.sha256(canonical.encode()).hexdigest(),
        event_type=_event_type(raw_type),
        raw_type=raw_type[:64],
        endpoint_id=_text(_get(msg, "endPointId")),
        iccid=_text(_get(msg, "iccid")),
        unique_id=_text(_get(msg, "uniqueId")),
        plan_id=_text(_get(msg, "planId")) or _text(_get(msg, "addonId")),
        plan_name=_text(_get(msg, "planName")),
        status=_STATUS_MAP.get(status_raw),
        activated_by={"1": "immediate", "0": "on_usage"}.get(activated or ""),
        subscribed_at=_ts(_get(msg, "subscriptionDate")),
        started_at=_ts(_get(msg, "startDate")),
        expires_at=_ts(_get(msg, "expiryDate")),
        initial_bytes=initial,
        remaining_bytes=None if remaining is None else max(0, remaining),
        used_bytes=None if used is None else max(0, used),
        profile_status=(_text(_get(msg, "esimProfileStatus")) or "").lower() or None,
        event_at=_ts(_get(msg, _EVENT_TS)) or _ts(_get(note, _CALLBACK_TS)),
        seq=_int(_get(msg, _SEQUENCE)),
        payload=note,
    )


def parse_batch(body: Any) -> list[PlatformEvent]:
    """Parse a CallBackNotification body (module docstring) into events, in sent order.

    Raises :class:`CallbackFormatError` when ``Request.notification`` is missing or is not an
    object or a list of objects, or when there are more than :data:`MAX_EVENTS_PER_BATCH`.
    """
    notes = _get(_get(body, _REQUEST), _NOTIFICATION)
    if isinstance(notes, dict):
        notes = [notes]
    if not isinstance(notes, list) or not all(isinstance(n, dict) for n in notes):
        raise CallbackFormatError("Request.notification must be an object or a list of objects")
    if len(notes) > MAX_EVENTS_PER_BATCH:
        raise CallbackFormatError(f"more than {MAX_EVENTS_PER_BATCH} events in one batch")
    return [_parse_note(n) for n in notes]


# ============================================================================ ingest
@dataclass(frozen=True)
class IngestResult:
    """``received``: events in the batch; ``stored``: new ones (duplicates are not stored)."""

    received: int
    stored: int


async def ingest(
    events: Sequence[PlatformEvent], *, session_factory: SessionFactory = db.session
) -> IngestResult:
    """Store ``events`` as ``pending`` :class:`CallbackEvent` rows in one transaction,
    skipping already stored ones (same ``dedupe_key``). Database errors propagate."""
    if not events:
        return IngestResult(0, 0)
    stored = 0
    now = utcnow()
    async with session_factory() as s:
        endpoints = {e.endpoint_id for e in events if e.endpoint_id}
        esims: dict[str, int] = {}
        if endpoints:
            for esim_id, endpoint_id in (
                await s.exec(
                    select(Esim.id, Esim.endpoint_id).where(
                        col(Esim.endpoint_id).in_(list(endpoints))
                    )
                )
            ).all():
                if esim_id is not None:
                    esims[endpoint_id] = esim_id
        table: Any = CallbackEvent.__table__  # type: ignore[attr-defined]
        dialect = s.get_bind().dialect.name
        for e in events:
            values = {
                "dedupe_key": e.dedupe_key,
                "event_type": e.event_type if e.event_type != "other" else e.raw_type or "other",
                "endpoint_id": e.endpoint_id,
                "esim_id": esims.get(e.endpoint_id or ""),
                "unique_id": e.unique_id,
                "event_at": e.event_at,
                "seq": e.seq,
                "payload": e.payload,
                "status": "pending",
                "received_at": now,
            }
            ins: Any = (postgresql if dialect == "postgresql" else sqlite).insert(table)
            result: Any = await s.execute(
                ins.values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
            )
            stored += max(result.rowcount or 0, 0)
        await s.commit()
    log.info("platform callbacks received", extra={"received": len(events), "stored": stored})
    return IngestResult(len(events), stored)


# ============================================================================ processing
@dataclass
class ProcessReport:
    """Outcome of :func:`process_pending`: counts per result, and the eSIMs whose stored
    figures changed (wake their pages, re-evaluate their notifications)."""

    applied: int = 0
    superseded: int = 0
    ignored: int = 0
    failed: int = 0
    esim_ids: set[int] = field(default_factory=set)


def _from_row(row: CallbackEvent) -> PlatformEvent:
    return _parse_note(row.payload)


async def process_pending(
    *,
    session_factory: SessionFactory = db.session,
    clock: Callable[[], datetime] = utcnow,
    limit: int = 2000,
    on_applied: Callable[[int], object] | None = None,
) -> ProcessReport:
    """Apply up to ``limit`` pending events, oldest platform time first (module docstring).

    Each event is applied in its own transaction together with its ``pending → processed``
    (or ``ignored``) compare-and-set; an event another processor took is skipped. An
    unexpected error marks the event ``failed`` (with the error) and processing continues.
    ``on_applied(esim_id)`` is called right after each applied event's commit (e.g.
    ``live.notify``, so open pages update event by event, not at the end of a batch).
    """
    report = ProcessReport()
    async with session_factory() as s:
        ids = list(
            (
                await s.exec(
                    select(CallbackEvent.id)
                    .where(col(CallbackEvent.status) == "pending")
                    .order_by(
                        col(CallbackEvent.event_at),
                        col(CallbackEvent.seq),
                        col(CallbackEvent.id),
                    )
                    .limit(limit)
                )
            ).all()
        )
    for event_id in ids:
        if event_id is None:
            continue
        try:
            outcome, esim_id = await _process_one(session_factory, event_id, clock())
        except Exception as exc:
            log.exception("platform callback %s failed", event_id)
            await _mark(session_factory, event_id, "failed", f"{type(exc).__name__}: {exc}")
            report.failed += 1
            continue
        if outcome == "applied":
            report.applied += 1
            if esim_id is not None:
                report.esim_ids.add(esim_id)
                if on_applied is not None:
                    on_applied(esim_id)
        elif outcome == "superseded":
            report.superseded += 1
        elif outcome == "ignored":
            report.ignored += 1
    if ids:
        log.info(
            "platform callbacks processed",
            extra={
                "applied": report.applied,
                "superseded": report.superseded,
                "ignored": report.ignored,
                "failed": report.failed,
            },
        )
    return report


async def _mark(factory: SessionFactory, event_id: int, status: str, error: str) -> None:
    async with factory() as s:
        await s.execute(
            update(CallbackEvent)
            .where(col(CallbackEvent.id) == event_id)
            .values(status=status, error=error[:500], processed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        await s.commit()


async def _process_one(
    factory: SessionFactory, event_id: int, now: datetime
) -> tuple[str, int | None]:
    async with factory() as s:
        row = await s.get(CallbackEvent, event_id)
        if row is None or row.status != "pending":
            return "skipped", None
        event = _from_row(row)
        esim_id = row.esim_id
        if esim_id is None and event.endpoint_id:
            esim_id = (
                await s.exec(select(Esim.id).where(col(Esim.endpoint_id) == event.endpoint_id))
            ).first()
        outcome, error = "ignored", None
        if esim_id is None:
            error = "unknown endpoint"
        elif event.event_type in _ADDON_TYPES:
            outcome, error = await _apply_addon(s, esim_id, event, now)
        elif event.event_type == TYPE_PROFILE:
            outcome, error = await _apply_profile(s, esim_id, event, event_id, now)
        else:
            error = f"event type not handled: {event.raw_type or '?'}"
        final = "ignored" if outcome == "ignored" else "processed"
        claimed: Any = await s.execute(
            update(CallbackEvent)
            .where(col(CallbackEvent.id) == event_id, col(CallbackEvent.status) == "pending")
            .values(status=final, error=error, processed_at=now, esim_id=esim_id)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # another processor applied it first
            await s.rollback()
            return "skipped", None
        await s.commit()
        return outcome, esim_id


def _event_figures(event: PlatformEvent) -> dict[str, Any]:
    return {
        "initial_bytes": event.initial_bytes,
        "remaining_bytes": event.remaining_bytes,
        "used_bytes": event.used_bytes,
    }


async def _apply_addon(
    s: AsyncSession, esim_id: int, event: PlatformEvent, now: datetime
) -> tuple[str, str | None]:
    if event.unique_id is None:
        return "ignored", "add-on event without uniqueId"
    row = (
        await s.exec(select(EsimAddon).where(col(EsimAddon.unique_id) == event.unique_id))
    ).first()
    status = event.status
    if event.event_type == TYPE_DEACTIVATION and status is None:
        status = "deactivated"
    if event.event_type in (TYPE_ACTIVATION, TYPE_RENEWAL) and status is None:
        status = "active"
    if row is None:
        if event.plan_id is None:
            return "ignored", "unknown add-on and no planId"
        s.add(
            EsimAddon(
                esim_id=esim_id,
                unique_id=event.unique_id,
                plan_id=event.plan_id,
                plan_name=event.plan_name,
                status=status or "waiting",
                activated_by=event.activated_by,
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
    for name in ("subscribed_at", "started_at", "expires_at", "plan_name", "activated_by"):
        value = getattr(event, name)
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
) -> tuple[str, str | None]:
    if event.profile_status is None:
        return "ignored", "profile event without esimProfileStatus"
    newer = (
        await s.exec(
            select(CallbackEvent).where(
                col(CallbackEvent.esim_id) == esim_id,
                col(CallbackEvent.event_type) == TYPE_PROFILE,
                col(CallbackEvent.status) == "processed",
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


# ============================================================================ read model
async def last_event_times(
    session: AsyncSession, esim_ids: Iterable[int] | None = None
) -> dict[int, datetime]:
    """When each eSIM last got an applied or superseded platform event (receipt time, aware
    UTC), for the usage sync's "where are events missing" ordering."""
    q = (
        select(CallbackEvent.esim_id, func.max(CallbackEvent.received_at))
        .where(col(CallbackEvent.status) == "processed", col(CallbackEvent.esim_id).is_not(None))
        .group_by(col(CallbackEvent.esim_id))
    )
    if esim_ids is not None:
        q = q.where(col(CallbackEvent.esim_id).in_(list(esim_ids)))
    out: dict[int, datetime] = {}
    for esim_id, at in (await session.execute(q)).all():
        if esim_id is not None and at is not None:
            out[int(esim_id)] = at if at.tzinfo else at.replace(tzinfo=UTC)
    return out

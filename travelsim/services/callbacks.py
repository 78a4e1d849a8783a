"""Platform callbacks (push events from SFT, docs/sft-platform.md#callbacks). No Reflex.

Rules: docs/business-rules.md#platform-callbacks; the failure scenario they answer:
docs/esim.md#f17-callback-trouble.

SFT POSTs batches of events (every 60 s, at most 800 per POST, **no retries**, no replay) to
``POST /callbacks/sft`` (``travelsim.routes.callbacks``): plan notifications (process 10011) and
data-stream deliveries (``sft.callbacks`` reads both). Two steps, so the platform gets its
answer fast and nothing is lost if processing fails:

1. :func:`receive_raw` (inside the request): the body is parsed (``sft.callbacks.parse_batch``:
   the shapes and every wire name they hold) and :func:`ingest` stores each event raw as a
   :class:`~travelsim.models.CallbackEvent` with ``status="pending"``. The ``dedupe_key``
   (SHA-256 of ``callbackId`` and the message, or of the whole data-stream event) is unique,
   so a duplicated delivery is stored once (``INSERT … ON CONFLICT DO NOTHING``). What the
   portal does not understand is kept too, as ``unrecognised`` (never applied, listed for
   staff on the admin home page, logged as a warning with its id): an event with no or an
   unknown type, and a body that is not JSON or holds no event (:func:`store_raw`: its bytes,
   truncated to :data:`RAW_KEEP_CHARS` characters).
2. :func:`apply_pending` (right after the response, as a Starlette background task, and
   again by the scheduler's sweep for anything left ``pending`` by a crash):
   :func:`process_pending` applies each event in its own transaction that first moves it
   ``pending → processed`` with a compare-and-set, so two processors never apply the same
   event; then the pages of the changed eSIMs are woken and their notifications evaluated.

Add-on events (``sft.callbacks.ADDON_EVENTS``, "Counter Changes" included: a usage update)
and eSIM profile status events are applied; usage records and the other published event types
are stored and marked ``ignored``.

How one event changes the stored rows (newest figures win, whatever the arrival order):
:mod:`travelsim.services.callback_apply`.

An event for an endpoint the portal does not own is ``ignored``. Changed rows get
``figures_at``/``updated_at`` = the processing time; open pages of their eSIMs are woken
(``services.live.notify``) event by event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db, metrics
from travelsim.db import SessionFactory
from travelsim.models import CallbackEvent, CallbackStatus, Esim, utcnow
from travelsim.services import figures_hooks, live, notifications
from travelsim.services.callback_apply import Outcome, apply_event
from travelsim.settings import Settings, get_settings
from travelsim.sft.callbacks import (
    CallbackFormatError,
    EventType,
    PlatformEvent,
    parse_batch,
    parse_notification,
    raw_dedupe_key,
)
from travelsim.sft.parsing import platform_zone

__all__ = [
    "RAW_KEEP_CHARS",
    "IngestResult",
    "ProcessReport",
    "apply_pending",
    "ingest",
    "last_event_times",
    "process_pending",
    "receive",
    "receive_raw",
    "store_raw",
]

log = logging.getLogger(__name__)

#: How much of a body stored raw is kept (characters of its text, decoded leniently).
RAW_KEEP_CHARS = 64 * 1024


# ============================================================================ ingest
@dataclass(frozen=True)
class IngestResult:
    """``received``: events in the batch; ``stored``: new ones (duplicates are not stored);
    ``unrecognised``: new ones stored as ``unrecognised``."""

    received: int
    stored: int
    unrecognised: int = 0


def _row_values(e: PlatformEvent, esim_id: int | None, now: datetime) -> dict[str, Any]:
    unknown = e.event_type == EventType.UNRECOGNISED
    reason = f"unrecognised event type: {e.raw_type}" if e.raw_type else "no event type"
    return {
        "dedupe_key": e.dedupe_key,
        "event_type": e.event_type
        if e.event_type not in (EventType.OTHER, EventType.UNRECOGNISED)
        else e.raw_type or e.event_type,
        "endpoint_id": (e.endpoint_id or "")[:32] or None,
        "esim_id": esim_id,
        "unique_id": (e.unique_id or "")[:32] or None,
        "event_at": e.event_at,
        "seq": e.seq,
        "payload": e.payload,
        "status": CallbackStatus.UNRECOGNISED if unknown else CallbackStatus.PENDING,
        "error": reason[:500] if unknown else None,
        "received_at": now,
    }


async def _insert(s: AsyncSession, values: dict[str, Any]) -> int:
    """Insert one ``callback_event`` row unless its ``dedupe_key`` is stored; 1 if inserted."""
    table: Any = CallbackEvent.__table__  # type: ignore[attr-defined]
    dialect = s.get_bind().dialect.name
    ins: Any = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    result: Any = await s.execute(
        ins.values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    return max(result.rowcount or 0, 0)


async def _warn_unrecognised(s: AsyncSession, keys: list[str]) -> None:
    """Log one warning per newly stored unrecognised row: its id and reason (ids only)."""
    rows = (
        await s.exec(
            select(CallbackEvent.id, CallbackEvent.error).where(
                col(CallbackEvent.dedupe_key).in_(keys)
            )
        )
    ).all()
    for row_id, reason in rows:
        log.warning("platform callback %s unrecognised: %s", row_id, reason)


async def ingest(
    events: Sequence[PlatformEvent], *, session_factory: SessionFactory = db.session
) -> IngestResult:
    """Store ``events`` in one transaction, skipping already stored ones (same
    ``dedupe_key``): ``pending``, or ``unrecognised`` (with the reason in ``error``) for an
    event of no or unknown type. Database errors propagate."""
    if not events:
        return IngestResult(0, 0)
    stored = 0
    new_unknown: list[str] = []
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
        for e in events:
            added = await _insert(s, _row_values(e, esims.get(e.endpoint_id or ""), now))
            stored += added
            if added and e.event_at is not None:
                metrics.observe_lag(metrics.CALLBACK_LAG, (now - e.event_at).total_seconds())
            if added and e.event_type == EventType.UNRECOGNISED:
                new_unknown.append(e.dedupe_key)
        await s.commit()
        if new_unknown:
            await _warn_unrecognised(s, new_unknown)
    log.info("platform callbacks received", extra={"received": len(events), "stored": stored})
    return IngestResult(len(events), stored, len(new_unknown))


async def store_raw(
    raw: bytes, reason: str, *, session_factory: SessionFactory = db.session
) -> IngestResult:
    """Keep a body the portal cannot read events from (not JSON, or no event in it) as one
    ``unrecognised`` row: ``payload = {"raw": text, "truncated": bool, "bytes": n}`` with at
    most :data:`RAW_KEEP_CHARS` characters of the body (decoded as UTF-8, undecodable bytes
    replaced) and ``error = reason``. The same bytes twice are stored once. Logs a warning
    with the row id and the reason. Database errors propagate."""
    text = raw.decode("utf-8", errors="replace")
    payload = {
        "raw": text[:RAW_KEEP_CHARS],
        "truncated": len(text) > RAW_KEEP_CHARS,
        "bytes": len(raw),
    }
    key = raw_dedupe_key(raw)
    async with session_factory() as s:
        added = await _insert(
            s,
            {
                "dedupe_key": key,
                "event_type": EventType.UNRECOGNISED,
                "payload": payload,
                "status": CallbackStatus.UNRECOGNISED,
                "error": reason[:500],
                "received_at": utcnow(),
            },
        )
        await s.commit()
        if added:
            await _warn_unrecognised(s, [key])
    return IngestResult(1, added, added)


async def receive(body: Any, *, session_factory: SessionFactory = db.session) -> IngestResult:
    """Parse a decoded callback body (``sft.callbacks.parse_batch``) and store its events
    (:func:`ingest`). Raises ``sft.callbacks.CallbackFormatError`` (a ``ValueError``) for a body
    holding no event, before anything is stored; database errors propagate."""
    return await ingest(parse_batch(body, _platform_zone()), session_factory=session_factory)


def _no_constant(name: str) -> Any:
    """``NaN``/``Infinity`` are not JSON (and no database JSON column takes them)."""
    raise ValueError(f"{name} is not JSON")


async def receive_raw(raw: bytes, *, session_factory: SessionFactory = db.session) -> IngestResult:
    """Store what an authenticated sender posted, whatever it is: the events of a body that
    parses (:func:`receive`), else the body itself (:func:`store_raw`, reason ``invalid JSON``
    (``NaN``/``Infinity`` included) or ``no event found``). Never raises for the content;
    database errors propagate."""
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        return await store_raw(
            raw, f"invalid JSON: {type(exc).__name__}", session_factory=session_factory
        )
    try:
        return await receive(body, session_factory=session_factory)
    except CallbackFormatError as exc:
        return await store_raw(raw, f"no event found: {exc}", session_factory=session_factory)


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


def _platform_zone() -> tzinfo:
    """The zone of the platform's date-times (``SFT_PLATFORM_TIMEZONE``; the same one the SFT
    client reads them in, docs/sft-platform.md#conventions)."""
    return platform_zone(get_settings().sft_platform_timezone)


def _from_row(row: CallbackEvent) -> PlatformEvent:
    return parse_notification(row.payload, _platform_zone())


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
                    .where(col(CallbackEvent.status) == CallbackStatus.PENDING)
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
            await _mark(
                session_factory, event_id, CallbackStatus.FAILED, f"{type(exc).__name__}: {exc}"
            )
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


async def apply_pending(
    *,
    session_factory: SessionFactory = db.session,
    settings: Settings | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> ProcessReport:
    """Apply the pending events (:func:`process_pending`), waking the open pages of each
    changed eSIM as its event commits (``live.notify``), run the figures hooks of those eSIMs
    (``figures_hooks.figures_changed``: the automatic top-up), then create the notices now due
    for them (``notifications.evaluate``). Database errors propagate."""
    report = await process_pending(
        session_factory=session_factory, clock=clock, on_applied=live.notify
    )
    # What acts on the new figures (the automatic top-up), after the events' commits.
    await figures_hooks.figures_changed(report.esim_ids, session_factory)
    if report.esim_ids:
        await notifications.evaluate(
            session_factory=session_factory,
            settings=settings,
            clock=clock,
            esim_ids=sorted(report.esim_ids),
        )
    return report


async def _mark(factory: SessionFactory, event_id: int, status: CallbackStatus, error: str) -> None:
    async with factory() as s:
        await s.execute(
            update(CallbackEvent)
            .where(col(CallbackEvent.id) == event_id)
            .values(status=status, error=error[:500], processed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        await s.commit()


#: First key of the PostgreSQL advisory lock :func:`_take_turn` takes per eSIM ("TSCB").
APPLY_LOCK_NAMESPACE = 0x54534342


async def _take_turn(s: AsyncSession, esim_id: int) -> None:
    """Apply one eSIM's events one transaction at a time, until ``s`` commits.

    Applying reads the rows it compares (the add-on's used bytes, the newest profile event)
    and then writes them. Two processors at once (each batch's after-response task, the
    sweep) could both read the same old row, and the later commit won: an older figure over
    a newer one. PostgreSQL: a transaction-scoped advisory lock on (namespace, eSIM id), which
    no row lock waits on, so it cannot deadlock with the usage sync or provisioning; every
    statement after it sees what the previous holder committed (READ COMMITTED). SQLite: a
    no-op write on the eSIM row, which takes the database's one write lock (waiting up to
    ``busy_timeout``) before the reads. Proof: tests/integration/test_callback_race.py."""
    if s.get_bind().dialect.name == "postgresql":
        await s.execute(select(func.pg_advisory_xact_lock(APPLY_LOCK_NAMESPACE, esim_id)))
    else:
        await s.execute(
            update(Esim)
            .where(col(Esim.id) == esim_id)
            .values(id=Esim.id)
            .execution_options(synchronize_session=False)
        )


async def _process_one(
    factory: SessionFactory, event_id: int, now: datetime
) -> tuple[Outcome, int | None]:
    async with factory() as s:
        row = await s.get(CallbackEvent, event_id)
        if row is None or row.status != CallbackStatus.PENDING:
            return "skipped", None
        event = _from_row(row)
        esim_id = row.esim_id
        if esim_id is None and event.endpoint_id:
            esim_id = (
                await s.exec(select(Esim.id).where(col(Esim.endpoint_id) == event.endpoint_id))
            ).first()
        outcome: Outcome = "ignored"
        error: str | None = "unknown endpoint"
        if esim_id is not None:
            await _take_turn(s, esim_id)
            outcome, error = await apply_event(s, esim_id, event, event_id, now)
        final = CallbackStatus.IGNORED if outcome == "ignored" else CallbackStatus.PROCESSED
        claimed: Any = await s.execute(
            update(CallbackEvent)
            .where(
                col(CallbackEvent.id) == event_id,
                col(CallbackEvent.status) == CallbackStatus.PENDING,
            )
            .values(status=final, error=error, processed_at=now, esim_id=esim_id)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # another processor applied it first
            await s.rollback()
            return "skipped", None
        await s.commit()
        return outcome, esim_id


# ============================================================================ read model
async def last_event_times(
    session: AsyncSession, esim_ids: Iterable[int] | None = None
) -> dict[int, datetime]:
    """When each eSIM last got an applied or superseded platform event (receipt time, aware
    UTC), for the usage sync's "where are events missing" ordering."""
    q = (
        select(CallbackEvent.esim_id, func.max(CallbackEvent.received_at))
        .where(
            col(CallbackEvent.status) == CallbackStatus.PROCESSED,
            col(CallbackEvent.esim_id).is_not(None),
        )
        .group_by(col(CallbackEvent.esim_id))
    )
    if esim_ids is not None:
        q = q.where(col(CallbackEvent.esim_id).in_(list(esim_ids)))
    out: dict[int, datetime] = {}
    for esim_id, at in (await session.execute(q)).all():
        if esim_id is not None and at is not None:
            out[int(esim_id)] = at if at.tzinfo else at.replace(tzinfo=UTC)
    return out

"""Platform callbacks on the wire: the CallBackNotification envelope read into events.

No I/O and no database: storing and applying the events is ``travelsim.services.callbacks``.
Every wire name is in :mod:`travelsim.sft.wire` (callbacks section).

Envelope (process 10011 "CallBackNotification", docs/sft-platform.md#callbacks)::

    {"Request": {"apiCallback": {"accountId", "callbackProcessId", "callbackProcessName",
                                 "callbackUri"},
                 "notification": {"callbackId", "callbackTimestamp", "message"}
                                 | [ {…}, … ]}}

``notification`` may be one object (the documented sample) or a list (a batch), at most
:data:`MAX_EVENTS_PER_BATCH`. ``message`` is "customer-defined text"; the portal expects a JSON
object, as a string or inline, with ``eventType`` (or ``eventType`` beside ``message``) and the
fields of Get Endpoint Add-on Details (docs/sft-platform.md#get-endpoint-add-on-details):
``endPointId``, ``iccid``, ``uniqueId``, ``planId`` (or ``addonId``), ``planName``, ``status``,
``activatedBy``, ``subscriptionDate``, ``startDate``, ``expiryDate`` (``dd/mm/yyyy HH:MM:SS``
UTC, or ISO 8601; ``"-"`` for none), ``initialVolume``, ``remainingVolume``, ``usedVolume``
(bytes), ``esimProfileStatus``, plus optional ``eventTimestamp`` and ``sequence``. Keys are
matched ignoring case. A message that is not a JSON object is kept as ``{"text": …}``.

Event types (:class:`EventType`; matched ignoring case, spaces, dashes and underscores): Addon
Subscription, Addon Activation, Addon Renew(al), Addon Deactivation, Counter Change(s), eSIM
Profile Status; anything else is :attr:`EventType.OTHER`.

Reading a notification never fails on a field: a missing or unreadable value is ``None``. Only
an envelope without ``Request.notification`` objects raises :class:`CallbackFormatError`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from travelsim.sft import wire
from travelsim.sft.models import ActivatedBy, AddonStatus

__all__ = [
    "ADDON_EVENTS",
    "MAX_EVENTS_PER_BATCH",
    "CallbackFormatError",
    "EventType",
    "PlatformEvent",
    "parse_batch",
    "parse_notification",
]

#: The platform sends at most 800 events per POST (docs/sft-platform.md#callbacks "Delivery");
#: a little slack is accepted.
MAX_EVENTS_PER_BATCH = 1000


class EventType(StrEnum):
    """The portal's name of a platform event type (stored in ``CallbackEvent.event_type``)."""

    ADDON_SUBSCRIPTION = "addon_subscription"
    ADDON_ACTIVATION = "addon_activation"
    ADDON_RENEWAL = "addon_renewal"
    ADDON_DEACTIVATION = "addon_deactivation"
    COUNTER_CHANGE = "counter_change"
    PROFILE_STATUS = "profile_status"
    OTHER = "other"


#: Event types about one add-on instance (they carry its ``uniqueId`` and figures).
ADDON_EVENTS = frozenset(
    {
        EventType.ADDON_SUBSCRIPTION,
        EventType.ADDON_ACTIVATION,
        EventType.ADDON_RENEWAL,
        EventType.ADDON_DEACTIVATION,
        EventType.COUNTER_CHANGE,
    }
)


class CallbackFormatError(ValueError):
    """The body is not a CallBackNotification envelope (answered with HTTP 400)."""


@dataclass(frozen=True)
class PlatformEvent:
    """One parsed platform event. Volumes in bytes, times aware UTC (``None`` = not given).

    ``dedupe_key``: SHA-256 (hex) of the ``callbackId`` and the message, the same for a
    duplicated delivery. ``raw_type``: the event type as sent (at most 64 characters).
    ``status``: the add-on status sent, ``None`` when absent or not a known one.
    ``activated_by``: from the ``activatedBy`` code, ``None`` when absent or unknown.
    ``profile_status``: lower-cased. ``event_at``: ``eventTimestamp``, else
    ``callbackTimestamp``. ``payload``: the notification object as received.
    """

    dedupe_key: str
    event_type: EventType
    raw_type: str
    endpoint_id: str | None
    iccid: str | None
    unique_id: str | None
    plan_id: str | None
    plan_name: str | None
    status: AddonStatus | None
    activated_by: ActivatedBy | None
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


# ============================================================================ scalars
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
    return None if s in wire.ABSENT_VALUES else s


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
        return datetime.strptime(s, wire.DATETIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(s)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _event_type(raw: str | None) -> EventType:
    key = "".join(c for c in (raw or "").lower() if c.isalnum())
    member = wire.EVENT_TYPES.get(key)
    return EventType[member] if member else EventType.OTHER


def _status(raw: str | None) -> AddonStatus | None:
    member = wire.ADDON_STATUS_VALUES.get((raw or "").lower())
    return AddonStatus[member] if member else None


def _activated_by(code: str | None) -> ActivatedBy | None:
    member = wire.ACTIVATED_BY_CODES.get(code or "")
    return ActivatedBy[member] if member else None


# ============================================================================ notifications
def _message(note: dict[str, Any]) -> dict[str, Any]:
    raw = _get(note, wire.CALLBACK_MESSAGE)
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return {"text": raw}
        return parsed if isinstance(parsed, dict) else {"text": raw}
    return {}


def parse_notification(note: dict[str, Any]) -> PlatformEvent:
    """One ``Request.notification`` object as an event (module docstring). Never raises for
    a missing or unreadable field; pure (a stored payload parses to the same event)."""
    msg = _message(note)
    raw_type = _text(_get(note, wire.EVENT_TYPE)) or _text(_get(msg, wire.EVENT_TYPE)) or ""
    canonical = json.dumps(
        [_text(_get(note, wire.CALLBACK_ID)), msg if msg else _get(note, wire.CALLBACK_MESSAGE)],
        sort_keys=True,
        default=str,
    )
    initial = _int(_get(msg, wire.ADDON_INITIAL_VOLUME))
    remaining = _int(_get(msg, wire.ADDON_REMAINING_VOLUME))
    used = _int(_get(msg, wire.ADDON_USED_VOLUME))
    if used is None and initial is not None and remaining is not None:
        used = initial - remaining
    if remaining is None and initial is not None and used is not None:
        remaining = initial - used
    return PlatformEvent(
        dedupe_key=hashlib.sha256(canonical.encode()).hexdigest(),
        event_type=_event_type(raw_type),
        raw_type=raw_type[:64],
        endpoint_id=_text(_get(msg, wire.ADDON_ENDPOINT_ID)),
        iccid=_text(_get(msg, wire.EVENT_ICCID)),
        unique_id=_text(_get(msg, wire.ADDON_UNIQUE_ID)),
        plan_id=_text(_get(msg, wire.ADDON_PLAN_ID)) or _text(_get(msg, wire.ADDON_ADDON_ID)),
        plan_name=_text(_get(msg, wire.ADDON_PLAN_NAME)),
        status=_status(_text(_get(msg, wire.ADDON_STATUS))),
        activated_by=_activated_by(_text(_get(msg, wire.ADDON_ACTIVATED_BY))),
        subscribed_at=_ts(_get(msg, wire.ADDON_SUBSCRIPTION_DATE)),
        started_at=_ts(_get(msg, wire.ADDON_START_DATE)),
        expires_at=_ts(_get(msg, wire.ADDON_EXPIRY_DATE)),
        initial_bytes=initial,
        remaining_bytes=None if remaining is None else max(0, remaining),
        used_bytes=None if used is None else max(0, used),
        profile_status=(_text(_get(msg, wire.EVENT_ESIM_PROFILE_STATUS)) or "").lower() or None,
        event_at=_ts(_get(msg, wire.EVENT_TIMESTAMP)) or _ts(_get(note, wire.CALLBACK_TIMESTAMP)),
        seq=_int(_get(msg, wire.EVENT_SEQUENCE)),
        payload=note,
    )


def parse_batch(body: Any) -> list[PlatformEvent]:
    """Parse a CallBackNotification body (module docstring) into events, in sent order.

    Raises :class:`CallbackFormatError` when ``Request.notification`` is missing or is not an
    object or a list of objects, or when there are more than :data:`MAX_EVENTS_PER_BATCH`.
    """
    notes = _get(_get(body, wire.REQUEST), wire.CALLBACK_NOTIFICATION)
    if isinstance(notes, dict):
        notes = [notes]
    if not isinstance(notes, list) or not all(isinstance(n, dict) for n in notes):
        raise CallbackFormatError("Request.notification must be an object or a list of objects")
    if len(notes) > MAX_EVENTS_PER_BATCH:
        raise CallbackFormatError(f"more than {MAX_EVENTS_PER_BATCH} events in one batch")
    return [parse_notification(n) for n in notes]

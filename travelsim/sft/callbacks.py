"""Platform callbacks on the wire: the bodies SFT pushes, read into events.

No I/O and no database: storing and applying the events is ``travelsim.services.callbacks``.
Every wire name is in :mod:`travelsim.sft.wire` (callbacks section). Two processes post to the
receiver (docs/sft-platform.md#callbacks):

Plan notifications, process 10011 "CallBackNotification" (published sample body)::

    {"Request": {"apiCallback": {"accountId", "callbackProcessId", "callbackProcessName",
                                 "callbackUri"},
                 "notification": {"callbackId", "callbackTimestamp", "message"}
                                 | [ {…}, … ]}}

``message`` is "customer-defined text"; the portal expects a JSON object, as a string or
inline, with ``eventType`` (or ``eventType`` beside ``message``) and the fields below. A message
that is not a JSON object is kept as ``{"text": …}`` (and the event, having no type, is
unrecognised).

Data streams, "Account Events (Bulk)" and the like (docs/sft-platform.md#data-stream-events):
flat event objects, accepted as a JSON array of events, an object holding the list under a
key (:data:`wire.STREAM_LIST_KEYS`, at the top level or inside ``Request``, else the only list
of objects it holds), or one event object.

Event fields, read from the message, else from the event object itself (keys matched ignoring
case): ``eventType``, ``endPointId``, ``iccid``, ``uniqueId``, ``planId`` (or ``addonId``),
``planName``, ``status``, ``activatedBy``, ``subscriptionDate``, ``startDate``,
``expiryDate`` (``dd/mm/yyyy HH:MM:SS`` UTC, or ISO 8601; ``"-"`` for none),
``initialVolume``, ``remainingVolume``, ``usedVolume`` (bytes), ``eSimProfileStatus``, plus
optional ``eventTimestamp`` and ``sequence``. A record with ``volumeAccumulated`` and no
``eventType`` is a Usage Events record (:attr:`EventType.USAGE`).

Event types (:class:`EventType`; matched ignoring case, spaces, dashes and underscores): Addon
Subscription, Addon Activation, Addon Renew(al), Addon Deactivation, Counter Change(s), eSIM
Profile Status, usage records; the other published types are :attr:`EventType.OTHER`;
anything else (or no type) is :attr:`EventType.UNRECOGNISED`.

Reading an event never fails on a field: a missing or unreadable value is ``None``. Only a
body in which no event can be found raises :class:`CallbackFormatError`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Any

from travelsim.sft import wire
from travelsim.sft.models import ActivatedBy, AddonStatus
from travelsim.sft.reader import to_datetime

__all__ = [
    "ADDON_EVENTS",
    "CallbackFormatError",
    "EventType",
    "PlatformEvent",
    "parse_batch",
    "parse_notification",
    "raw_dedupe_key",
]


class EventType(StrEnum):
    """The portal's name of a platform event type (stored in ``CallbackEvent.event_type``)."""

    ADDON_SUBSCRIPTION = "addon_subscription"
    ADDON_ACTIVATION = "addon_activation"
    ADDON_RENEWAL = "addon_renewal"
    ADDON_DEACTIVATION = "addon_deactivation"
    COUNTER_CHANGE = "counter_change"
    PROFILE_STATUS = "profile_status"
    #: A Usage Events (Bulk) record: stored, not applied (no add-on instance in it).
    USAGE = "usage"
    #: A published event type the portal does not apply (stored, marked ``ignored``).
    OTHER = "other"
    #: No event type, or one the portal does not know (stored for staff, never applied).
    UNRECOGNISED = "unrecognised"


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
    """No event can be found in the body (the receiver stores it raw, as unrecognised)."""


@dataclass(frozen=True)
class PlatformEvent:
    """One parsed platform event. Volumes in bytes, times aware UTC (``None`` = not given).

    ``dedupe_key``: SHA-256 (hex) of the ``callbackId`` and the message (of the whole event
    object when it has no ``callbackId``), the same for a duplicated delivery. ``raw_type``:
    the event type as sent (at most 64 characters).
    ``status``: the add-on status sent, ``None`` when absent or not a known one.
    ``activated_by``: from the ``activatedBy`` code, ``None`` when absent or unknown.
    ``profile_status``: lower-cased. ``event_at``: ``eventTimestamp``, else
    ``callbackTimestamp``. ``payload``: the notification or event object as received.
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
    s = str(value).replace("\x00", "").strip()  # NUL: no database text column takes it
    return None if s in wire.ABSENT_VALUES else s


def _int(value: Any) -> int | None:
    s = _text(value)
    if s is None:
        return None
    try:
        return int(float(s)) if "." in s else int(s)
    except ValueError:
        return None


def _seq(value: Any) -> int | None:
    """A sequence number that fits the stored 64-bit column, else ``None``."""
    n = _int(value)
    return n if n is not None and -(2**63) <= n < 2**63 else None


def _ts(value: Any, tz: tzinfo = UTC) -> datetime | None:
    """A platform date-time (``dd/mm/yyyy HH:MM:SS`` in the platform's zone ``tz``, read by
    ``reader.to_datetime``: docs/sft-platform.md#conventions "Date-times") or an ISO 8601
    one (UTC when it names no zone), as aware UTC; ``None`` when absent or unreadable."""
    s = _text(value)
    if s is None:
        return None
    try:
        return to_datetime(s, tz)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(s)
        except ValueError:
            return None
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _event_type(raw: str | None) -> EventType:
    key = "".join(c for c in (raw or "").lower() if c.isalnum())
    member = wire.EVENT_TYPES.get(key)
    if member:
        return EventType[member]
    return EventType.OTHER if key in wire.EVENT_TYPES_NOT_APPLIED else EventType.UNRECOGNISED


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


def _canonical(note: dict[str, Any], msg: dict[str, Any]) -> str:
    callback_id = _text(_get(note, wire.CALLBACK_ID))
    if callback_id is None:  # a data-stream event: the whole object identifies it
        return json.dumps(note, sort_keys=True, default=str)
    return json.dumps(
        [callback_id, msg if msg else _get(note, wire.CALLBACK_MESSAGE)],
        sort_keys=True,
        default=str,
    )


def parse_notification(note: dict[str, Any], tz: tzinfo = UTC) -> PlatformEvent:
    """One notification (10011) or data-stream event object as an event (module docstring).
    ``tz``: the platform's zone of ``dd/mm/yyyy HH:MM:SS`` date-times (``SFT_PLATFORM_TIMEZONE``).
    Never raises for a missing or unreadable field; pure (a stored payload parses to the same
    event)."""
    msg = _message(note)

    def get(name: str) -> Any:
        value = _get(msg, name)
        return _get(note, name) if value is None else value

    raw_type = _text(_get(note, wire.EVENT_TYPE)) or _text(_get(msg, wire.EVENT_TYPE)) or ""
    if not raw_type and get(wire.USAGE_VOLUME_ACCUMULATED) is not None:
        raw_type = wire.USAGE_RECORD_TYPE
    initial = _int(get(wire.ADDON_INITIAL_VOLUME))
    remaining = _int(get(wire.ADDON_REMAINING_VOLUME))
    used = _int(get(wire.ADDON_USED_VOLUME))
    if used is None and initial is not None and remaining is not None:
        used = initial - remaining
    if remaining is None and initial is not None and used is not None:
        remaining = initial - used
    return PlatformEvent(
        dedupe_key=hashlib.sha256(_canonical(note, msg).encode()).hexdigest(),
        event_type=_event_type(raw_type),
        raw_type=raw_type[:64],
        endpoint_id=_text(get(wire.ADDON_ENDPOINT_ID)),
        iccid=_text(get(wire.EVENT_ICCID)),
        unique_id=_text(get(wire.ADDON_UNIQUE_ID)),
        plan_id=_text(get(wire.ADDON_PLAN_ID)) or _text(get(wire.ADDON_ADDON_ID)),
        plan_name=_text(get(wire.ADDON_PLAN_NAME)),
        status=_status(_text(get(wire.ADDON_STATUS))),
        activated_by=_activated_by(_text(get(wire.ADDON_ACTIVATED_BY))),
        subscribed_at=_ts(get(wire.ADDON_SUBSCRIPTION_DATE), tz),
        started_at=_ts(get(wire.ADDON_START_DATE), tz),
        expires_at=_ts(get(wire.ADDON_EXPIRY_DATE), tz),
        initial_bytes=initial,
        remaining_bytes=None if remaining is None else max(0, remaining),
        used_bytes=None if used is None else max(0, used),
        profile_status=(_text(get(wire.EVENT_ESIM_PROFILE_STATUS)) or "").lower() or None,
        event_at=_ts(get(wire.EVENT_TIMESTAMP), tz) or _ts(_get(note, wire.CALLBACK_TIMESTAMP), tz),
        seq=_seq(get(wire.EVENT_SEQUENCE)),
        payload=note,
    )


def _is_event(d: Any) -> bool:
    return isinstance(d, dict) and (
        _get(d, wire.EVENT_TYPE) is not None or _get(d, wire.USAGE_VOLUME_ACCUMULATED) is not None
    )


def _event_list(body: Any) -> list[Any]:
    """The event objects of ``body`` (module docstring), or :class:`CallbackFormatError`."""
    request = _get(body, wire.REQUEST)
    notes = _get(request, wire.CALLBACK_NOTIFICATION)
    if notes is not None:  # process 10011
        if isinstance(notes, dict):
            return [notes]
        if isinstance(notes, list):
            return notes
        raise CallbackFormatError("Request.notification is neither an object nor a list")
    if isinstance(body, list):
        return body
    for holder in (request, body):
        if not isinstance(holder, dict):
            continue
        for key in (*wire.STREAM_LIST_KEYS, wire.CALLBACK_NOTIFICATION):
            value = _get(holder, key)
            if isinstance(value, list):
                return value
            if _is_event(value):
                return [value]
        lists = [
            v
            for v in holder.values()
            if isinstance(v, list) and v and all(isinstance(i, dict) for i in v)
        ]
        if len(lists) == 1:
            return lists[0]
        if _is_event(holder):
            return [holder]
    raise CallbackFormatError("no event list or event object found in the body")


def parse_batch(body: Any, tz: tzinfo = UTC) -> list[PlatformEvent]:
    """Parse a callback body (10011 envelope or data-stream delivery, module docstring) into
    events, in sent order. An item of the list that is not an object is kept as
    ``{"item": item}`` (an unrecognised event), so nothing is dropped.

    Raises :class:`CallbackFormatError` when no event list or event object can be found.
    """
    return [
        parse_notification(n if isinstance(n, dict) else {"item": n}, tz) for n in _event_list(body)
    ]


def raw_dedupe_key(raw: bytes) -> str:
    """SHA-256 (hex) identifying a body stored raw (not JSON, or no event in it): the same
    bytes delivered twice are stored once."""
    return hashlib.sha256(b"raw\x00" + raw).hexdigest()

"""Parsing of platform callback bodies (``travelsim.sft.callbacks``,
docs/sft-platform.md#callbacks): the published 10011 sample, batches, data-stream deliveries
(docs/sft-platform.md#data-stream-events) in each accepted shape, event type names, plain-text
messages, and bodies holding no event."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from travelsim.services import callback_apply
from travelsim.sft.callbacks import (
    CallbackFormatError,
    EventType,
    parse_batch,
)
from travelsim.sft.models import ActivatedBy, AddonStatus


def _note(callback_id: str, message: dict[str, str] | str, **extra: str) -> dict[str, object]:
    text = message if isinstance(message, str) else json.dumps(message)
    return {
        "callbackId": callback_id,
        "callbackTimestamp": "11/09/2020 01:25:23",
        "message": text,
        **extra,
    }


def test_parse_documented_single_notification_and_batches() -> None:
    msg = {
        "eventType": "Counter Changes",
        "endPointId": "50000001",
        "uniqueId": "7000001",
        "planId": "870101",
        "status": "Active",
        "initialVolume": "1073741824",
        "remainingVolume": "973078528",
        "startDate": "10/09/2020 08:00:00",
        "expiryDate": "-",
        "sequence": "7",
    }
    single = {
        "Request": {
            "apiCallback": {"callbackProcessId": "10011"},
            "notification": _note("3868551829710785", msg),
        }
    }
    (e,) = parse_batch(single)
    assert e.event_type == "counter_change"
    assert (e.endpoint_id, e.unique_id, e.plan_id, e.status) == (
        "50000001",
        "7000001",
        "870101",
        AddonStatus.ACTIVE,
    )
    assert (e.initial_bytes, e.remaining_bytes, e.used_bytes) == (1073741824, 973078528, 100663296)
    assert e.started_at == datetime(2020, 9, 10, 8, tzinfo=UTC) and e.expires_at is None
    assert e.event_at == datetime(2020, 9, 11, 1, 25, 23, tzinfo=UTC) and e.seq == 7
    # The same notification twice has the same key; another callbackId does not.
    batch = {"request": {"Notification": [_note("1", msg), _note("1", msg), _note("2", msg)]}}
    keys = [x.dedupe_key for x in parse_batch(batch)]
    assert keys[0] == keys[1] != keys[2]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Addon Subscription", "addon_subscription"),
        ("ADDON_ACTIVATION", "addon_activation"),
        ("Addon Renew", "addon_renewal"),
        ("addon-deactivation", "addon_deactivation"),
        ("Counter Change", "counter_change"),
        ("eSIM Profile Status", "profile_status"),
        ("First Activation", "other"),  # published (endpoint stream), not applied
        ("Charge Changes", "other"),  # published (account stream), not applied
        ("eSIM Profile Status Notifications", "profile_status"),
        ("Quantum Tunnel", "unrecognised"),
        ("", "unrecognised"),
    ],
)
def test_event_type_names(raw: str, expected: str) -> None:
    body = {"Request": {"notification": [_note("1", {"eventType": raw})]}}
    assert parse_batch(body)[0].event_type == expected


def test_event_type_beside_the_message_and_plain_text_messages() -> None:
    body = {"Request": {"notification": [_note("1", "free text", eventType="Addon Activation")]}}
    (e,) = parse_batch(body)
    assert e.event_type == "addon_activation" and e.unique_id is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"Request": {}},
        {"Request": {"notification": "x"}},
        {"x": 1},
        "text",
        42,
    ],
)
def test_no_event_in_the_body(body: object) -> None:
    with pytest.raises(CallbackFormatError):
        parse_batch(body)


def test_nothing_in_a_batch_is_dropped() -> None:
    # A non-object item is kept as an unrecognised event, an empty list is an empty batch,
    # and more than the platform's 800 events per POST are all read.
    (e,) = parse_batch({"Request": {"notification": [1]}})
    assert e.event_type is EventType.UNRECOGNISED and e.payload == {"item": 1}
    assert parse_batch([]) == []
    notes = [_note(str(i), {"eventType": "Counter Changes"}) for i in range(801)]
    assert len(parse_batch({"Request": {"notification": notes}})) == 801


@pytest.mark.parametrize(
    ("raw", "expected", "portal"),
    [
        ("Subscribed", AddonStatus.WAITING, "waiting"),
        ("ACTIVE", AddonStatus.ACTIVE, "active"),
        ("Exhausted", AddonStatus.EXHAUSTED, "used_up"),
        ("expired", AddonStatus.EXPIRED, "expired"),
        ("Deactivated", AddonStatus.DEACTIVATED, "deactivated"),
        ("Suspended", None, None),  # not a status the portal knows: no status change
    ],
)
def test_addon_status_words(raw: str, expected: AddonStatus | None, portal: str | None) -> None:
    msg = {"eventType": "Counter Change", "status": raw}
    (e,) = parse_batch({"Request": {"notification": [_note("1", msg)]}})
    assert e.status is expected
    # ... and the portal's word for it, as stored on the add-on row (services.callback_apply).
    assert (callback_apply._STATUS_MAP[e.status] if e.status is not None else None) == portal


@pytest.mark.parametrize(
    ("code", "expected", "portal"),
    [
        ("1", ActivatedBy.IMMEDIATE, "immediate"),
        ("0", ActivatedBy.ON_USAGE, "on_usage"),
        ("2", None, None),
        ("-", None, None),
    ],
)
def test_activated_by_codes(code: str, expected: ActivatedBy | None, portal: str | None) -> None:
    msg = {"eventType": "Addon Subscription", "activatedBy": code}
    (e,) = parse_batch({"Request": {"notification": [_note("1", msg)]}})
    assert e.activated_by is expected
    assert callback_apply._activated_by(e) == portal


def test_profile_status_plan_fallback_and_other_fields() -> None:
    msg = {
        "EventType": "eSIM Profile Status",
        "ENDPOINTID": "50000002",
        "iccid": "8932000000000000001",
        "addonId": "870102",
        "esimProfileStatus": " Installed ",
        "eventTimestamp": "2020-09-11T02:00:00",
        "usedVolume": "100",
        "initialVolume": "300",
        "activatedBy": "1",
    }
    (e,) = parse_batch({"Request": {"notification": [_note("1", msg)]}})
    assert e.event_type is EventType.PROFILE_STATUS and e.raw_type == "eSIM Profile Status"
    assert (e.endpoint_id, e.iccid, e.plan_id) == ("50000002", "8932000000000000001", "870102")
    assert e.profile_status == "installed"
    assert e.event_at == datetime(2020, 9, 11, 2, tzinfo=UTC)  # ISO, read as UTC
    assert (e.initial_bytes, e.remaining_bytes, e.used_bytes) == (300, 200, 100)
    assert e.activated_by is ActivatedBy.IMMEDIATE and e.status is None

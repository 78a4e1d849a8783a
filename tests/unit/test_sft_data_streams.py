"""Callback bodies beyond the portal's own JSON messages (``travelsim.sft.callbacks``): the
published 10011 sample and data-stream deliveries (docs/sft-platform.md#data-stream-events) in
every accepted shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.sft_samples import PUBLISHED_10011_SAMPLE
from travelsim.sft.callbacks import EventType, parse_batch, raw_dedupe_key
from travelsim.sft.models import AddonStatus

#: Account data-stream events: event types and description texts as published on
#: https://docs.sft.bics.com/sft/account-data-streams-how-to, ``eSimProfileStatus`` as published
#: on https://docs.sft.bics.com/sft/release-4-13-0-may-07-2024; the other field names are the
#: inferred ones of docs/sft-platform.md#data-stream-events.
COUNTER = {
    "eventType": "Counter Changes",
    "eventTimestamp": "02/12/2026 10:00:00",
    "accountId": "41094429",
    "description": "FR 1GB Counter threshold updated to 314572800 for Net(41094429)",
    "endPointId": "50000001",
    "iccid": "8932000000000000001",
    "uniqueId": "7000001",
    "planId": "870101",
    "planName": "FR 1GB",
    "status": "Active",
    "initialVolume": "1073741824",
    "remainingVolume": "759169024",
    "usedVolume": "314572800",
}
PROFILE = {
    "eventType": "eSIM Profile Status",
    "eventTimestamp": "02/12/2026 10:00:05",
    "endPointId": "50000001",
    "iccid": "8932000000000000001",
    "eSimProfileStatus": "Installed",
}
SUBSCRIPTION = {
    "eventType": "Addon Subscription",
    "accountId": "41094429",
    "description": "Addon FR 1GB(870101) Subscribed to the customer Net(41094429) successfully",
    "endPointId": "50000001",
    "uniqueId": "7000002",
    "planId": "870101",
    "status": "Subscribed",
}


def test_the_published_10011_sample_is_read_and_its_free_text_is_unrecognised() -> None:
    (e,) = parse_batch(PUBLISHED_10011_SAMPLE)
    assert e.event_type is EventType.UNRECOGNISED and e.raw_type == ""
    assert e.event_at == datetime(2020, 9, 11, 1, 25, 23, tzinfo=UTC)
    assert e.payload == PUBLISHED_10011_SAMPLE["Request"]["notification"]
    assert e.endpoint_id is None and e.unique_id is None


@pytest.mark.parametrize(
    "body",
    [
        [COUNTER, PROFILE, SUBSCRIPTION],  # a JSON array
        {"events": [COUNTER, PROFILE, SUBSCRIPTION]},  # a list under a known key
        {
            "Request": {
                "apiCallback": {"accountId": "41094429"},
                "data": [COUNTER, PROFILE, SUBSCRIPTION],
            }
        },
        {"streamId": "2209", "whatever": [COUNTER, PROFILE, SUBSCRIPTION]},  # the only list
    ],
)
def test_a_data_stream_batch_in_each_accepted_shape(body: Any) -> None:
    counter, profile, subscription = parse_batch(body)
    assert counter.event_type is EventType.COUNTER_CHANGE
    assert (counter.endpoint_id, counter.unique_id, counter.status) == (
        "50000001",
        "7000001",
        AddonStatus.ACTIVE,
    )
    assert (counter.initial_bytes, counter.remaining_bytes, counter.used_bytes) == (
        1073741824,
        1073741824 - 314572800,
        314572800,
    )
    assert counter.event_at == datetime(2026, 12, 2, 10, tzinfo=UTC)
    assert profile.event_type is EventType.PROFILE_STATUS
    assert profile.profile_status == "installed"  # eSimProfileStatus, lower-cased
    assert subscription.event_type is EventType.ADDON_SUBSCRIPTION
    assert subscription.status is AddonStatus.WAITING and subscription.plan_id == "870101"


def test_a_single_data_stream_event_object() -> None:
    (e,) = parse_batch(PROFILE)
    assert e.event_type is EventType.PROFILE_STATUS and e.payload == PROFILE


def test_data_stream_events_dedupe_on_their_whole_content() -> None:
    again, later = dict(COUNTER), {**COUNTER, "eventTimestamp": "02/12/2026 10:01:00"}
    keys = [e.dedupe_key for e in parse_batch([COUNTER, again, later, PROFILE])]
    assert keys[0] == keys[1] and len(set(keys)) == 3


def test_a_usage_events_record_is_a_usage_event() -> None:
    # Field names of https://docs.sft.bics.com/sft/usage-data-streams-how-to.
    record = {
        "iccid": "8932000000000000001",
        "imsi": "206010000000001",
        "planId": "870101",
        "volumeAccumulated": "1048576",
        "callStartTimeUTC": "02/12/2026 09:00:00",
    }
    (e,) = parse_batch([record])
    assert e.event_type is EventType.USAGE and e.raw_type == "Usage Event"
    assert e.iccid == "8932000000000000001"


def test_raw_bodies_have_a_stable_key() -> None:
    assert raw_dedupe_key(b"{not json") == raw_dedupe_key(b"{not json")
    assert raw_dedupe_key(b"{not json") != raw_dedupe_key(b"{not json!")


def test_callback_dates_are_read_in_the_platform_zone() -> None:
    # The account's zone (SFT_PLATFORM_TIMEZONE, docs/sft-platform.md#conventions
    # "Date-times") applies to callbacks as to every answer: 12:00 in Brussels in summer is
    # 10:00 UTC; an ISO 8601 time that names its zone keeps it.
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from travelsim.sft.callbacks import parse_notification

    event = {
        "eventType": "Addon Activation",
        "endPointId": "10000001",
        "uniqueId": "u1",
        "startDate": "01/07/2025 12:00:00",
        "expiryDate": "2025-07-08T12:00:00+02:00",
    }
    parsed = parse_notification(event, ZoneInfo("Europe/Brussels"))
    assert parsed.started_at == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)
    assert parsed.expires_at == datetime(2025, 7, 8, 10, 0, tzinfo=UTC)
    assert parse_notification(event).started_at == datetime(2025, 7, 1, 12, 0, tzinfo=UTC)

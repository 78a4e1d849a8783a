"""The add-on life rules (travelsim/esim/addons.py) and the endpoint lifecycle rules
(travelsim/esim/lifecycle.py), with values worked out by hand from
docs/business-rules.md#add-on-life and docs/sft-platform.md#endpointlifecyclechange."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from travelsim.esim.addons import draw_key, live_count, order_addons
from travelsim.esim.lifecycle import endpoint_state, suspended_by_staff
from travelsim.models import EsimAddon

GB = 1_073_741_824
NOW = datetime(2026, 7, 3, 9, 0, tzinfo=UTC)
DAY1 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def addon(
    uid: str,
    status: str,
    *,
    priority: int | None = 1,
    subscribed: datetime = DAY1,
    remaining: int | None = GB,
    expires: datetime | None = None,
) -> EsimAddon:
    return EsimAddon(
        esim_id=1,
        unique_id=uid,
        plan_id="870101",
        status=status,
        priority=priority,
        subscribed_at=subscribed,
        expires_at=expires,
        initial_bytes=GB,
        remaining_bytes=remaining,
        updated_at=subscribed,
    )


def test_draw_order_is_priority_then_oldest_then_numeric_unique_id() -> None:
    later = DAY1 + timedelta(hours=1)
    a = addon("10", "waiting", priority=2)
    b = addon("9", "waiting", priority=None)  # not reported: priority 1
    c = addon("100", "waiting", priority=1, subscribed=later)
    d = addon("11", "waiting", priority=1)
    # b (1, day1, 9) < d (1, day1, 11) < c (1, later, 100) < a (2, ...): "9" before "11" as numbers
    assert [x.unique_id for x in sorted([a, b, c, d], key=draw_key)] == ["9", "11", "100", "10"]


def test_live_count_counts_waiting_and_active_corrected_for_time() -> None:
    addons = [
        addon("1", "active"),
        addon("2", "waiting"),
        addon("3", "active", remaining=0),  # used up
        addon("4", "active", expires=NOW),  # expired at NOW
        addon("5", "deactivated"),
    ]
    assert live_count(addons, NOW) == 2
    assert live_count(addons, NOW - timedelta(seconds=1)) == 3  # 4 had not expired yet


def test_order_draws_from_the_first_running_then_queues_the_waiting() -> None:
    running2 = addon("2", "active", priority=2)
    running1 = addon("1", "active", priority=1)
    waiting = addon("3", "waiting", priority=1)
    gone = addon("4", "expired")
    o = order_addons([gone, waiting, running2, running1], NOW)
    assert [a.unique_id for a in o.live] == ["1", "2", "3"]
    assert o.current is running1
    assert [a.unique_id for a in o.ended] == ["4"]
    assert o.last is None  # something is live
    assert o.states == {"1": "active", "2": "active", "3": "waiting", "4": "expired"}


def test_when_nothing_is_live_the_last_is_the_finished_one_drawn_last() -> None:
    first = addon("1", "active", remaining=0)  # used up
    second = addon("2", "expired", subscribed=DAY1 + timedelta(days=1))
    removed = addon("3", "deactivated", subscribed=DAY1 + timedelta(days=2))
    o = order_addons([first, second, removed], NOW)
    assert o.live == [] and o.current is None
    assert o.last is second  # deactivated ones never count as "ran last"
    assert [a.unique_id for a in o.ended] == ["3", "2", "1"]  # newest subscription first


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Active", "active"),
        ("Pre-Active", "preactive"),
        ("ACTIVE_TEST", "activetest"),
        ("Suspended", "suspended"),
        ("", None),
        (None, None),
    ],
)
def test_endpoint_state_normalises(raw: str | None, expected: str | None) -> None:
    assert endpoint_state(raw) == expected


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        ("Suspended", "3", True),
        ("Suspended", " 3 ", True),
        ("Suspended", "1", False),
        ("Suspended", "2", False),
        ("Active", "3", False),
        (None, None, False),
    ],
)
def test_suspended_by_staff_needs_the_csr_reason(
    status: str | None, reason: str | None, expected: bool
) -> None:
    assert suspended_by_staff(status, reason) is expected

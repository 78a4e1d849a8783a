"""The automatic-retry rules of provisioning (docs/business-rules.md#provisioning-retries):
which failures are transient, and the back-off schedule (1 min, doubling, at most 1 h, never
past the end of the window). Expected values are computed here from that rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from travelsim.services.provisioning_retry import is_transient, next_retry_at, retry_delay
from travelsim.services.provisioning_steps import StepError
from travelsim.sft.errors import (
    SFTAuthError,
    SFTBusinessError,
    SFTMalformedOutcomeUnknown,
    SFTMalformedResponse,
    SFTOutcomeUnknown,
    SFTRateLimited,
    SFTTransportError,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


@pytest.mark.parametrize(
    ("retry", "minutes"),
    [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 32), (7, 60), (8, 60), (30, 60)],
)
def test_retry_delay_doubles_from_one_minute_up_to_one_hour(retry: int, minutes: int) -> None:
    assert retry_delay(retry) == timedelta(minutes=min(2 ** (retry - 1), 60))
    assert retry_delay(retry) == timedelta(minutes=minutes)


def test_retry_delay_refuses_a_retry_number_below_one() -> None:
    with pytest.raises(ValueError):
        retry_delay(0)


def test_next_retry_is_never_after_the_window_and_none_once_it_is_over() -> None:
    assert next_retry_at(first_failed_at=T0, now=T0, retry_number=1, window=DAY) == (
        T0 + timedelta(minutes=1)
    )
    late = T0 + DAY - timedelta(minutes=10)
    assert next_retry_at(first_failed_at=T0, now=late, retry_number=20, window=DAY) == T0 + DAY
    assert next_retry_at(first_failed_at=T0, now=T0 + DAY, retry_number=21, window=DAY) is None
    assert next_retry_at(first_failed_at=T0, now=T0, retry_number=1, window=timedelta(0)) is None


def test_a_full_window_of_retries_is_bounded() -> None:
    """Retrying from the first failure to the end of 24 h: 6 doubling gaps (63 min), then
    hourly, the last one clamped at the window's end."""
    now, n = T0, 0
    while when := next_retry_at(first_failed_at=T0, now=now, retry_number=n + 1, window=DAY):
        assert when > now
        now, n = when, n + 1
    assert now == T0 + DAY
    # 63 min in 6 retries, then ceil((24 h - 63 min) / 1 h) = 23 more.
    assert n == 6 + 23


@pytest.mark.parametrize(
    "exc",
    [
        SFTTransportError("fetchSIM", 502, None, "Bad Gateway"),
        SFTTransportError("fetchSIM", None, None, "no response within 5 s"),
        SFTOutcomeUnknown("SubscribeAddon", None, None, "timeout"),
        SFTMalformedOutcomeUnknown("EndPointLifeCycleChange", 200, None, "not JSON"),
        SFTMalformedResponse("fetchSIM", 200, None, "HTML page"),
        SFTRateLimited("fetchSIM", 429, None, "still rate limited"),
        SFTAuthError("login", 401, None, "refused"),
        StepError("the platform returned no activation code yet", retryable=True),
    ],
)
def test_transient_failures(exc: BaseException) -> None:
    assert is_transient(exc) is True


@pytest.mark.parametrize(
    "exc",
    [
        SFTBusinessError("SubscribeAddon", 200, "9010", "15 add-ons"),
        StepError("ICCID not found on the platform", retryable=False),
        RuntimeError("a bug"),
    ],
)
def test_definite_failures(exc: BaseException) -> None:
    assert is_transient(exc) is False

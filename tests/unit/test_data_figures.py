"""The "X of Y left (P %)" rule (travelsim.formatting.data_left / percent_left).

The rule: the shown figures never contradict each other. The percentage is rounded DOWN to
0.1 %, so 100 % means nothing at all was used and 0 % means nothing at all is left (a
positive remainder shows at least 0.1 %); a remainder below the total is never shown equal
to (or above) the shown total: it gets more decimals, rounded down, until it is below it.
Expected values are worked out by hand below (1 MB = 1,048,576 B, 1 GB = 1,073,741,824 B).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from travelsim.formatting import data_left, percent_left

MB = 1_048_576
GB = 1_073_741_824


def _shown_bytes(text: str) -> Decimal:
    """Read "18.98 GB" back as bytes (an independent parser for the shown figure)."""
    number, unit = text.split()
    scale = {"B": 1, "KB": 1024, "MB": MB, "GB": GB}[unit]
    return Decimal(number) * scale


@pytest.mark.parametrize(
    ("remaining", "total", "expected"),
    [
        (19 * GB - 20 * MB, 19 * GB, 99.8),  # 19436 / 19456 = 99.897 %: down to 99.8
        (19 * GB - 1, 19 * GB, 99.9),  # one byte used: not 100
        (19 * GB, 19 * GB, 100.0),
        (1, 19 * GB, 0.1),  # one byte left: not 0
        (0, 19 * GB, 0.0),
        (300 * MB, GB, 29.2),  # 300 / 1024 = 29.296 %: down to 29.2
        (724 * MB, GB, 70.7),  # 724 / 1024 = 70.703 %
        (2 * GB, GB, 100.0),  # more left than the plan held (bad data): capped
        (-5, GB, 0.0),
    ],
)
def test_percent_is_rounded_down_and_never_contradicts(
    remaining: int, total: int, expected: float
) -> None:
    assert percent_left(remaining, total) == expected


def test_percent_of_nothing_is_zero() -> None:
    assert percent_left(0, 0) == 0.0


@pytest.mark.parametrize(
    ("remaining", "total", "left", "of"),
    [
        # 19 GB - 20 MB = 18.98046875 GB: "19 GB" would equal the total, so two decimals,
        # rounded down.
        (19 * GB - 20 * MB, 19 * GB, "18.98 GB", "19 GB"),
        # 19 GB - 1 B = 18.99999999907 GB: still below the total when shown.
        (19 * GB - 1, 19 * GB, "18.99 GB", "19 GB"),
        (19 * GB, 19 * GB, "19 GB", "19 GB"),
        # 1024 MB - 1 KB = 1023.999 MB would read "1024 MB" = 1 GB: shown in GB, two decimals
        (GB - 1024, GB, "0.99 GB", "1 GB"),
        # ordinary figures keep the ordinary formatting
        (724 * MB, GB, "724 MB", "1 GB"),
        (5844 * MB, 6 * GB, "5.71 GB", "6 GB"),  # 5844 / 1024 = 5.707
        (0, GB, "0 B", "1 GB"),
    ],
)
def test_remaining_never_reads_as_the_whole_plan(
    remaining: int, total: int, left: str, of: str
) -> None:
    shown_left, shown_of = data_left(remaining, total)
    assert (shown_left, shown_of) == (left, of)
    if remaining < total:
        assert _shown_bytes(shown_left) < _shown_bytes(shown_of)

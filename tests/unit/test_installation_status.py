"""The install page's status (``installation.install_status``): before the code is stored it
follows the order; after, the profile status as ``esim.lifecycle.install_state`` classifies
it, with ``downloaded`` kept apart from ``installed`` (docs/esim.md#profile-states: downloaded
to a phone, not installed yet; the code cannot be used again)."""

from __future__ import annotations

import pytest

from travelsim.services.installation import install_status


@pytest.mark.parametrize(
    ("profile_status", "expected"),
    [
        ("released", "ready"),  # the simulator's state before the first download
        (None, "ready"),  # nothing reported: nothing proven, the code is shown
        ("something new", "ready"),
        ("downloaded", "downloaded"),
        ("Downloaded", "downloaded"),
        (" downloaded ", "downloaded"),
        ("installed", "installed"),
        ("enabled", "installed"),
        ("disabled", "installed"),
        ("deleted", "deleted"),
        ("error", "error"),
    ],
)
def test_once_the_code_is_stored_the_profile_decides(
    profile_status: str | None, expected: str
) -> None:
    for order_status in ("delivered", "provisioning", "needs_attention", None):
        status = install_status(
            code_stored=True, order_status=order_status, profile_status=profile_status
        )
        assert status == expected, order_status


@pytest.mark.parametrize(
    ("order_status", "expected"),
    [
        (None, "preparing"),
        ("paid", "preparing"),
        ("provisioning", "preparing"),
        ("delivered", "preparing"),
        ("needs_attention", "needs_attention"),
    ],
)
def test_before_the_code_is_stored_the_order_decides(
    order_status: str | None, expected: str
) -> None:
    for profile_status in (None, "released", "downloaded", "installed", "error"):
        status = install_status(
            code_stored=False, order_status=order_status, profile_status=profile_status
        )
        assert status == expected, profile_status

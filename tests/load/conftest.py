"""Fixtures of the heavy proofs (concurrency, faults, crashes, attack, several workers).

The simulator and purchase helpers are those of the integration tests
(``tests/integration/sim_fixtures.py``, ``checkout_support.py``), imported by module name
as the integration tests do. Every test runs with the session's localstripe
(``tests/stripe_support.py``; Stripe is the only payment provider), which the worker
processes the tests start reach through the inherited ``STRIPE_LOCAL_PORT``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

_INTEGRATION = str(Path(__file__).resolve().parents[1] / "integration")
if _INTEGRATION not in sys.path:
    sys.path.insert(0, _INTEGRATION)

import pytest  # noqa: E402
from checkout_support import sft_clients, sim_factory  # noqa: E402

from tests.stripe_support import RunningLocalStripe  # noqa: E402

__all__ = ["sft_clients", "sim_factory"]


@pytest.fixture(autouse=True)
def _stripe(localstripe: RunningLocalStripe) -> Iterator[RunningLocalStripe]:
    """Pays go to the session's localstripe (started once, at the first test). Each test's
    event loop gets its own ``get_provider()`` client (``payments._provider_for``)."""
    yield localstripe

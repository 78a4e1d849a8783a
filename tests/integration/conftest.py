"""Integration-test fixtures (simulator fixtures live in sim_fixtures.py).

Every integration test runs with the session's localstripe (``tests/stripe_support.py``):
Stripe is the only payment provider, and ``stripe_config()`` of test settings points at it.
"""

from collections.abc import Iterator

import pytest
from sim_fixtures import sim_api, sim_server, sim_server_factory

from tests.stripe_support import RunningLocalStripe

__all__ = ["sim_api", "sim_server", "sim_server_factory"]


@pytest.fixture(autouse=True)
def _stripe(localstripe: RunningLocalStripe) -> Iterator[RunningLocalStripe]:
    """Pays go to the session's localstripe (started once, at the first test). Each test's
    event loop gets its own ``get_provider()`` client (``payments._provider_for``)."""
    yield localstripe

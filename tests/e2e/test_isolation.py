"""Every browser test module starts on a simulator that runs with the real clock.

The app runs once per session and its simulator clock only moves forward (``docs/simulator.md``,
"Advance the clock"), so a module that moves it (``test_traveler_edges.py`` passes a plan's
7-day expiry; ``test_staff_admin.py`` adds 2 hours) or leaves a fault would change what every
later module sees. The harness resets the simulator after such a module
(``tests/e2e/conftest.py``); this module checks the result wherever it runs in the order,
e.g. ``pytest tests/e2e/test_traveler_edges.py tests/e2e/test_isolation.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.harness import AppSimulator

pytestmark = pytest.mark.e2e


def test_the_simulator_starts_the_module_at_the_real_time(app_sim: AppSimulator) -> None:
    state = app_sim.state()
    assert app_sim.clock_offset() == 0
    skew = abs((app_sim.now() - datetime.now(UTC)).total_seconds())
    assert skew < 60, skew  # the same machine: only the request's own time apart
    assert state["faults"] == []
    # A live inventory to buy from (a reset re-seeds the same one).
    assert state["sims"]["byStatus"].get("Pre-Active", 0) > 0, state["sims"]

"""Fixtures of the heavy proofs (concurrency, faults, crashes, attack, several workers).

The simulator and purchase helpers are those of the integration tests
(``tests/integration/sim_fixtures.py``, ``checkout_support.py``), imported by module name
as the integration tests do.
"""

from __future__ import annotations

import sys
from pathlib import Path

_INTEGRATION = str(Path(__file__).resolve().parents[1] / "integration")
if _INTEGRATION not in sys.path:
    sys.path.insert(0, _INTEGRATION)

from checkout_support import sft_clients, sim_factory  # noqa: E402

__all__ = ["sft_clients", "sim_factory"]

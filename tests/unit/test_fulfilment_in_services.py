"""A paid order's provisioning is started by the payment service, never by a page: the Reflex
states only watch it (docs/architecture.md#one-purchase-click-to-qr)."""

from __future__ import annotations

import ast
from pathlib import Path

import travelsim

STATES = Path(travelsim.__file__).parent / "state"
STARTERS = {"ensure_provisioning", "run_order"}


def _calls(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                names.add(func.attr)
            elif isinstance(func, ast.Name):
                names.add(func.id)
    return names


def test_no_state_starts_provisioning() -> None:
    states = sorted(STATES.glob("*.py"))
    assert states, STATES
    starting = {p.name: sorted(_calls(p) & STARTERS) for p in states if _calls(p) & STARTERS}
    # Staff "Retry provisioning" goes through admin.retry_provisioning (a service), not here.
    assert starting == {}

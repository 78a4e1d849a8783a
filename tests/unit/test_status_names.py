"""Stored statuses are named, never spelled: no module of the portal compares, assigns or
passes a ``status`` / ``state`` / ``kind`` as a bare string that is one of the stored values of
``travelsim/models/statuses.py`` (use the enum member: ``OrderStatus.DELIVERED``).

Outside the scope: the SFT client and the simulator (``travelsim/sft/``,
``travelsim/sft_simulator/``) speak the platform's words, and ``travelsim/models/`` defines
the enums.
"""

from __future__ import annotations

import ast
from enum import StrEnum

import pytest

from tests import structure
from travelsim.models import statuses

STORED = {
    member.value
    for enum in vars(statuses).values()
    if isinstance(enum, type) and issubclass(enum, StrEnum) and enum is not StrEnum
    for member in enum
}
NAMES = ("status", "state", "kind")
SKIP = ("travelsim.sft", "travelsim.sft_simulator", "travelsim.models")
MODULES = {
    n: p
    for n, p in structure.modules().items()
    if not any(n == s or n.startswith(s + ".") for s in SKIP)
}


def _is_status(node: ast.AST) -> bool:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "col"
        and node.args
    ):  # col(Order.status)
        node = node.args[0]
    return isinstance(node, ast.Attribute) and node.attr in NAMES


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [
            e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        ]
    return []


def spelled_statuses(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, value)`` of every stored status written as a string literal where a status is
    compared (``x.status == "paid"``, ``col(X.status).in_([...])``), assigned
    (``x.status = "paid"``) or passed (``Order(status="paid")``)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        values: list[ast.AST] = []
        if isinstance(node, ast.Compare) and any(
            _is_status(o) for o in (node.left, *node.comparators)
        ):
            values = [node.left, *node.comparators]
        elif isinstance(node, ast.keyword) and node.arg in NAMES:
            values = [node.value]
        elif isinstance(node, ast.Assign) and any(_is_status(t) for t in node.targets):
            values = [node.value]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("in_", "notin_")
            and _is_status(node.func.value)
        ):
            values = list(node.args)
        found += [(node.lineno, v) for val in values for v in _strings(val) if v in STORED]
    return sorted(found)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_stored_status_is_spelled(name: str) -> None:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    assert spelled_statuses(tree) == []


def test_the_checker_sees_each_form() -> None:
    tree = ast.parse(
        "a.status == 'paid'\n"
        "col(Order.status).in_(['delivered', 'x'])\n"
        "o.state = 'assigned'\n"
        "Order(status='needs_attention')\n"
        "a.status == OrderStatus.PAID\n"
        "label == 'paid'\n"
        "endpoint_state(e.status) == 'active'\n"
    )
    assert spelled_statuses(tree) == [
        (1, "paid"),
        (2, "delivered"),
        (3, "assigned"),
        (4, "needs_attention"),
    ]

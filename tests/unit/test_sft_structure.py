"""The SFT package stays readable: small modules, small functions, no import cycle, and every
platform name in ``wire.py``.

* No module of ``travelsim/sft/`` is over 500 lines, and no function (or method) over 100.
* The modules of ``travelsim.sft`` import each other without a cycle, counting imports
  written inside functions (a deferred import still couples the two modules).
* No module but ``wire.py`` spells a platform name as a string literal: every path, header,
  field name and result code of ``wire.py`` (each string value of three characters or more,
  and each operation's name and path) is found there and nowhere else in the package, so a
  correction against the real platform stays a one-line change (``wire.py``'s own docstring).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests import structure
from tests.structure import PORTAL, find_cycle, function_lines, functions
from travelsim.sft import wire

SFT_DIR = PORTAL / "sft"
PACKAGE = "travelsim.sft"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 100


def modules() -> dict[str, Path]:
    """``{"travelsim.sft.client": path, ...}`` for every module of the package."""
    return structure.modules(SFT_DIR, PACKAGE)


def docstring_nodes(tree: ast.AST) -> set[int]:
    """``id()`` of every docstring constant (module, class, function)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                out.add(id(body[0].value))
    return out


def wire_names() -> set[str]:
    """The platform names ``wire.py`` holds: string values of three or more characters and
    every operation's name and path."""
    names: set[str] = set()
    for attr in dir(wire):
        if attr.startswith("_"):
            continue
        value = getattr(wire, attr)
        if isinstance(value, str) and len(value) >= 3:
            names.add(value)
        elif isinstance(value, wire.Operation):
            names.update({value.name, value.path})
        elif isinstance(value, frozenset):
            names.update(v for v in value if isinstance(v, str) and len(v) >= 3)
    return names


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_is_at_most_500_lines(name: str) -> None:
    lines = len(modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name}: {lines} lines"


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_function_over_100_lines(name: str) -> None:
    tree = ast.parse(modules()[name].read_text(encoding="utf-8"))
    long = {f.name: function_lines(f) for f in functions(tree) if function_lines(f) > 100}
    assert long == {}, f"{name}: {long}"


def test_no_import_cycle_inside_the_package() -> None:
    graph = structure.import_graph(modules())
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_find_cycle_sees_a_cycle_through_a_function_level_import() -> None:
    """The checker itself: a cycle closed by an import inside a function is found."""
    known = {PACKAGE, f"{PACKAGE}.a", f"{PACKAGE}.b"}
    a = ast.parse(f"from {PACKAGE} import b\n")
    b = ast.parse(f"def f():\n    from {PACKAGE}.a import thing\n")
    graph = {
        f"{PACKAGE}.a": structure.imported_modules(a, known, f"{PACKAGE}.a", False),
        f"{PACKAGE}.b": structure.imported_modules(b, known, f"{PACKAGE}.b", False),
    }
    assert find_cycle(graph) == [f"{PACKAGE}.a", f"{PACKAGE}.b", f"{PACKAGE}.a"]


def test_platform_names_are_spelled_only_in_wire() -> None:
    names = wire_names()
    # Spot-check the collection against names docs/sft-platform.md#operations lists.
    assert {"/api/login", "fetchSIM", "endPointId", "resultParam"} <= names
    found: dict[str, list[str]] = {}
    for name, path in modules().items():
        if name == f"{PACKAGE}.wire":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = docstring_nodes(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in skip
                and node.value in names
            ):
                found.setdefault(name, []).append(f"{node.value!r} (line {node.lineno})")
    assert found == {}

"""The portal stays readable: one concern per module, small modules and functions, no import
cycle, and the layers of docs/architecture.md (pages → state → services → sft/esim/db/models,
Reflex only in the UI layers, the simulator independent).

* No module under ``travelsim/`` is over 500 lines and no function (or method) over 100,
  except in the SFT simulator (``travelsim/sft_simulator/``) and the SFT client facade
  (``travelsim/sft/client.py``).
* No import cycle among all modules of ``travelsim``, counting imports written inside
  functions (a deferred import still couples the two modules).
* No upward import: services and everything below them never import a UI layer; states never
  import pages or routes; the simulator imports nothing of the portal.
"""

from __future__ import annotations

import ast

import pytest

from tests import structure

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 100
EXEMPT = ("travelsim.sft_simulator", "travelsim.sft.client")
ALL = structure.modules()
CHECKED = {n: p for n, p in ALL.items() if not any(n == e or n.startswith(e + ".") for e in EXEMPT)}

UI = ("travelsim.pages", "travelsim.components", "travelsim.state", "travelsim.routes")
#: Layer → prefixes it must never import.
FORBIDDEN = {
    "travelsim.services": (*UI, "travelsim.travelsim", "reflex"),
    "travelsim.sft": (*UI, "travelsim.services", "travelsim.travelsim", "reflex"),
    "travelsim.esim": (*UI, "travelsim.services", "travelsim.sft", "reflex"),
    "travelsim.models": (*UI, "travelsim.services", "travelsim.sft", "reflex"),
    "travelsim.state": ("travelsim.pages", "travelsim.routes", "travelsim.travelsim"),
}


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_module_is_at_most_500_lines(name: str) -> None:
    lines = len(CHECKED[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name}: {lines} lines"


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_no_function_over_100_lines(name: str) -> None:
    tree = ast.parse(CHECKED[name].read_text(encoding="utf-8"))
    long = {
        f.name: structure.function_lines(f)
        for f in structure.functions(tree)
        if structure.function_lines(f) > MAX_FUNCTION_LINES
    }
    assert long == {}, f"{name}: {long}"


def test_no_import_cycle_in_the_portal() -> None:
    cycle = structure.find_cycle(structure.import_graph(ALL))
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


def _all_imports(tree: ast.AST) -> set[str]:
    """Every module name ``tree`` imports (absolute imports; anywhere in the file)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_upward_import(layer: str) -> None:
    bad: dict[str, list[str]] = {}
    for name, path in ALL.items():
        if not _under(name, layer):
            continue
        imports = _all_imports(ast.parse(path.read_text(encoding="utf-8")))
        hits = sorted(i for i in imports for f in FORBIDDEN[layer] if _under(i, f))
        if hits:
            bad[name] = hits
    assert bad == {}


def test_the_simulator_imports_nothing_of_the_portal() -> None:
    bad: dict[str, list[str]] = {}
    for name, path in ALL.items():
        if not _under(name, "travelsim.sft_simulator"):
            continue
        imports = _all_imports(ast.parse(path.read_text(encoding="utf-8")))
        hits = sorted(
            i
            for i in imports
            if _under(i, "travelsim") and not _under(i, "travelsim.sft_simulator")
        )
        if hits:
            bad[name] = hits
    assert bad == {}


def test_the_cycle_finder_sees_a_cycle_through_a_function_level_import() -> None:
    known = {"travelsim.x", "travelsim.y"}
    x = ast.parse("import travelsim.y\n")
    y = ast.parse("def f():\n    from travelsim.x import thing\n")
    graph = {
        "travelsim.x": structure.imported_modules(x, known, "travelsim.x", False),
        "travelsim.y": structure.imported_modules(y, known, "travelsim.y", False),
    }
    assert structure.find_cycle(graph) == ["travelsim.x", "travelsim.y", "travelsim.x"]

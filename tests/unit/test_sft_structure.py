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
from collections.abc import Iterator
from pathlib import Path

import pytest

from travelsim.sft import wire

SFT_DIR = Path(__file__).resolve().parents[2] / "travelsim" / "sft"
PACKAGE = "travelsim.sft"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 100


def modules() -> dict[str, Path]:
    """``{"travelsim.sft.client": path, ...}`` for every module of the package."""
    out: dict[str, Path] = {}
    for path in sorted(SFT_DIR.glob("*.py")):
        name = PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"
        out[name] = path
    return out


def functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def function_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first decorator (or ``def``) to the last line of the body."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    assert node.end_lineno is not None
    return node.end_lineno - first + 1


def imported_package_modules(tree: ast.AST, known: set[str]) -> set[str]:
    """Modules of the package that ``tree`` imports anywhere (top level or inside functions).

    ``from travelsim.sft import wire`` counts as importing ``travelsim.sft.wire`` when that is
    a module, else as importing the package ``travelsim.sft`` itself.
    """
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module not in known:
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (as a list of modules, first repeated last), or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for nxt in sorted(graph.get(node, ())):
            cycle = visit(nxt)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


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
    known = set(modules())
    graph = {
        name: imported_package_modules(ast.parse(path.read_text(encoding="utf-8")), known) - {name}
        for name, path in modules().items()
    }
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_find_cycle_sees_a_cycle_through_a_function_level_import() -> None:
    """The checker itself: a cycle closed by an import inside a function is found."""
    known = {PACKAGE, f"{PACKAGE}.a", f"{PACKAGE}.b"}
    a = ast.parse(f"from {PACKAGE} import b\n")
    b = ast.parse(f"def f():\n    from {PACKAGE}.a import thing\n")
    graph = {
        f"{PACKAGE}.a": imported_package_modules(a, known),
        f"{PACKAGE}.b": imported_package_modules(b, known),
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

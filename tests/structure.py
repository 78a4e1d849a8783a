"""Reading the portal's source as a tree of modules: sizes, functions and imports.

Used by the structure tests (``tests/unit/test_structure.py``, ``test_sft_structure.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORTAL = ROOT / "travelsim"


def modules(directory: Path = PORTAL, package: str = "travelsim") -> dict[str, Path]:
    """``{"travelsim.services.usage_sync": path, ...}`` for every module under ``directory``
    (packages by their ``__init__.py``)."""
    out: dict[str, Path] = {}
    for path in sorted(directory.rglob("*.py")):
        parts = list(path.relative_to(directory).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([package, *parts])] = path
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


def imported_modules(tree: ast.AST, known: set[str], name: str, is_package: bool) -> set[str]:
    """Modules of ``known`` that module ``name`` imports anywhere (top level or inside
    functions; relative imports resolved).

    ``from travelsim.sft import wire`` counts as importing ``travelsim.sft.wire`` when that is
    a module, else as importing the package ``travelsim.sft`` itself.
    """
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            module = node.module
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([module] if module else [])])
            if module not in known:
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in known else module)
    return found - {name}


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    known = set(mods)
    return {
        name: imported_modules(
            ast.parse(path.read_text(encoding="utf-8")), known, name, path.stem == "__init__"
        )
        for name, path in mods.items()
    }


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

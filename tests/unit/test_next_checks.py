"""One ``next`` check: every read of a ``next`` value in ``travelsim/`` goes straight into
:func:`travelsim.services.auth.signin.safe_next`, and no other module checks paths itself.

A read is ``<anything>.get("next"…)`` or ``<anything>["next"]`` (query parameters, form
fields, the provider flow's cookie); it must be the first argument of a ``safe_next(…)``
call. A hand-rolled check (``.startswith("//")``, ``.startswith("/\\")``) outside
``signin.py`` would be a second, diverging rule. The open-redirect probes over HTTP and the
page states are ``tests/integration/test_next_probes.py``.
"""

from __future__ import annotations

import ast

from tests import structure

CHECKER = "travelsim.services.auth.signin"
ALL = structure.modules()


def _is_next_read(node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "get" and node.args:
            first = node.args[0]
            return isinstance(first, ast.Constant) and first.value == "next"
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        key = node.slice
        return isinstance(key, ast.Constant) and key.value == "next"
    return False


def _is_safe_next_call(node: ast.AST | None) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name == "safe_next"


def unchecked_reads(source: str) -> tuple[int, list[int]]:
    """(number of ``next`` reads, line numbers of those not passed straight to
    ``safe_next``) in ``source``."""
    tree = ast.parse(source)
    parents: dict[ast.AST, ast.AST] = {}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            parents[child] = parent
    reads = [n for n in ast.walk(tree) if _is_next_read(n)]
    bad = []
    for node in reads:
        parent = parents.get(node)
        if not (
            _is_safe_next_call(parent) and isinstance(parent, ast.Call) and node in parent.args
        ):
            bad.append(getattr(node, "lineno", 0))
    return len(reads), sorted(bad)


def hand_rolled_checks(source: str) -> list[int]:
    """Lines calling ``.startswith`` with ``"//"`` or a backslash prefix."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "startswith"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (node.args[0].value.startswith("//") or "\\" in node.args[0].value)
        ):
            lines.append(node.lineno)
    return lines


def test_every_next_read_goes_through_safe_next() -> None:
    total = 0
    offenders: list[str] = []
    for name, path in ALL.items():
        count, bad = unchecked_reads(path.read_text())
        total += count
        offenders += [f"{name}:{line}" for line in bad]
    assert offenders == [], f"`next` read without safe_next: {offenders}"
    # The scan sees the real reads: sign-up, verify, sign-in, second factor, provider
    # login and callback, the auth pages and the second-factor page.
    assert total >= 8, total


def test_no_other_module_checks_paths_itself() -> None:
    offenders = [
        f"{name}:{line}"
        for name, path in ALL.items()
        if name != CHECKER
        for line in hand_rolled_checks(path.read_text())
    ]
    assert offenders == [], offenders
    assert hand_rolled_checks(ALL[CHECKER].read_text())  # the one check is seen


def test_the_scan_flags_a_bare_read() -> None:
    """Positive control: the unchecked ``next`` reads the scan exists to catch."""
    source = (
        "def a(request):\n"
        "    return redirect(request.query_params.get('next', '/'))\n"
        "def b(form):\n"
        "    target = form['next']\n"
        "    return safe_next(form.get('next'))\n"
        "def c(form):\n"
        "    return safe_next(form.get('next') or '/')\n"
    )
    assert unchecked_reads(source) == (4, [2, 4, 7])
    assert hand_rolled_checks("ok = value.startswith('//')\n") == [1]

"""axe-core in the browser tests: one call that checks the page a test is on.

:func:`assert_accessible` injects axe-core (the copy bundled in the PyPI package
``axe-playwright-python``, no download at run time) into the page, runs the WCAG 2.0/2.1 A and
AA rules and fails with the rule id, impact, help and target selectors of every **serious** or
**critical** violation (docs/accessibility.md#what-is-tested). :func:`variant_context` opens a
browser context at one of the four width and colour scheme pairs every traveler page is checked in.

The pages themselves are listed in ``tests/e2e/test_accessibility.py``
(``PUBLIC_PATHS`` / ``TRAVELER_PATHS``): add a new page's path there.
"""

from __future__ import annotations

import re
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import DESKTOP, PHONE

__all__ = ["VARIANTS", "assert_accessible", "axe_violations", "format_violations", "settle"]

#: The rules run: WCAG 2.0 and 2.1, levels A and AA (what EN 301 549 clause 9 points to).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: Impacts that fail a test; "moderate" and "minor" are reported by axe but do not fail.
FAILING = ("serious", "critical")
#: (width, colour scheme) pairs each page is checked at.
VARIANTS: list[tuple[str, str]] = [
    ("desktop", "light"),
    ("desktop", "dark"),
    ("phone", "light"),
    ("phone", "dark"),
]
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
_AXE = Axe()


def variant_context(
    browser: Browser, width: str, scheme: str, storage_state: Any | None = None, **extra: Any
) -> BrowserContext:
    """A new context at ``width`` (``"desktop"``: 1366 by 900, or ``"phone"``: 390 by 844,
    an iPhone with touch) preferring the ``scheme`` colour scheme (``"light"``/``"dark"``),
    signed in with ``storage_state`` when given."""
    if width == "phone":
        extra = {
            "viewport": PHONE,
            "is_mobile": True,
            "has_touch": True,
            "device_scale_factor": 2,
            "user_agent": IPHONE_UA,
            **extra,
        }
    else:
        extra = {"viewport": DESKTOP, **extra}
    return browser.new_context(color_scheme=scheme, storage_state=storage_state, **extra)


def settle(page: Page, scheme: str | None = None) -> None:
    """Wait until the page is drawn: network idle and, on a Reflex page (Radix Themes root
    present) when ``scheme`` is given, the theme's class on ``<html>`` (plain HTML routes such
    as the install card follow ``prefers-color-scheme`` in their own CSS)."""
    page.wait_for_load_state("networkidle")
    themed = page.evaluate("() => !!document.querySelector('.radix-themes')")
    if scheme is not None and themed:
        expect(page.locator("html")).to_have_class(re.compile(rf"\b{scheme}\b"))
    # Radix transitions (menus, dialogs fading in) end before axe reads colours.
    page.wait_for_timeout(300)


def axe_violations(page: Page, context: str | None = None) -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.x A/AA rules) on ``page`` (or the part of it matched by the CSS
    selector ``context``); its violations (axe's result objects: ``id``, ``impact``,
    ``help``, ``nodes`` with ``target`` selectors) whose impact is serious or critical."""
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    results = _AXE.run(page, context=context, options=options)
    return [v for v in results.response["violations"] if v.get("impact") in FAILING]


def format_violations(violations: list[dict[str, Any]]) -> str:
    """One block per rule: ``rule (impact): help``, then each node's target and summary."""
    lines: list[str] = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:12]:
            target = " ".join(str(t) for t in node["target"])
            summary = (node.get("failureSummary") or "").replace("\n", " ")[:300]
            lines.append(f"    {target}  | {summary}")
    return "\n".join(lines)


def assert_accessible(page: Page, label: str = "", context: str | None = None) -> None:
    """Fail when axe-core finds a serious or critical WCAG 2.1 A/AA violation on ``page``;
    the message names ``label`` (or the URL), each rule id, impact and target selectors."""
    found = axe_violations(page, context)
    where = label or page.url
    assert not found, f"axe-core on {where}:\n{format_violations(found)}"

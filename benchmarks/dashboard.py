"""Dashboard load in headless Chromium against a static page (target: dashboard <= 2x static).

``python -m benchmarks.dashboard [--runs 30]``

Setup (not measured; ``benchmarks.appserver``): the real app (``reflex run --env prod``) with
one signed-in traveler owning a delivered eSIM whose figures are in the database (100 MiB
used of a 1 GB add-on, synced from the simulator). Chromium is Debian's ``/usr/bin/chromium``.

Pages compared, both served by the same Reflex prod server on the same port:

* **dashboard**: ``/esims/<id>``, the real page: the SPA shell and its JS bundle, then the
  websocket, ``hydrate_and_load`` (session cookie resolved, ``EsimState.load`` reads the
  database), then React renders the figures and the Recharts gauges.
* **static**: a snapshot of that same dashboard, taken at benchmark time from a fully
  rendered page (``document.documentElement.outerHTML`` with every ``<script>`` and
  ``modulepreload`` link removed; stylesheets, inline SVG of icons and gauges kept), written
  with its gzip sidecar (as the build's own pages have) into the served build directory
  ``.web/build/client/`` and deleted at the end. Same bytes on screen, same CSS, no
  JavaScript, no data fetch: the fastest this page could possibly be shown.

Timed, per load, inside the page: an init script (installed before any page script runs)
watches the DOM (``MutationObserver``) and, at the first mutation after which the body's
text contains the traveler's real figure (``"<remaining> of <total> left"``, computed here
from ``esim_addon`` in the database with ``format_bytes``) **and** the data gauge's SVG is in
the DOM, waits for the next animation frame; the figure is ``performance.now()`` there, i.e.
milliseconds since navigation start (``performance.timeOrigin``). Same code for both pages.
The skeleton (default state: "unknown") never matches.

Cold: a new browser context per load (empty HTTP cache, no service worker, fresh websocket),
the session cookie added to it. Warm: one context, the same URL loaded again (HTTP cache warm).
Dashboard and static loads alternate, so machine noise hits both alike. Reported: p50/p95 of
each and the ratio dashboard/static (target <= 2 at p50 and p95).
"""

from __future__ import annotations

import argparse
import gzip
import re
import secrets
import sqlite3
import time
import warnings
from pathlib import Path

from benchmarks.appserver import (
    CHROMIUM,
    CHROMIUM_ARGS,
    COOKIE,
    ROOT,
    App,
    app_environment,
    start_app,
)
from benchmarks.common import machine, percentile

VIEWPORT = {"width": 1366, "height": 900}

# Records, in the page, when the figure and the gauge are first on screen.
PROBE = """
(() => {
  const want = %s;
  const check = () => {
    if (window.__benchShown !== undefined || !document.body) return;
    if (!document.body.textContent.includes(want)) return;
    if (!document.querySelector('[data-testid="data-gauge"] svg')) return;
    window.__benchShown = null;
    requestAnimationFrame(() => { window.__benchShown = performance.now(); });
  };
  new MutationObserver(check).observe(document, {
    childList: true, subtree: true, characterData: true,
  });
  document.addEventListener("DOMContentLoaded", check);
})();
"""

SNAPSHOT = """
() => {
  const root = document.documentElement.cloneNode(true);
  root.querySelectorAll('script, link[rel="modulepreload"]').forEach((e) => e.remove());
  return "<!DOCTYPE html>" + root.outerHTML;
}
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30, help="loads per page and mode")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    t0 = time.perf_counter()
    app = start_app(app_environment("dashboard", esims=1), 1)
    setup_s = time.perf_counter() - t0
    try:
        run(app, args.runs, setup_s)
    finally:
        app.stop()
    return 0


def _figure_text(app: App) -> str:
    from travelsim.formatting import format_bytes

    esim_id = app.travelers[0].esim_id
    with sqlite3.connect(f"file:{app.data_dir / 'travelsim.db'}?mode=ro", uri=True) as conn:
        remaining, initial = conn.execute(
            "SELECT remaining_bytes, initial_bytes FROM esim_addon WHERE esim_id = ?", (esim_id,)
        ).fetchone()
    return f"{format_bytes(remaining)} of {format_bytes(initial)} left"


def run(app: App, runs: int, setup_s: float) -> None:
    import json

    from playwright.sync_api import BrowserContext, sync_playwright

    traveler = app.travelers[0]
    want = _figure_text(app)
    probe = PROBE % json.dumps(want)
    dashboard_url = f"{app.url}/esims/{traveler.esim_id}"
    build_dir = ROOT / ".web" / "build" / "client"
    static_name = f"bench-static-{secrets.token_hex(6)}.html"
    static_path = build_dir / static_name
    static_url = f"{app.url}/{static_name}"
    cookie = {"name": COOKIE, "value": traveler.cookie, "url": app.url, "httpOnly": True}

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)

        def new_context() -> BrowserContext:
            ctx = browser.new_context(viewport=VIEWPORT, color_scheme="light")
            ctx.add_cookies([cookie])  # type: ignore[list-item]
            ctx.add_init_script(probe)
            return ctx

        def load(ctx: BrowserContext, url: str) -> float:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.goto(url, wait_until="commit")
            page.wait_for_function("typeof window.__benchShown === 'number'", timeout=60_000)
            return float(page.evaluate("window.__benchShown"))

        # The snapshot: the real dashboard, fully rendered, without its scripts.
        ctx = new_context()
        load(ctx, dashboard_url)
        page = ctx.pages[0]
        page.wait_for_load_state("networkidle")
        html = str(page.evaluate(SNAPSHOT))
        ctx.close()
        if want not in html or re.search(r"<script", html, re.I):
            raise RuntimeError("snapshot does not hold the figures, or still holds scripts")
        static_path.write_text(html)
        Path(f"{static_path}.gz").write_bytes(gzip.compress(html.encode(), compresslevel=9))
        try:
            cold: dict[str, list[float]] = {"dashboard": [], "static": []}
            warm: dict[str, list[float]] = {"dashboard": [], "static": []}
            urls = {"dashboard": dashboard_url, "static": static_url}
            for url in urls.values():  # one unmeasured load each (server-side warm-up)
                ctx = new_context()
                load(ctx, url)
                ctx.close()
            for _ in range(runs):
                for name, url in urls.items():
                    ctx = new_context()
                    cold[name].append(load(ctx, url))
                    ctx.close()
            contexts = {name: new_context() for name in urls}
            for name, url in urls.items():
                load(contexts[name], url)  # fills the context's HTTP cache
            for _ in range(runs):
                for name, url in urls.items():
                    warm[name].append(load(contexts[name], url))
            for ctx in contexts.values():
                ctx.close()
        finally:
            static_path.unlink(missing_ok=True)
            Path(f"{static_path}.gz").unlink(missing_ok=True)
        browser.close()

    print(f"dashboard: eSIM dashboard load in headless Chromium vs a static snapshot ({runs} runs)")
    print(f"  machine: {machine()}")
    print(f'  figure waited for: "{want}" and the data gauge drawn; static page {len(html)} bytes')
    for label, data in (("cold context", cold), ("warm cache  ", warm)):
        d, s = data["dashboard"], data["static"]
        print(
            f"  {label}  dashboard p50 {percentile(d, 50):6.0f} ms  p95 {percentile(d, 95):6.0f} ms"
            f"   static p50 {percentile(s, 50):6.0f} ms  p95 {percentile(s, 95):6.0f} ms"
            f"   ratio p50 {percentile(d, 50) / percentile(s, 50):4.2f}x"
            f"  p95 {percentile(d, 95) / percentile(s, 95):4.2f}x  (target <= 2x)"
        )
    print(f"  (setup: {setup_s:.0f} s, not measured)")


if __name__ == "__main__":
    raise SystemExit(main())

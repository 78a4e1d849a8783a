"""200 traveler sessions on the live dashboard: change-to-screen latency (target p95 <= 250 ms).

``python -m benchmarks.live_sessions [--sessions 200] [--rounds 3] [--idle 10]``

Setup (not measured; ``benchmarks.appserver``): the real app (``reflex run --env prod``, one
worker, in-memory state manager, no Redis: the default), ``--sessions`` travelers, each with
its own delivered eSIM and "France 1 GB" add-on bought through the portal's services, each
signed in through ``POST /auth/signin`` (its own HttpOnly session cookie). The app runs with
``SFT_CALLBACK_TOKEN`` set, so its platform-callback route ``POST /callbacks/sft`` is on.

Sessions: one lightweight websocket client per traveler (``benchmarks.reflex_client``:
Reflex's own Socket.IO protocol, the session cookie in the handshake, the page's boot event
``hydrate_and_load`` for ``/esims/<id>``, so the dashboard's ``on_load`` runs and starts its
background ``watch`` handler, exactly as for a browser tab). 200 Chromium pages would not
fit on 2 cores; one real Chromium page is opened too, for a traveler that also has a raw
session, and must show the same figures as the raw session holds (checked after each round).

One round (``--rounds``): the platform's data changes and the portal learns of it through
its push path. The benchmark drives the app's own simulator through its operator controls
on the app's port (``/_sim/...``, ``docs/simulator.md``; never a second simulator on its
file, which would hold its own clock and callback baseline): callbacks were switched on at the
start (``POST /_sim/callbacks`` with the app's ``/callbacks/sft`` URL and token, taking the
state as baseline); every traveler's endpoint consumes 10 MiB (``POST /_sim/consume``);
then ``POST /_sim/callbacks/flush`` sends the platform's CallBackNotification batch
("Counter Changes", one event per add-on) to the portal. The portal stores the batch,
answers, then applies each event in its own transaction (``callbacks.process_pending``:
``esim_addon.updated_at`` = the moment it writes the new figures) and calls
``live.notify`` for that eSIM right after each commit; each watching tab re-reads the database and
pushes its delta.

Timed, per session: from the commit of that eSIM's new figures (``esim_addon.updated_at``,
read back from the portal's database; set just before the commit, so slightly early) to the
moment that session's client reads the first websocket frame whose ``data_text`` ("<remaining>
of <total> left (<percent> %)") differs from the old one (``time.time()`` at frame read,
before parsing; same machine, same clock). Also shown: from the batch's last commit (negative
when a session updated before the whole batch was applied) and from the platform's POST
(includes applying the 200 events one transaction each). The received figure is checked
against the database (``format_bytes(remaining_bytes)`` starts it).

Memory: VmRSS (``/proc``) of the app's processes (``reflex run`` and its backend worker)
idle (app started, travelers signed in, no tab), with every session connected (after the
rounds), and 10 s after every session disconnected. Also the idle traffic per session.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.appserver import (
    CHROMIUM,
    CHROMIUM_ARGS,
    COOKIE,
    ROOT,
    App,
    Traveler,
    app_environment,
    start_app,
)
from benchmarks.common import machine, percentile
from benchmarks.reflex_client import Compiled, Session

CALLBACK_TOKEN = "bench-callback-token-of-32-characters-or-more"
CONSUME_BYTES = 10 * 1_048_576


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=float, default=10.0, help="idle traffic window, seconds")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    t0 = time.perf_counter()
    env = app_environment("live", esims=args.sessions, extra={"SFT_CALLBACK_TOKEN": CALLBACK_TOKEN})
    app = start_app(env, args.sessions)
    setup_s = time.perf_counter() - t0
    try:
        asyncio.run(run(app, args.sessions, args.rounds, args.idle, setup_s))
    finally:
        app.stop()
    return 0


def _rss(app: App) -> str:
    rss = app.rss_mb()
    parts = ", ".join(f"{mb:.0f}" for mb in rss.values())
    return f"{sum(rss.values()):6.0f} MiB ({parts})"


def _commit_times(db_path: Path, esim_ids: list[int]) -> dict[int, tuple[float, int | None]]:
    """eSIM id -> (latest ``esim_addon.updated_at`` as epoch seconds, its remaining bytes)."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT esim_id, updated_at, remaining_bytes FROM esim_addon "
            f"WHERE esim_id IN ({','.join('?' * len(esim_ids))})",
            esim_ids,
        ).fetchall()
    out: dict[int, tuple[float, int | None]] = {}
    for esim_id, updated_at, remaining in rows:
        at = datetime.fromisoformat(updated_at).replace(tzinfo=UTC).timestamp()
        if esim_id not in out or at > out[esim_id][0]:
            out[esim_id] = (at, remaining)
    return out


async def _open(sessions: list[Session], gate: asyncio.Semaphore) -> list[float]:
    """Connect every session (``gate`` at a time); seconds until each showed its figures."""

    async def one(s: Session) -> float:
        async with gate:
            t0 = time.time()
            await s.connect()
            while not (s.esim("watching") and s.esim("known")):
                await asyncio.sleep(0.02)
                if time.time() - t0 > 120:
                    raise RuntimeError(f"{s.path}: no dashboard figures after 120 s")
            return time.time() - t0

    return list(await asyncio.gather(*(one(s) for s in sessions)))


async def run(app: App, n: int, rounds: int, idle_s: float, setup_s: float) -> None:
    from playwright.async_api import async_playwright

    from travelsim.formatting import format_bytes

    compiled = Compiled.read(ROOT / ".web")
    db_path = app.data_dir / "travelsim.db"
    print(f"live_sessions: {n} traveler sessions on the live dashboard, {rounds} rounds")
    print(f"  machine: {machine()}")
    print(f"  (setup: {setup_s:.0f} s, not measured: seed, {n} purchases, app start, sign-ins)")
    await asyncio.sleep(3)
    rss_idle = _rss(app)

    by_traveler: list[tuple[Traveler, Session]] = [
        (t, Session(app.url, f"/esims/{t.esim_id}", f"{COOKIE}={t.cookie}", compiled))
        for t in app.travelers
    ]
    sessions = [s for _, s in by_traveler]
    t_open = time.perf_counter()
    ready = await _open(sessions, asyncio.Semaphore(25))
    open_s = time.perf_counter() - t_open
    print(
        f"  {n} sessions connected and showing figures in {open_s:.1f} s (25 connecting at a "
        f"time; per session p50 {percentile(ready, 50) * 1000:.0f} ms, "
        f"p95 {percentile(ready, 95) * 1000:.0f} ms)"
    )

    # One real page for the first traveler (also has a raw session), as a cross-check.
    pw = await async_playwright().start()
    browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    ctx = await browser.new_context(viewport={"width": 1366, "height": 900})
    first, first_session = by_traveler[0]
    await ctx.add_cookies(
        [{"name": COOKIE, "value": first.cookie, "url": app.url, "httpOnly": True}]
    )
    page = await ctx.new_page()
    await page.goto(f"{app.url}/esims/{first.esim_id}")
    await page.get_by_text(str(first_session.esim("data_text"))).wait_for(timeout=60_000)

    # Idle traffic: what the open dashboards receive while nothing changes.
    await asyncio.sleep(6)
    frames0 = sum(len(s.frames) for s in sessions)
    bytes0 = sum(s.bytes_received for s in sessions)
    await asyncio.sleep(idle_s)
    idle_frames = (sum(len(s.frames) for s in sessions) - frames0) / n / idle_s
    idle_bytes = (sum(s.bytes_received for s in sessions) - bytes0) / n / idle_s

    from_commit: list[float] = []
    from_last_commit: list[float] = []
    from_post: list[float] = []
    wrong = 0
    page_ok = 0
    async with httpx.AsyncClient(base_url=app.server.loopback_url, timeout=120) as ctl:
        (
            await ctl.post(
                "/_sim/callbacks",
                json={
                    "url": f"{app.url}/callbacks/sft",
                    "token": CALLBACK_TOKEN,
                    "interval_seconds": 3600,
                },
            )
        ).raise_for_status()
        for r in range(rounds):
            for s in sessions:
                s.watch_for_change("data_text")
            for t in app.travelers:
                res = await ctl.post(
                    "/_sim/consume", json={"endPointId": t.endpoint_id, "bytes": CONSUME_BYTES}
                )
                res.raise_for_status()
            t_post = time.time()
            sent = (await ctl.post("/_sim/callbacks/flush")).json()
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(s.changed.wait() for s in sessions)), timeout=60
                )
            except TimeoutError:
                pass
            missing = [s.path for s in sessions if s.watch_seen_at is None]
            commits = _commit_times(db_path, [t.esim_id for t in app.travelers])
            last_commit = max(c for c, _ in commits.values())
            lat: list[float] = []
            for t, s in by_traveler:
                if s.watch_seen_at is None:
                    continue
                commit, remaining = commits[t.esim_id]
                lat.append(s.watch_seen_at - commit)
                from_last_commit.append(s.watch_seen_at - last_commit)
                from_post.append(s.watch_seen_at - t_post)
                if not str(s.esim("data_text")).startswith(f"{format_bytes(remaining)} of "):
                    wrong += 1
                    print(
                        f"  ! {s.path}: received {s.esim('data_text')!r}, database "
                        f"{format_bytes(remaining)!r}"
                    )
            from_commit.extend(lat)
            # The real page shows what the raw session of the same traveler received.
            expected = str(first_session.esim("data_text"))
            try:
                await page.get_by_text(expected).wait_for(timeout=10_000)
                page_ok += 1
            except Exception:
                print(f"  ! round {r + 1}: the Chromium page does not show {expected!r}")
            events = sent.get("events", sent.get("sent", "?"))
            if isinstance(events, list):
                events = len(events)
            print(
                f"  round {r + 1}: batch of {events} events; {len(lat)}/{n} sessions updated, "
                f"from commit p50 {percentile(lat, 50) * 1000:.0f} ms, "
                f"p95 {percentile(lat, 95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms"
                + (f"; missing {missing[:3]}" if missing else "")
            )
            await asyncio.sleep(6)
        rss_connected = _rss(app)
        await ctl.post("/_sim/callbacks", json={"url": None})

    await ctx.close()
    await browser.close()
    await pw.stop()
    await asyncio.gather(*(s.close() for s in sessions))
    await asyncio.sleep(10)
    rss_after = _rss(app)

    ms = [x * 1000 for x in from_commit]
    print(
        f"  change -> delta at the client, from the eSIM's commit ({len(ms)} samples): "
        f"p50 {percentile(ms, 50):6.0f} ms   p95 {percentile(ms, 95):6.0f} ms   "
        f"max {max(ms):6.0f} ms   (target p95 <= 250 ms)"
    )
    ms_last = [x * 1000 for x in from_last_commit]
    ms_post = [x * 1000 for x in from_post]
    print(
        f"    from the batch's last commit: p50 {percentile(ms_last, 50):.0f} ms, "
        f"p95 {percentile(ms_last, 95):.0f} ms; from the platform's POST: "
        f"p50 {percentile(ms_post, 50):.0f} ms, p95 {percentile(ms_post, 95):.0f} ms"
    )
    print(
        f"  figures received = database: {len(ms) - wrong}/{len(ms)}; Chromium page "
        f"showed the raw session's figures in {page_ok}/{rounds} rounds"
    )
    print(
        f"  idle traffic per open dashboard: {idle_frames:.2f} frames/s, "
        f"{idle_bytes:.0f} bytes/s (watch loop's {5:g} s re-read)"
    )
    print(f"  backend RSS idle             {rss_idle}")
    print(f"  backend RSS {n} sessions     {rss_connected}")
    print(f"  backend RSS after disconnect {rss_after}")


if __name__ == "__main__":
    raise SystemExit(main())

"""The background jobs against the SFT simulator (real loopback socket) and a real database:
usage sync (priorities, budget, no 429, run records), catalogue + inventory with the low-stock
alert over real SMTP, and recovery of stuck orders.

Expected values come from the simulator's own answers read with the tests' wire client
(``SimApi``), from its catalogue module, or from the rules in the docstrings of ``services/jobs/``.
"""

# ruff: noqa: F811  (pytest fixtures imported from the support modules)

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from checkout_support import Sim, add_plan, add_user, buy, sim_factory  # noqa: F401
from jobs_support import (  # noqa: F401
    FR_1GB_7D,
    GB,
    Mailbox,
    api,
    client,
    engines,
    make_client,
    setup_esim,
    sim,
    smtp,
)
from sim_fixtures import SimApi, SimServer
from sqlalchemy import update
from sqlmodel import col, select

from travelsim import db
from travelsim.models import (
    CallbackEvent,
    Esim,
    EsimAddon,
    EsimSync,
    JobRun,
    Order,
    OutboxEmail,
    Payment,
    Plan,
    StaffAlert,
    User,
    utcnow,
)
from travelsim.services.jobs import metering, runs, sync_plan, viewed
from travelsim.settings import Settings, get_settings
from travelsim.sft import LocalRateBudget, Priority, SFTClient
from travelsim.sft_simulator.catalogue import PLANS


@pytest.fixture(autouse=True)
def _no_viewed() -> Any:
    viewed.clear_viewed()
    yield
    viewed.clear_viewed()


def settings_with(**values: Any) -> Settings:
    return get_settings().model_copy(update=values)


async def synced_at(esim_id: int) -> datetime | None:
    async with db.session() as s:
        row = await s.get(EsimSync, esim_id)
        return row.synced_at if row else None


# ============================================================================ usage sync
async def test_usage_sync_reads_every_live_esim_without_a_single_429(
    any_db: Settings, sim_server_factory: Any, engines: None
) -> None:
    """Budget at three quarters of the simulator's TPS (burst 2), the margin the default
    ``SFT_RATE_LIMIT_TPS`` keeps under the published 2 TPS: the sync saturates its budget,
    gets no 429 even when a loaded machine delays some requests and bunches them at the
    simulator, and stores the platform's figures; the run is recorded."""
    server: SimServer = sim_server_factory(seed_esims=12, rate_limit_tps=20, rate_limit_burst=2)
    api = SimApi(server.url)
    api.ctl("POST", "settings", {"rate_limit_tps": 0})  # set-up calls unlimited
    setup_client = make_client(server.url)
    ids = []
    for _ in range(6):
        st = await setup_esim(setup_client, [FR_1GB_7D])
        api.consume(st.endpoint_id, 100 * 1_048_576)
        ids.append(st.esim_id)
    await setup_client.aclose()
    api.ctl("POST", "settings", {"rate_limit_tps": 20, "rate_limit_burst": 2})
    api.ctl("DELETE", "calls")

    meter = metering.MeteredBudget(LocalRateBudget(15.0))
    client = make_client(server.url, meter)
    settings = settings_with(sync_interval_seconds=600)
    run = await metering.record_run(
        "usage_sync",
        lambda st: runs.run_usage_sync(client, st, settings=settings),
        holder="test",
    )
    await client.aclose()

    calls = api.ctl("GET", "calls?limit=5000").json()["calls"]
    assert [c for c in calls if c["status"] == 429] == []
    # 3 reads per eSIM (docs/business-rules.md#usage-sync) plus one login.
    assert len(calls) == 6 * 3 + 1
    assert (run.ok, run.items, run.errors, run.rate_limited) == (True, 6, 0, 0)
    assert run.calls == len(calls)
    assert run.oldest_figure_age_seconds is not None and run.oldest_figure_age_seconds >= 0
    assert run.duration_ms is not None and run.finished_at is not None
    assert run.detail["candidates"] == 6
    async with db.session() as s:
        stored = (await s.exec(select(JobRun))).all()
        addons = (await s.exec(select(EsimAddon))).all()
    assert [r.job for r in stored] == ["usage_sync"]
    assert {a.esim_id for a in addons} == set(ids)
    assert all(a.used_bytes == 100 * 1_048_576 for a in addons)
    api.close()


class FakeTime:
    """A monotonic clock that only moves when the rate budget sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # A hair more than asked: a float sum may fall short of a whole token otherwise.
        self.now += max(seconds, 0.0) + 1e-9
        await asyncio.sleep(0)


async def test_sync_uses_what_refreshes_leave_and_fills_its_window(
    sqlite_db: Settings, sim: SimServer, client: SFTClient, api: SimApi, engines: None
) -> None:
    """A budget of 6 requests per (fake) second, a 2-second window: the sync keeps starting
    eSIMs until the window is spent, while a traveler's refreshes (higher priority) are
    served before the sync's queued requests."""
    ids = [(await setup_esim(client, [FR_1GB_7D])).esim_id for _ in range(12)]
    fake = FakeTime()
    meter = metering.MeteredBudget(LocalRateBudget(6.0, clock=fake.clock, sleep=fake.sleep))
    sync_client = make_client(sim.url, meter)
    await sync_client.fetch_sims(priority=Priority.SYNC, per_page=1)  # log in first
    settings = settings_with(sync_interval_seconds=2.0, sync_fill_fraction=1.0)
    trace: list[tuple[str, str]] = []
    inner_acquire = meter.acquire

    async def traced(priority: Priority) -> None:
        trace.append(("arrive", priority.name))
        await inner_acquire(priority)
        trace.append(("grant", priority.name))

    meter.acquire = traced  # type: ignore[method-assign]

    async def traveler() -> None:
        while sum(1 for e in trace if e == ("grant", "SYNC")) < 3:  # sync requests queued
            await asyncio.sleep(0)
        await asyncio.gather(
            *(sync_client.fetch_sims(priority=Priority.REFRESH, per_page=1) for _ in range(3))
        )

    stats = metering.RunStats()
    started, _ = await asyncio.gather(
        runs.run_usage_sync(
            sync_client, stats, settings=settings, monotonic=fake.clock, concurrency=4
        ),
        traveler(),
    )
    await sync_client.aclose()
    grants = [name for kind, name in trace if kind == "grant"]
    # The window (2 s x 6 req/s = 12 grants) is used: eSIMs kept starting until it was spent
    # (the requests of eSIMs already started finish after it), and the rest wait.
    assert grants.count("REFRESH") == 3
    assert grants.count("SYNC") >= 12 - 3
    assert stats.detail["skipped"] == len(ids) - len(started) > 0
    # The refreshes overtook the sync requests already waiting: once the three had arrived,
    # the next grants were theirs (one sync grant may already have been on its way).
    arrived = max(i for i, e in enumerate(trace) if e == ("arrive", "REFRESH"))
    after = [name for kind, name in trace[arrived:] if kind == "grant"]
    assert after[:4].count("REFRESH") >= 3 - (grants[: len(grants) - len(after)].count("REFRESH"))
    assert "REFRESH" not in after[4:]


async def test_order_viewed_then_urgent_then_round_robin(
    sqlite_db: Settings, sim: SimServer, client: SFTClient, api: SimApi, engines: None
) -> None:
    setups = [await setup_esim(client, [FR_1GB_7D]) for _ in range(5)]
    ids = [s.esim_id for s in setups]
    settings = settings_with(sync_interval_seconds=600)
    # Everything synced once, one after the other.
    await runs.run_usage_sync(client, metering.RunStats(), settings=settings, concurrency=1)
    # Make eSIM 3 near empty (85 % used >= SYNC_NEAR_EMPTY_PERCENT 80) and store it.
    api.consume(setups[3].endpoint_id, int(GB * 0.85))
    async with db.session() as s:
        row = (await s.exec(select(EsimAddon).where(col(EsimAddon.esim_id) == ids[3]))).one()
    # Not synced yet: stored figures show nothing used, so it is not urgent yet.
    assert row.used_bytes == 0
    from travelsim.services import usage_sync

    await usage_sync.sync_esims(client, [ids[3]], priority=Priority.SYNC)
    # Freshness: eSIM 3 is now the most recently synced; eSIM 1 is viewed.
    viewed.mark_viewed(ids[1])
    async with db.session() as s:
        cands = await sync_plan.sync_candidates(s, now=utcnow(), settings=settings)
    order = sync_plan.order_for_sync(cands)
    oldest_first = sorted(
        [i for i in ids if i not in (ids[1], ids[3])],
        key=lambda i: next(c.fresh_at for c in cands if c.esim_id == i) or datetime.min,
    )
    assert order == [ids[1], ids[3], *oldest_first]

    # Round-robin: a run that can do only part of the list starts where the last one stopped.
    viewed.clear_viewed()
    fake = FakeTime()
    meter = metering.MeteredBudget(LocalRateBudget(3.0, clock=fake.clock, sleep=fake.sleep))
    rr = make_client(sim.url, meter)
    await rr.fetch_sims(priority=Priority.SYNC, per_page=1)
    short = settings_with(sync_interval_seconds=2.0, sync_fill_fraction=1.0)
    first = await runs.run_usage_sync(
        rr, metering.RunStats(), settings=short, monotonic=fake.clock, concurrency=1
    )
    second = await runs.run_usage_sync(
        rr, metering.RunStats(), settings=short, monotonic=fake.clock, concurrency=1
    )
    await rr.aclose()
    assert first[0] == ids[3]  # urgent first
    rest_first = [i for i in first if i != ids[3]]
    rest_second = [i for i in second if i != ids[3]]
    assert rest_first and rest_second
    assert not set(rest_first) & set(rest_second)  # the next run continues with the others


async def test_with_callbacks_on_the_sync_goes_where_events_are_missing(
    sqlite_db: Settings, sim: SimServer, client: SFTClient, engines: None
) -> None:
    ids = [(await setup_esim(client, [FR_1GB_7D])).esim_id for _ in range(3)]
    settings = settings_with(sync_interval_seconds=600)
    await runs.run_usage_sync(client, metering.RunStats(), settings=settings, concurrency=1)
    # The least recently synced eSIM just got a platform event.
    async with db.session() as s:
        syncs = {r.esim_id: r.synced_at for r in (await s.exec(select(EsimSync))).all()}
        oldest = min(ids, key=lambda i: syncs[i] or datetime.min.replace(tzinfo=UTC))
        s.add(
            CallbackEvent(
                dedupe_key="x" * 64,
                event_type="counter_change",
                esim_id=oldest,
                status="processed",
                received_at=utcnow(),
            )
        )
        await s.commit()
        off = sync_plan.order_for_sync(
            await sync_plan.sync_candidates(s, now=utcnow(), settings=settings, callbacks_on=False)
        )
        on = sync_plan.order_for_sync(
            await sync_plan.sync_candidates(s, now=utcnow(), settings=settings, callbacks_on=True)
        )
    assert off[0] == oldest
    assert on[-1] == oldest


async def test_a_failing_sync_is_recorded_and_the_next_run_works(
    sqlite_db: Settings, sim: SimServer, client: SFTClient, api: SimApi, engines: None
) -> None:
    st = await setup_esim(client, [FR_1GB_7D])
    settings = settings_with(sync_interval_seconds=600)

    async def broken(stats: metering.RunStats) -> None:
        raise RuntimeError("database went away")

    bad = await metering.record_run("usage_sync", broken)
    assert (bad.ok, bad.error) == (False, "RuntimeError: database went away")
    api.ctl("POST", "faults", {"operation": "GetEndPointProfile", "kind": "http500", "count": 50})
    failed = await metering.record_run(
        "usage_sync", lambda s: runs.run_usage_sync(client, s, settings=settings)
    )
    assert (failed.ok, failed.items, failed.errors) == (True, 0, 1)
    api.ctl("DELETE", "faults")
    good = await metering.record_run(
        "usage_sync", lambda s: runs.run_usage_sync(client, s, settings=settings)
    )
    assert (good.ok, good.items, good.errors) == (True, 1, 0)
    assert await synced_at(st.esim_id) is not None


# ============================================================================ catalogue, stock
async def test_catalogue_and_low_stock_alert_once_per_crossing(
    smtp: Mailbox, sqlite_db: Settings, sim_server_factory: Any, engines: None
) -> None:
    server: SimServer = sim_server_factory(seed_esims=5)
    client = make_client(server.url)
    async with db.session() as s:
        s.add(User(email="ops@example.com", password_hash="x", is_staff=True))
        await s.commit()
    settings = get_settings()
    assert settings.smtp_host == "127.0.0.1"

    cat = await metering.record_run("catalogue", lambda st: runs.run_catalogue(client, st))
    async with db.session() as s:
        plans = {p.plan_id for p in (await s.exec(select(Plan))).all()}
    assert plans == {p.plan_id for p in PLANS}
    assert cat.calls >= 1 and cat.detail["created"] == len(PLANS)

    low = settings.model_copy(update={"low_stock_threshold": 10})
    stats = metering.RunStats()
    assert await runs.run_inventory(client, stats, settings=low) == 5
    assert stats.detail["alert"] == "raised"
    stats = metering.RunStats()
    await runs.run_inventory(client, stats, settings=low)  # still low: no second email
    assert stats.detail["alert"] is None
    await runs.run_email(metering.RunStats(), settings=settings)
    assert len(smtp.messages) == 1
    assert smtp.messages[0]["To"] == "ops@example.com"
    assert "5" in str(smtp.messages[0]["Subject"])

    ok = settings.model_copy(update={"low_stock_threshold": 3})
    stats = metering.RunStats()
    await runs.run_inventory(client, stats, settings=ok)  # back above: cleared
    assert stats.detail["alert"] == "cleared"
    async with db.session() as s:
        assert await s.get(StaffAlert, runs.LOW_STOCK_ALERT) is None
    stats = metering.RunStats()
    await runs.run_inventory(
        client, stats, settings=low.model_copy(update={"staff_alert_email": "alerts@example.com"})
    )
    assert stats.detail["alert"] == "raised"  # a new crossing: a new email
    await runs.run_email(metering.RunStats(), settings=settings)
    assert [m["To"] for m in smtp.messages] == ["ops@example.com", "alerts@example.com"]
    await client.aclose()


# ============================================================================ recovery
FAST = {"backoff": (0.01,)}


async def _age(order_id: str, **values: Any) -> None:
    async with db.session() as s:
        await s.execute(update(Order).where(col(Order.id) == order_id).values(**values))
        await s.commit()


async def _get(model: Any, key: Any) -> Any:
    async with db.session() as s:
        return await s.get(model, key)


async def test_recovery_resumes_a_paid_order_exactly_once(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], engines: None
) -> None:
    sim = sim_factory(esims=4)
    client = make_client(sim.url)
    await add_plan()
    user = await add_user()
    outcome = await buy(user, client)
    order_id = outcome.order_id
    assert order_id
    settings = get_settings()
    # Fresh: within the grace period, recovery leaves it to the web process.
    result = await runs.run_recovery(client, metering.RunStats(), run_order_options=FAST)
    assert result == {"resumed": [], "escalated": []}
    # Left "paid" for longer than the grace period (the web process died before starting it):
    await _age(
        order_id, updated_at=utcnow() - timedelta(seconds=settings.recovery_paid_grace_seconds + 5)
    )
    # Two schedulers (two workers) find it at the same moment: one resumption.
    a, b = await asyncio.gather(
        runs.run_recovery(client, metering.RunStats(), run_order_options=FAST),
        runs.run_recovery(client, metering.RunStats(), run_order_options=FAST),
    )
    order = await _get(Order, order_id)
    assert order.status == "delivered"
    esim = await _get(Esim, order.esim_id)
    assert sim.state()["subscriptionsPerEndpoint"] == {esim.endpoint_id: 1}
    async with db.session() as s:
        mails = (
            await s.exec(select(OutboxEmail).where(col(OutboxEmail.kind) == "installation"))
        ).all()
    assert len(mails) == 1
    assert order_id in a["resumed"] + b["resumed"]
    # Delivered: nothing more to do.
    again = await runs.run_recovery(client, metering.RunStats(), run_order_options=FAST)
    assert again == {"resumed": [], "escalated": []}
    await client.aclose()


async def test_recovery_takes_over_an_expired_lease_and_escalates_after_bounded_tries(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], engines: None
) -> None:
    sim = sim_factory(esims=4)
    client = make_client(sim.url)
    await add_plan()
    user = await add_user()
    first = (await buy(user, client)).order_id
    second = (await buy(user, client)).order_id
    assert first and second
    old = utcnow() - timedelta(minutes=11)  # provisioning.DEFAULT_LEASE is 10 minutes
    # A run crashed mid-way (lease expired) after one attempt: resumed.
    await _age(first, status="provisioning", updated_at=old, attempts=1)
    # Another has been run RECOVERY_MAX_ATTEMPTS (3) times already: escalated, not resumed.
    await _age(second, status="provisioning", updated_at=old, attempts=3)
    # A reservation that ran out is released.
    async with db.session() as s:
        free = (await s.exec(select(Esim).where(col(Esim.state) == "free"))).first()
        assert free is not None
        free.state, free.checkout_id, free.reserved_until = (
            "reserved",
            "gone",
            utcnow() - timedelta(minutes=1),
        )
        s.add(free)
        await s.commit()
        free_id = free.id

    stats = metering.RunStats()
    result = await runs.run_recovery(client, stats, run_order_options=FAST)
    assert result == {"resumed": [first], "escalated": [second]}
    assert stats.detail["released"] == 1
    assert (await _get(Esim, free_id)).state == "free"
    assert (await _get(Order, first)).status == "delivered"
    escalated = await _get(Order, second)
    assert escalated.status == "needs_attention"
    assert "recovery" in (escalated.last_error or "")
    assert (await _get(Payment, escalated.payment_id)).status == "voided"
    # The escalated order never reached the platform.
    esim2 = await _get(Esim, escalated.esim_id)
    assert esim2.endpoint_id not in sim.state()["subscriptionsPerEndpoint"]
    await client.aclose()

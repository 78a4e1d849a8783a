"""Usage sync, top-up preview and top-up rules against the SFT simulator over a real loopback
socket, and the portal services against a real database (SQLite file; PostgreSQL through
``any_db`` for the key sync test).

Expected figures come from the simulator's own answers read with the tests' minimal wire client
(``SimApi``, independent of the portal's SFT client), or from the documents
(docs/sft-platform.md#get-endpoint-add-on-details, docs/sft-platform.md#getendpointprofile,
docs/sft-platform.md#getstatistics; docs/simulator.md#add-on-life-model)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sim_fixtures import SimApi, SimServer
from sqlalchemy import event
from sqlmodel import col, select

from travelsim import db
from travelsim.models import (
    Checkout,
    Esim,
    EsimAddon,
    EsimSync,
    Order,
    Payment,
    Plan,
    UsageDay,
    User,
)
from travelsim.services import topup, usage_refresh, usage_sync
from travelsim.services.esim_dashboard import esim_dashboard
from travelsim.settings import Settings
from travelsim.sft import LocalRateBudget, Priority, SFTBusinessError, SFTClient

GB = 1_073_741_824
MB = 1_048_576
FR_1GB_7D = "870101"  # On Usage
FR_5GB_30D = "870102"  # On Usage
GLOBAL_3GB_30D = "870301"  # Immediate
WIRE_TS = "%d/%m/%Y %H:%M:%S"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture
def sim(sim_server_factory: Any) -> SimServer:
    return sim_server_factory(seed_esims=40)  # type: ignore[no-any-return]


@pytest.fixture
def api(sim: SimServer) -> Iterator[SimApi]:
    a = SimApi(sim.url)
    assert a.login().status_code == 200
    yield a
    a.close()


@pytest.fixture
async def client(sim: SimServer) -> AsyncIterator[SFTClient]:
    c = SFTClient(
        sim.url,
        "demo",
        "demo",
        rate_budget=LocalRateBudget(1000.0),
        retry_backoff=0.05,
        retry_backoff_max=0.2,
        timeout=10.0,
        long_timeout=10.0,
    )
    yield c
    await c.aclose()


@pytest.fixture
async def engines() -> AsyncIterator[None]:
    yield
    await db.async_engine().dispose()


def sim_clock(sim: SimServer) -> Any:
    return lambda: datetime.fromtimestamp(sim.simulator.store.now(), UTC)


@dataclass
class Setup:
    user_id: int
    esim_id: int
    endpoint_id: str
    unique_ids: list[str]


_free_index = 0


async def make_user(email: str | None = None) -> int:
    async with db.session() as s:
        user = User(email=email or f"{uuid.uuid4().hex[:8]}@example.com", password_hash="x")
        s.add(user)
        await s.commit()
        assert user.id is not None
        return user.id


async def setup_esim(
    client: SFTClient, plans: list[str], *, user_id: int | None = None, activate: bool = True
) -> Setup:
    """Take a free endpoint, activate it, subscribe ``plans`` with the portal's client, and
    create the matching Esim/Plan/Checkout/Payment/Order rows as provisioning would."""
    rows, _ = await client.fetch_sims(priority=Priority.PROVISIONING, per_page=1)
    sim_row = rows[0]
    assert sim_row.endpoint_id is not None
    endpoint_id = sim_row.endpoint_id
    if activate:
        await client.activate_endpoint(endpoint_id, priority=Priority.PROVISIONING)
    uids = [
        (await client.subscribe_addon(endpoint_id, p, priority=Priority.PROVISIONING)).unique_id
        for p in plans
    ]
    uid = user_id or await make_user()
    async with db.session() as s:
        esim = Esim(
            iccid=sim_row.iccid,
            endpoint_id=endpoint_id,
            state="assigned",
            user_id=uid,
            destination="FR",
            assigned_at=datetime.now(UTC),
        )
        s.add(esim)
        await s.flush()
        assert esim.id is not None
        if plans:
            plan_id = plans[0]
            if await s.get(Plan, plan_id) is None:
                s.add(
                    Plan(
                        plan_id=plan_id,
                        sft_name=plan_id,
                        volume_bytes=GB,
                        validity_days=7,
                        activated_by="on_usage",
                    )
                )
                await s.flush()
            checkout = Checkout(
                id=str(uuid.uuid4()),
                user_id=uid,
                plan_id=plan_id,
                esim_id=esim.id,
                amount_minor=900,
                currency="EUR",
                status="paid",
            )
            s.add(checkout)
            await s.flush()
            payment = Payment(
                checkout_id=checkout.id,
                idempotency_key=checkout.id,
                provider="demo",
                amount_minor=900,
                currency="EUR",
                status="succeeded",
            )
            s.add(payment)
            await s.flush()
            assert payment.id is not None
            s.add(
                Order(
                    id=str(uuid.uuid4()),
                    reference=uuid.uuid4().hex[:10].upper(),
                    checkout_id=checkout.id,
                    user_id=uid,
                    plan_id=plan_id,
                    esim_id=esim.id,
                    payment_id=payment.id,
                    status="delivered",
                    amount_minor=900,
                    currency="EUR",
                    addon_unique_id=uids[0],
                )
            )
        await s.commit()
        return Setup(uid, esim.id, endpoint_id, uids)


async def stored_addons(esim_id: int) -> dict[str, EsimAddon]:
    async with db.session() as s:
        rows = (await s.exec(select(EsimAddon).where(col(EsimAddon.esim_id) == esim_id))).all()
    return {r.unique_id: r for r in rows}


def wire_dt(value: str) -> datetime | None:
    return None if value in ("-", "") else datetime.strptime(value, WIRE_TS).replace(tzinfo=UTC)


WIRE_STATUS = {
    "Subscribed": "waiting",
    "Active": "active",
    "Exhausted": "used_up",
    "Expired": "expired",
    "Deactivated": "deactivated",
}


async def assert_matches_simulator(api: SimApi, setup: Setup) -> None:
    """Every stored add-on equals the simulator's own add-on details row."""
    wire = api.addons(endPointId=setup.endpoint_id)
    stored = await stored_addons(setup.esim_id)
    assert set(stored) == {str(r["uniqueId"]) for r in wire}
    for r in wire:
        row = stored[str(r["uniqueId"])]
        assert row.status == WIRE_STATUS[r["status"]], r
        assert row.initial_bytes == int(r["initialVolume"])
        assert row.remaining_bytes == int(r["remainingVolume"])
        assert row.used_bytes == int(r["usedVolume"])
        assert row.started_at == wire_dt(r["startDate"])
        assert row.expires_at == wire_dt(r["expiryDate"])
        assert row.subscribed_at == wire_dt(r["subscriptionDate"])
        assert row.plan_id == r["planId"] and row.plan_name == r["planName"]
        assert row.validity_days == int(r["validity"])
        assert row.activated_by == ("immediate" if r["activatedBy"] == "1" else "on_usage")


class WriteCounter:
    """Counts INSERT/UPDATE/DELETE statements sent to the database."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        verb = statement.lstrip().split(" ", 1)[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE"):
            self.statements.append(statement.split("\n", 1)[0][:80])


# ----------------------------------------------------------------------------- sync
async def test_sync_stores_the_simulators_figures_and_only_changes(
    any_db: Settings, engines: None, sim: SimServer, api: SimApi, client: SFTClient
) -> None:
    setup = await setup_esim(client, [FR_1GB_7D, FR_5GB_30D])
    consumed = api.consume(setup.endpoint_id, 300 * MB)
    assert consumed["billedBytes"] == 300 * MB
    clock = sim_clock(sim)

    first = await usage_sync.sync_esims(
        client, [setup.esim_id], priority=Priority.SYNC, clock=clock
    )
    assert first.synced == 1 and not first.failed
    assert first.outcomes[0].addons_inserted == 2
    await assert_matches_simulator(api, setup)
    stored = await stored_addons(setup.esim_id)
    a, b = (stored[u] for u in setup.unique_ids)
    assert (a.status, a.remaining_bytes, a.used_bytes) == ("active", GB - 300 * MB, 300 * MB)
    assert a.expires_at is not None and a.started_at is not None
    assert a.expires_at - a.started_at == timedelta(days=7)
    assert (b.status, b.started_at, b.expires_at) == ("waiting", None, None)

    async with db.session() as s:
        esim = await s.get(Esim, setup.esim_id)
        sync = await s.get(EsimSync, setup.esim_id)
        days = (await s.exec(select(UsageDay).where(col(UsageDay.esim_id) == setup.esim_id))).all()
    assert esim is not None and esim.endpoint_status == "Active"
    assert esim.profile_status == "enabled"  # data was used: the profile is on a phone
    assert sync is not None and sync.synced_at is not None and sync.last_error is None
    # GetStatistics: 300.000 MB today (simulator-clock day) = 314,572,800 bytes
    assert [(d.day, d.bytes) for d in days] == [(clock().date(), 300 * MB)]

    # Second sync, nothing changed on the platform: no changed row, and the only write is
    # the EsimSync timestamps (one UPDATE).
    counter = WriteCounter()
    engine = db.async_engine().sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    try:
        second = await usage_sync.sync_esims(
            client, [setup.esim_id], priority=Priority.SYNC, clock=clock
        )
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    assert second.synced == 1 and second.changed_rows == 0
    assert len(counter.statements) == 1 and "esim_sync" in counter.statements[0].lower()
    again = await stored_addons(setup.esim_id)
    assert again[a.unique_id].updated_at == a.updated_at
    assert again[a.unique_id].figures_at == a.figures_at

    # More traffic: only the drawn add-on and today's usage change.
    api.consume(setup.endpoint_id, 100 * MB)
    third = await usage_sync.sync_esims(
        client, [setup.esim_id], priority=Priority.SYNC, clock=clock
    )
    o = third.outcomes[0]
    assert (o.addons_inserted, o.addons_updated, o.days_written, o.esim_updated) == (0, 1, 1, False)
    await assert_matches_simulator(api, setup)


async def test_used_up_then_waiting_starts_then_expires(
    sqlite_db: Settings, engines: None, sim: SimServer, api: SimApi, client: SFTClient
) -> None:
    setup = await setup_esim(client, [FR_1GB_7D, FR_5GB_30D])
    first_uid, second_uid = setup.unique_ids
    clock = sim_clock(sim)
    # 1 GB + 10 MB: the first add-on is used up, the waiting one starts with the rest.
    assert api.consume(setup.endpoint_id, GB + 10 * MB)["billedBytes"] == GB + 10 * MB
    await usage_sync.sync_esims(client, [setup.esim_id], priority=Priority.SYNC, clock=clock)
    await assert_matches_simulator(api, setup)
    stored = await stored_addons(setup.esim_id)
    assert (stored[first_uid].status, stored[first_uid].remaining_bytes) == ("used_up", 0)
    second = stored[second_uid]
    assert (second.status, second.remaining_bytes) == ("active", 5 * GB - 10 * MB)
    assert second.started_at is not None and second.expires_at == second.started_at + timedelta(
        days=30
    )

    async with db.session() as s:
        d = await esim_dashboard(s, user_id=setup.user_id, esim_id=setup.esim_id, now=clock())
    assert d is not None and d.current is not None and d.current.unique_id == second_uid
    assert (d.remaining_bytes, d.total_bytes) == (5 * GB - 10 * MB, 5 * GB)
    assert d.expires_at == second.expires_at

    # Past the second add-on's expiry: the platform reports it expired, and so do we.
    api.advance(30 * 86_400 + 60)
    result = await usage_sync.sync_esims(
        client, [setup.esim_id], priority=Priority.SYNC, clock=clock
    )
    assert result.outcomes[0].addons_updated == 1
    await assert_matches_simulator(api, setup)
    assert (await stored_addons(setup.esim_id))[second_uid].status == "expired"
    async with db.session() as s:
        d = await esim_dashboard(s, user_id=setup.user_id, esim_id=setup.esim_id, now=clock())
    assert d is not None and d.remaining_bytes == 0 and d.total_bytes == 0
    assert not d.has_live_addons and d.current is None


async def test_one_failing_esim_does_not_stop_the_others(
    sqlite_db: Settings, engines: None, sim: SimServer, client: SFTClient
) -> None:
    good = await setup_esim(client, [FR_1GB_7D])
    async with db.session() as s:
        bad = Esim(iccid="8932000000000000000", endpoint_id="59999999", state="assigned")
        bad.user_id = good.user_id
        s.add(bad)
        await s.commit()
        assert bad.id is not None
        bad_id = bad.id
    result = await usage_sync.sync_esims(
        client, [bad_id, good.esim_id, 424242], priority=Priority.SYNC, clock=sim_clock(sim)
    )
    by_id = {o.esim_id: o for o in result.outcomes}
    assert by_id[good.esim_id].ok and by_id[good.esim_id].addons_inserted == 1
    assert not by_id[bad_id].ok and "1359" in (by_id[bad_id].error or "")
    assert by_id[424242].error == "not_found"
    async with db.session() as s:
        sync = await s.get(EsimSync, bad_id)
    assert sync is not None and sync.synced_at is None and sync.attempted_at is not None
    assert sync.last_error and "SFTBusinessError" in sync.last_error


# ----------------------------------------------------------------------------- top-up preview
async def catalogue(client: SFTClient) -> dict[str, Plan]:
    """The platform's add-on plans (QueryRatePlan) as portal ``Plan`` objects (in memory)."""
    out: dict[str, Plan] = {}
    for rp in await client.rate_plans(priority=Priority.SYNC):
        assert rp.volume_bytes is not None and rp.validity_days is not None
        out[rp.plan_id] = Plan(
            plan_id=rp.plan_id,
            sft_name=rp.name or rp.plan_id,
            volume_bytes=rp.volume_bytes,
            validity_days=rp.validity_days,
            activated_by="immediate" if rp.activated_by == "IMMEDIATE" else "on_usage",
            priority=rp.priority or 1,
        )
    return out


async def test_preview_matches_what_the_simulator_does(
    sqlite_db: Settings, engines: None, sim: SimServer, api: SimApi, client: SFTClient
) -> None:
    plans = await catalogue(client)
    setup = await setup_esim(client, [FR_1GB_7D])
    first_uid = setup.unique_ids[0]
    clock = sim_clock(sim)
    api.consume(setup.endpoint_id, 100 * MB)
    await usage_sync.sync_esims(client, [setup.esim_id], priority=Priority.SYNC, clock=clock)

    # 1) an Immediate plan: starts at purchase, drawn after the older add-on.
    before = list((await stored_addons(setup.esim_id)).values())
    previewed = topup.preview(before, plans[GLOBAL_3GB_30D], clock(), endpoint_status="Active")
    imm_uid = (
        await client.subscribe_addon(
            setup.endpoint_id, GLOBAL_3GB_30D, priority=Priority.PROVISIONING
        )
    ).unique_id
    await usage_sync.sync_esims(client, [setup.esim_id], priority=Priority.SYNC, clock=clock)
    await assert_matches_simulator(api, setup)
    after = await stored_addons(setup.esim_id)
    assert set(after) == {first_uid, imm_uid}
    for p in previewed:
        real = after[imm_uid if p.is_new else p.unique_id or ""]
        assert p.state == real.status
        assert p.remaining_bytes == real.remaining_bytes and p.total_bytes == real.initial_bytes
        if p.expires_at is None:
            assert real.expires_at is None
        else:
            assert real.expires_at is not None
            assert abs(real.expires_at - p.expires_at) <= timedelta(seconds=3)
    new = next(p for p in previewed if p.is_new)
    assert (new.starts, new.order, new.clock_runs_before_use) == ("now", 2, True)

    # 2) an On Usage plan: waits behind both running add-ons.
    before = list(after.values())
    previewed = topup.preview(before, plans[FR_5GB_30D], clock(), endpoint_status="Active")
    wait_uid = (
        await client.subscribe_addon(setup.endpoint_id, FR_5GB_30D, priority=Priority.PROVISIONING)
    ).unique_id
    await usage_sync.sync_esims(client, [setup.esim_id], priority=Priority.SYNC, clock=clock)
    after = await stored_addons(setup.esim_id)
    new = next(p for p in previewed if p.is_new)
    assert (new.state, new.starts, new.expires_at) == ("waiting", "after_previous", None)
    assert (after[wait_uid].status, after[wait_uid].expires_at) == ("waiting", None)
    assert new.waits_for == (first_uid, imm_uid)
    order = [p.unique_id or wait_uid for p in sorted(previewed, key=lambda p: p.order)]
    assert order == [first_uid, imm_uid, wait_uid]

    # 3) the simulator draws data in the previewed order.
    remaining = {u: r.remaining_bytes or 0 for u, r in after.items()}
    api.consume(setup.endpoint_id, remaining[first_uid] + 5 * MB)
    await usage_sync.sync_esims(client, [setup.esim_id], priority=Priority.SYNC, clock=clock)
    drawn = await stored_addons(setup.esim_id)
    assert drawn[first_uid].status == "used_up"
    assert drawn[imm_uid].remaining_bytes == 3 * GB - 5 * MB  # second in order
    assert drawn[wait_uid].status == "waiting"  # third: not needed yet
    api.consume(setup.endpoint_id, 3 * GB - 5 * MB + MB)
    await usage_sync.sync_esims(client, [setup.esim_id], priority=Priority.SYNC, clock=clock)
    drawn = await stored_addons(setup.esim_id)
    assert drawn[wait_uid].status == "active" and drawn[wait_uid].remaining_bytes == 5 * GB - MB
    await assert_matches_simulator(api, setup)


async def test_fifteen_live_addons_refused_like_the_platform(
    sqlite_db: Settings, engines: None, sim: SimServer, client: SFTClient
) -> None:
    setup = await setup_esim(client, [FR_1GB_7D] * 15)
    await usage_sync.sync_esims(
        client, [setup.esim_id], priority=Priority.SYNC, clock=sim_clock(sim)
    )
    async with db.session() as s:
        sync = await s.get(EsimSync, setup.esim_id)
    assert sync is not None
    addons = list((await stored_addons(setup.esim_id)).values())
    decision = topup.check_topup_allowed(
        addons, sync.endpoint_status, sync.lifecycle_reason, now=sim_clock(sim)()
    )
    assert (decision.allowed, decision.refusal, decision.live_addons) == (
        False,
        "addon_limit",
        15,
    )
    # the platform agrees: a 16th live add-on is refused with 9010
    with pytest.raises(SFTBusinessError) as info:
        await client.subscribe_addon(setup.endpoint_id, FR_1GB_7D, priority=Priority.PROVISIONING)
    assert info.value.result_code == "9010"


# ----------------------------------------------------------------------------- suspension
async def test_system_suspension_resumed_staff_suspension_refused(
    sqlite_db: Settings, engines: None, sim: SimServer, api: SimApi, client: SFTClient
) -> None:
    clock = sim_clock(sim)
    system = await setup_esim(client, [FR_1GB_7D])
    await client.change_lifecycle(system.endpoint_id, "S", "1", priority=Priority.PROVISIONING)
    staff = await setup_esim(client, [FR_1GB_7D], user_id=system.user_id)
    await client.change_lifecycle(staff.endpoint_id, "S", "3", priority=Priority.PROVISIONING)
    await usage_sync.sync_esims(
        client, [system.esim_id, staff.esim_id], priority=Priority.SYNC, clock=clock
    )

    async def decide(esim_id: int) -> topup.TopupDecision:
        async with db.session() as s:
            sync = await s.get(EsimSync, esim_id)
        assert sync is not None and sync.endpoint_status == "Suspended"
        addons = list((await stored_addons(esim_id)).values())
        return topup.check_topup_allowed(addons, sync.endpoint_status, sync.lifecycle_reason)

    d = await decide(system.esim_id)
    assert (d.allowed, d.resume_first) == (True, True)
    d = await decide(staff.esim_id)
    assert (d.allowed, d.refusal) == (False, "suspended_by_staff")

    # the page loader combines the same decision with the preview
    stranger = await make_user()
    async with db.session() as s:
        offer = await topup.topup_offer(
            s, user_id=system.user_id, esim_id=system.esim_id, plan_id=FR_1GB_7D, now=clock()
        )
        hidden = await topup.topup_offer(
            s, user_id=stranger, esim_id=system.esim_id, plan_id=FR_1GB_7D, now=clock()
        )
    assert hidden is None
    assert offer is not None and offer.decision.resume_first and offer.figures_at is not None
    assert [p.is_new for p in offer.previews] == [False, True]
    assert (offer.remaining_after, offer.total_after) == (2 * GB, 2 * GB)

    async with db.session() as s:
        system_esim = await s.get(Esim, system.esim_id)
        staff_esim = await s.get(Esim, staff.esim_id)
    assert system_esim is not None and staff_esim is not None
    out = await topup.resume_if_system_suspended(client, system_esim)
    assert out.status == "resumed"
    assert (
        api.resp(api.get("GetEndPointProfile", endPointId=system.endpoint_id))["info"]["basicInfo"][
            "status"
        ]
        == "Active"
    )
    refused = await topup.resume_if_system_suspended(client, staff_esim)
    assert refused.status == "refused"
    assert (
        api.resp(api.get("GetEndPointProfile", endPointId=staff.endpoint_id))["info"]["basicInfo"][
            "status"
        ]
        == "Suspended"
    )
    async with db.session() as s:
        mirrored = await s.get(Esim, system.esim_id)
    assert mirrored is not None and mirrored.endpoint_status == "Active"
    # nothing to do the second time
    assert (await topup.resume_if_system_suspended(client, system_esim)).status == "not_suspended"


async def test_resume_rereads_after_an_uncertain_lifecycle_call(
    sqlite_db: Settings, engines: None, sim: SimServer, api: SimApi
) -> None:
    c = SFTClient(
        sim.url,
        "demo",
        "demo",
        rate_budget=LocalRateBudget(1000.0),
        retry_backoff=0.05,
        timeout=1.0,
        long_timeout=1.0,
    )
    try:
        setup = await setup_esim(c, [FR_1GB_7D])
        await c.change_lifecycle(setup.endpoint_id, "S", "2", priority=Priority.PROVISIONING)
        # The platform applies the change, then answers too late: outcome unknown.
        r = api.ctl(
            "POST",
            "faults",
            {
                "operation": "EndPointLifeCycleChange",
                "kind": "timeout_after_commit",
                "count": 1,
                "latency_seconds": 2,
            },
        )
        assert r.status_code == 200, r.text
        async with db.session() as s:
            esim = await s.get(Esim, setup.esim_id)
        assert esim is not None
        out = await topup.resume_if_system_suspended(c, esim)
        assert out.status == "resumed" and out.endpoint_status == "Active"
        # The late answer is logged once it is sent: wait for it, then count.
        for _ in range(100):
            calls = api.ctl("GET", "calls?operation=EndPointLifeCycleChange").json()["calls"]
            if len(calls) >= 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        calls = api.ctl("GET", "calls?operation=EndPointLifeCycleChange").json()["calls"]
        assert len(calls) == 2  # the suspension and ONE resume: never resent
    finally:
        await c.aclose()


# ----------------------------------------------------------------------------- refresh_now
async def test_refresh_now_cooldown_and_ownership(
    sqlite_db: Settings, engines: None, sim: SimServer, api: SimApi, client: SFTClient
) -> None:
    setup = await setup_esim(client, [FR_1GB_7D])
    other = await make_user()
    base = sim_clock(sim)()
    now = {"t": base}

    def clock() -> datetime:
        return now["t"]

    api.ctl("DELETE", "calls")
    refused = await usage_refresh.refresh_now(
        client, user_id=other, esim_id=setup.esim_id, clock=clock
    )
    assert refused.status == "not_found" and not refused.ok
    assert api.ctl("GET", "calls").json()["calls"] == []  # no platform call for a stranger

    first = await usage_refresh.refresh_now(
        client, user_id=setup.user_id, esim_id=setup.esim_id, clock=clock
    )
    assert first.status == "refreshed" and first.changed_rows > 0 and first.synced_at == base

    now["t"] = base + timedelta(seconds=20)
    cooling = await usage_refresh.refresh_now(
        client, user_id=setup.user_id, esim_id=setup.esim_id, clock=clock
    )
    assert (cooling.status, cooling.retry_after_seconds) == ("cooling_down", 40)
    assert cooling.synced_at == base

    now["t"] = base + timedelta(seconds=60)
    again = await usage_refresh.refresh_now(
        client, user_id=setup.user_id, esim_id=setup.esim_id, clock=clock
    )
    assert again.status == "refreshed" and again.changed_rows == 0

    # a double click: exactly one refresh goes through
    now["t"] = base + timedelta(seconds=200)
    both = await asyncio.gather(
        usage_refresh.refresh_now(
            client, user_id=setup.user_id, esim_id=setup.esim_id, clock=clock
        ),
        usage_refresh.refresh_now(
            client, user_id=setup.user_id, esim_id=setup.esim_id, clock=clock
        ),
    )
    assert sorted(o.status for o in both) == ["cooling_down", "refreshed"]
    # refreshes use the REFRESH priority and read the three documented operations
    ops = {c["operation"] for c in api.ctl("GET", "calls").json()["calls"]}
    assert {"getendpointaddondetails", "getendpointprofile", "getstatistics"} <= ops


def _sim_calls(sim: SimServer, operation: str) -> list[dict[str, Any]]:
    return [c for c in sim.simulator.calls if c["operation"] == operation]


async def test_sync_reads_the_profile_when_add_on_details_is_not_served(
    sqlite_db: Settings, engines: None, sim: SimServer, api: SimApi, client: SFTClient
) -> None:
    """Get Endpoint Add-on Details answers HTTP 404, as a platform without that path would: the
    sync builds the add-ons from GetEndPointProfile (plans joined with benefits by uniqueId,
    docs/sft-platform.md#get-endpoint-add-on-details) with the simulator's own figures, reads
    the profile once per sync and stops asking for add-on details. An add-on the profile stops
    listing has ended (the 4.13 release: a One-Time add-on "When addon expires or volume is
    consumed addon will be removed"): used up before its expiry, expired after it."""
    setup = await setup_esim(client, [FR_1GB_7D, FR_5GB_30D])
    first_uid, second_uid = setup.unique_ids
    clock = sim_clock(sim)
    api.consume(setup.endpoint_id, 300 * MB)
    served = {str(r["uniqueId"]): r for r in api.addons(endPointId=setup.endpoint_id)}
    sim.simulator.addon_details_served = False

    result = await usage_sync.sync_esims(
        client, [setup.esim_id], priority=Priority.SYNC, clock=clock
    )
    assert result.synced == 1 and result.outcomes[0].addons_inserted == 2
    stored = await stored_addons(setup.esim_id)
    for uid, r in served.items():
        row = stored[uid]
        assert row.status == WIRE_STATUS[r["status"]]
        assert (row.initial_bytes, row.remaining_bytes, row.used_bytes) == (
            int(r["initialVolume"]),
            int(r["remainingVolume"]),
            int(r["usedVolume"]),
        )
        assert (row.started_at, row.expires_at) == (
            wire_dt(r["startDate"]),
            wire_dt(r["expiryDate"]),
        )
        assert row.plan_id == r["planId"] and row.plan_name == r["planName"]
        # Not in the profile: cannot be known.
        assert (row.subscribed_at, row.activated_by, row.priority) == (None, None, None)
    assert stored[first_uid].validity_days == 7  # inferred from start and expiry
    assert [c["status"] for c in _sim_calls(sim, "getendpointaddondetails")] == [200, 404]
    assert len(_sim_calls(sim, "getendpointprofile")) == 1

    # The first add-on is used up: the profile no longer lists it; the waiting one starts.
    api.consume(setup.endpoint_id, GB - 300 * MB + 10 * MB)
    await usage_sync.sync_esims(client, [setup.esim_id], priority=Priority.SYNC, clock=clock)
    stored = await stored_addons(setup.esim_id)
    first, second = stored[first_uid], stored[second_uid]
    # Last known figures kept, status ended: not past its expiry, so used up.
    assert (first.status, first.remaining_bytes) == ("used_up", GB - 300 * MB)
    assert (second.status, second.remaining_bytes) == ("active", 5 * GB - 10 * MB)

    # Past the second one's expiry it disappears too: expired.
    api.advance(30 * 86_400 + 60)
    await usage_sync.sync_esims(client, [setup.esim_id], priority=Priority.SYNC, clock=clock)
    assert (await stored_addons(setup.esim_id))[second_uid].status == "expired"
    assert [c["status"] for c in _sim_calls(sim, "getendpointaddondetails")] == [200, 404]
    assert len(_sim_calls(sim, "getendpointprofile")) == 3


async def test_an_older_read_stored_last_does_not_overwrite_a_newer_one(
    any_db: Settings, engines: None, sim: SimServer, api: SimApi, client: SFTClient
) -> None:
    """Two reads of one eSIM overlap. The first reads the profile (``released``), then waits
    before GetStatistics; meanwhile the phone deletes the profile and a second read, begun
    later, reads ``deleted`` and is stored. The first read then finishes, last: it is dropped
    whole, and what stays stored is the second read, with the time it began (usage_sync's
    module docstring)."""
    setup = await setup_esim(client, [FR_1GB_7D])
    base = sim_clock(sim)()
    ticks = iter(range(100))

    def clock() -> datetime:  # each reading of the clock is one second later
        return base + timedelta(seconds=next(ticks))

    profile_read = asyncio.Event()
    newer_stored = asyncio.Event()

    class HeldClient(SFTClient):
        async def statistics(self, *args: Any, **kwargs: Any) -> Any:
            profile_read.set()
            await newer_stored.wait()
            return await super().statistics(*args, **kwargs)

    held = HeldClient(sim.url, "demo", "demo", rate_budget=LocalRateBudget(1000.0))
    try:
        older = asyncio.create_task(
            usage_sync.sync_esims(held, [setup.esim_id], priority=Priority.SYNC, clock=clock)
        )
        await profile_read.wait()
        assert api.ctl(
            "POST", "profile-status", {"endPointId": setup.endpoint_id, "status": "deleted"}
        ).is_success
        newer = await usage_sync.sync_esims(
            client, [setup.esim_id], priority=Priority.REFRESH, clock=clock
        )
        assert newer.outcomes[0].ok and newer.outcomes[0].esim_updated
        newer_stored.set()
        dropped = (await older).outcomes[0]
    finally:
        await held.aclose()
    assert dropped.ok and dropped.changed_rows == 0
    async with db.session() as s:
        esim = await s.get(Esim, setup.esim_id)
        sync = await s.get(EsimSync, setup.esim_id)
        assert esim is not None and sync is not None
        assert (esim.profile_status, sync.profile_status) == ("deleted", "deleted")
        assert sync.synced_at == base + timedelta(seconds=1)  # the second read's start

"""Contract tests: SFTClient against the SFT simulator over a real loopback socket.

The simulator runs as a separate process (``python -m travelsim.sft_simulator serve``); each
test resets it and drives faults, token expiry, rate limits and usage through ``/_sim/``.
Expected values come from docs/sft-platform.md (codes: docs/sft-platform.md#result-codes; units:
docs/sft-platform.md#conventions) and from the simulator's documented behaviour
(docs/simulator.md#decisions-the-platform-leaves-open), never from the client's own output.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sft_client_fixtures import (  # noqa: F401  (fixtures)
    ClientFactory,
    SimControl,
    make_client_fixture,
    sft_sim_process_fixture,
    sim_fixture,
)

from travelsim.sft import (
    ActivatedBy,
    AddonStatus,
    LocalRateBudget,
    Priority,
    RatePlan,
    SFTAuthError,
    SFTBusinessError,
    SFTClient,
    SFTMalformedOutcomeUnknown,
    SFTMalformedResponse,
    SFTOutcomeUnknown,
)

P, R, S = Priority.PROVISIONING, Priority.REFRESH, Priority.SYNC
MIB = 1_048_576


async def first_free_endpoint(client: SFTClient) -> str:
    rows, _ = await client.fetch_sims(priority=P, per_page=1)
    assert rows and rows[0].endpoint_id
    return rows[0].endpoint_id


async def plan(client: SFTClient, activated_by: ActivatedBy) -> RatePlan:
    plans = await client.rate_plans(priority=S)
    return next(p for p in plans if p.activated_by is activated_by)


def statuses(calls: list[dict[str, object]]) -> list[object]:
    return [c["status"] for c in calls]


# --- every operation, in the order of the purchase / revisit / recycle flows ----------------
async def test_purchase_revisit_and_recycle_flow(sim: SimControl, make_client: ClientFactory):
    client = make_client()

    rows, total = await client.fetch_sims(priority=P, per_page=5)
    assert total == 30  # every seeded eSIM is Pre-Active and attached
    assert len(rows) == 5
    sim0 = rows[0]
    assert sim0.sim_status == "Pre-Active" and sim0.attach_status == "ATTACHED"
    assert sim0.activation_code == f"LPA:1${sim0.smdp_address}${sim0.matching_id}"
    page2, _ = await client.fetch_sims(priority=P, per_page=5, page=2)
    assert not {r.iccid for r in page2} & {r.iccid for r in rows}

    found = await client.find_sim(sim0.iccid, priority=R)
    assert found == sim0
    assert await client.find_sim("8932000000000000000", priority=R) is None

    endpoint = sim0.endpoint_id
    assert endpoint is not None
    activated = await client.activate_endpoint(endpoint, priority=P)
    assert (activated.result_code, activated.already_active) == ("5014", False)
    assert activated.current_status == "Active"
    again = await client.activate_endpoint(endpoint, priority=P)
    assert (again.result_code, again.already_active) == ("2507", True)

    immediate = await plan(client, ActivatedBy.IMMEDIATE)
    assert immediate.volume_bytes and immediate.validity_days
    sub = await client.subscribe_addon(endpoint, immediate.plan_id, priority=P)
    assert sub.unique_id.isdigit()

    [addon] = await client.addon_details(unique_id=sub.unique_id, priority=R)
    assert addon.status is AddonStatus.ACTIVE
    assert addon.plan_id == immediate.plan_id
    assert addon.initial_bytes == addon.remaining_bytes == immediate.volume_bytes
    assert addon.started_at is not None and addon.expires_at is not None
    assert addon.expires_at - addon.started_at == dt.timedelta(days=immediate.validity_days)
    assert addon.started_at.tzinfo is not None and addon.started_at.utcoffset() == dt.timedelta(0)

    used = 3 * MIB
    await sim.consume(endpoint, used)
    [after] = await client.addon_details(endpoint_id=endpoint, priority=S)
    assert after.remaining_bytes == immediate.volume_bytes - used
    assert after.used_bytes == used
    assert await client.addon_details(addon_id=immediate.plan_id, priority=S) == [after]

    profile = await client.endpoint_profile(endpoint, priority=R)
    assert profile.iccid == sim0.iccid and profile.status == "Active"
    [benefit] = profile.benefits
    assert benefit.unique_id == sub.unique_id
    assert (benefit.initial_bytes, benefit.remaining_bytes) == (
        immediate.volume_bytes,
        immediate.volume_bytes - used,
    )

    today = dt.datetime.fromtimestamp((await sim.clock())["epoch"], dt.UTC).date()
    usage = await client.statistics(
        endpoint, today - dt.timedelta(days=1), today + dt.timedelta(days=1), priority=S
    )
    assert [(u.date, u.bytes) for u in usage] == [(today, used)]  # "3.000" MB

    suspended = await client.change_lifecycle(endpoint, "S", priority=P)
    assert (suspended.result_code, suspended.previous_status, suspended.current_status) == (
        "5017",
        "Active",
        "Suspended",
    )
    with pytest.raises(SFTBusinessError) as invalid:
        await client.activate_endpoint(endpoint, priority=P)
    assert invalid.value.result_code == "9005"
    resumed = await client.change_lifecycle(endpoint, "A", priority=P)
    assert resumed.current_status == "Active"
    with pytest.raises(SFTBusinessError) as twice:
        await client.change_lifecycle(endpoint, "A", priority=P)
    assert twice.value.result_code == "9005"

    other = next(p for p in await client.rate_plans(priority=S) if p.plan_id != immediate.plan_id)
    modified = await client.modify_endpoint_addons(endpoint, add=[other.plan_id], priority=P)
    assert modified.result_code == "0"
    live = await client.addon_details(endpoint_id=endpoint, priority=S)
    assert {a.plan_id for a in live} == {immediate.plan_id, other.plan_id}
    await client.modify_endpoint_addons(endpoint, remove=[sub.unique_id], priority=P)
    [removed] = await client.addon_details(unique_id=sub.unique_id, priority=S)
    assert removed.status is AddonStatus.DEACTIVATED

    delinked = await client.delink_sim(endpoint, priority=P)
    assert delinked.result_code == "6413"
    assert (await client.delink_sim(endpoint, priority=P)).result_code == "6420"
    recycled = await client.find_sim(sim0.iccid, priority=S)
    assert recycled is not None
    assert (recycled.endpoint_id, recycled.sim_status) == (None, "Ready To Activate")
    with pytest.raises(SFTBusinessError) as no_sim:
        await client.activate_endpoint(endpoint, priority=P)
    assert no_sim.value.result_code == "6420"


async def test_on_usage_addon_waits_until_traffic(sim: SimControl, make_client: ClientFactory):
    client = make_client()
    endpoint = await first_free_endpoint(client)
    await client.change_lifecycle(endpoint, "A", priority=P)  # the documented travel flow
    on_usage = await plan(client, ActivatedBy.ON_USAGE)
    sub = await client.subscribe_addon(endpoint, on_usage.plan_id, priority=P)
    [waiting] = await client.addon_details(unique_id=sub.unique_id, priority=S)
    assert waiting.status is AddonStatus.WAITING
    assert waiting.started_at is None and waiting.expires_at is None
    await sim.consume(endpoint, MIB)
    [started] = await client.addon_details(unique_id=sub.unique_id, priority=S)
    assert started.status is AddonStatus.ACTIVE and started.started_at is not None


async def test_sixteenth_addon_is_refused_with_9010(sim: SimControl, make_client: ClientFactory):
    client = make_client()
    endpoint = await first_free_endpoint(client)
    plan_id = (await client.rate_plans(priority=S))[0].plan_id
    for _ in range(15):
        await client.subscribe_addon(endpoint, plan_id, priority=P)
    with pytest.raises(SFTBusinessError) as info:
        await client.subscribe_addon(endpoint, plan_id, priority=P)
    assert info.value.result_code == "9010"
    assert len(await client.addon_details(endpoint_id=endpoint, priority=S)) == 15


async def test_unknown_plan_is_a_business_error(sim: SimControl, make_client: ClientFactory):
    client = make_client()
    endpoint = await first_free_endpoint(client)
    with pytest.raises(SFTBusinessError) as info:
        await client.subscribe_addon(endpoint, "999999", priority=P)
    assert info.value.result_code not in (None, "0")


async def test_addon_details_alias_path(sim: SimControl, make_client: ClientFactory):
    client = make_client(addon_details_path="/api/GetEndpointAddon")
    endpoint = await first_free_endpoint(client)
    plan_id = (await client.rate_plans(priority=S))[0].plan_id
    sub = await client.subscribe_addon(endpoint, plan_id, priority=P)
    [addon] = await client.addon_details(unique_id=sub.unique_id, priority=S)
    assert addon.unique_id == sub.unique_id
    assert [c["operation"] for c in await sim.calls("getendpointaddon")] == ["getendpointaddon"]


# --- authentication --------------------------------------------------------------------------
async def test_wrong_password_is_an_auth_error(sim: SimControl, make_client: ClientFactory):
    client = make_client(password="wrong")
    with pytest.raises(SFTAuthError) as info:
        await client.fetch_sims(priority=P)
    assert info.value.http_status == 401


async def test_twenty_concurrent_calls_log_in_exactly_once(
    sim: SimControl, make_client: ClientFactory
):
    client = make_client()
    results = await asyncio.gather(*(client.fetch_sims(priority=S) for _ in range(20)))
    assert all(total == 30 for _, total in results)
    assert len(await sim.calls("login")) == 1
    assert len(await sim.calls("fetchsim")) == 20

    await sim.expire_tokens()  # every caller now hits a 401 ...
    await sim.clear_calls()
    await asyncio.gather(*(client.fetch_sims(priority=S) for _ in range(20)))
    assert len(await sim.calls("refreshtoken")) == 1  # ... but only one renews
    assert await sim.calls("login") == []
    assert client.login_count == 1


@pytest.mark.parametrize(("shape", "http_status"), [("http401", 401), ("http200", 200)])
async def test_expired_token_is_renewed_and_the_call_replayed(
    sim: SimControl, make_client: ClientFactory, shape: str, http_status: int
):
    await sim.settings(expiry_shape=shape)
    client = make_client()
    endpoint = await first_free_endpoint(client)
    plan_id = (await client.rate_plans(priority=S))[0].plan_id
    await sim.expire_tokens()
    sub = await client.subscribe_addon(endpoint, plan_id, priority=P)
    calls = await sim.calls("subscribeaddon")
    assert [(c["status"], c["resultParamCode"]) for c in calls] == [
        (http_status, "401"),
        (200, "0"),
    ]
    assert [c["status"] for c in await sim.calls("refreshtoken")] == [200]
    assert len(await client.addon_details(endpoint_id=endpoint, priority=S)) == 1
    assert sub.unique_id


async def test_token_expiry_fault(sim: SimControl, make_client: ClientFactory):
    client = make_client()
    await client.fetch_sims(priority=S)
    await sim.fault("fetchSIM", "token_expiry", count=1)
    rows, _ = await client.fetch_sims(priority=S)
    assert rows
    assert statuses(await sim.calls("fetchsim")) == [200, 401, 200]
    assert len(await sim.calls("refreshtoken")) == 1


async def test_proactive_refresh_before_expiry(sim: SimControl, make_client: ClientFactory):
    now = [0.0]
    client = make_client(clock=lambda: now[0])
    await client.fetch_sims(priority=S)
    now[0] += 0.8 * 900 + 1  # simulator tokens are opaque: the 15 min default applies
    await client.fetch_sims(priority=S)
    refresh = await sim.calls("refreshtoken")
    assert [c["method"] for c in refresh] == ["GET"]
    assert statuses(await sim.calls("fetchsim")) == [200, 200]  # never hit a 401
    assert len(await sim.calls("login")) == 1


# --- rate limit and priorities ---------------------------------------------------------------
async def test_429_back_off_loses_no_request(sim: SimControl, make_client: ClientFactory):
    await sim.settings(rate_limit_tps=5, rate_limit_burst=1)
    client = make_client(tps=50, max_rate_limited=50)  # budget above what the platform allows
    endpoint = await first_free_endpoint(client)
    plan_id = (await client.rate_plans(priority=S))[0].plan_id
    await sim.clear_calls()
    subs, reads = await asyncio.gather(
        asyncio.gather(*(client.subscribe_addon(endpoint, plan_id, priority=P) for _ in range(8))),
        asyncio.gather(*(client.fetch_sims(priority=S) for _ in range(8))),
    )
    assert len({s.unique_id for s in subs}) == 8
    assert all(total == 30 for _, total in reads)
    calls = await sim.calls()
    assert any(c["status"] == 429 for c in calls), "the test must provoke 429s"
    sub_calls = [c for c in calls if c["operation"] == "subscribeaddon"]
    assert sum(1 for c in sub_calls if c["status"] == 200) == 8  # each POST applied once
    await sim.settings(rate_limit_tps=0)
    assert len(await client.addon_details(endpoint_id=endpoint, priority=S)) == 8


async def test_429_burst_fault_resends_the_post(sim: SimControl, make_client: ClientFactory):
    client = make_client()
    endpoint = await first_free_endpoint(client)
    plan_id = (await client.rate_plans(priority=S))[0].plan_id
    await sim.fault("subscribeAddon", "429_burst", count=3)
    await client.subscribe_addon(endpoint, plan_id, priority=P)
    assert statuses(await sim.calls("subscribeaddon")) == [429, 429, 429, 200]
    assert len(await client.addon_details(endpoint_id=endpoint, priority=S)) == 1


async def test_priority_order_under_contention(sim: SimControl, make_client: ClientFactory):
    budget = LocalRateBudget(10)
    client = make_client(rate_budget=budget)
    endpoint = await first_free_endpoint(client)  # logs in
    await asyncio.sleep(0.3)
    await sim.clear_calls()
    budget.penalize(0.3)  # everything below queues before the first grant
    tasks = [asyncio.create_task(client.rate_plans(priority=S)) for _ in range(4)]
    tasks += [
        asyncio.create_task(client.addon_details(endpoint_id=endpoint, priority=R))
        for _ in range(4)
    ]
    tasks += [asyncio.create_task(client.fetch_sims(priority=P)) for _ in range(4)]
    await asyncio.gather(*tasks)
    order = [c["operation"] for c in await sim.calls()]
    assert order == ["fetchsim"] * 4 + ["getendpointaddondetails"] * 4 + ["queryrateplan"] * 4


# --- faults ------------------------------------------------------------------------------------
async def test_latency_fault(sim: SimControl, make_client: ClientFactory):
    client = make_client(timeout=0.5)
    await client.fetch_sims(priority=S)
    await sim.fault("fetchSIM", "latency", latency_seconds=0.2, count=1)
    assert (await client.fetch_sims(priority=S))[1] == 30  # slow but within the timeout
    await sim.fault("fetchSIM", "latency", latency_seconds=1.0, count=1)
    assert (await client.fetch_sims(priority=S))[1] == 30  # timed out, GET retried
    # The timed-out request is still being served for up to 1 s: let it land here, not in
    # the next test's call log.
    await asyncio.sleep(1.0)


async def test_http500_retries_get(sim: SimControl, make_client: ClientFactory):
    client = make_client()
    await sim.fault("fetchSIM", "http500", count=2)
    rows, _ = await client.fetch_sims(priority=S)
    assert rows
    assert statuses(await sim.calls("fetchsim")) == [500, 500, 200]


async def test_http500_on_post_is_outcome_unknown(sim: SimControl, make_client: ClientFactory):
    client = make_client()
    endpoint = await first_free_endpoint(client)
    plan_id = (await client.rate_plans(priority=S))[0].plan_id
    await sim.fault("subscribeAddon", "http500", count=1)
    with pytest.raises(SFTOutcomeUnknown) as info:
        await client.subscribe_addon(endpoint, plan_id, priority=P)
    assert info.value.http_status == 500
    assert statuses(await sim.calls("subscribeaddon")) == [500]  # never resent
    assert await client.addon_details(endpoint_id=endpoint, priority=S) == []


async def test_timeout_after_commit_then_reread_shows_the_change(
    sim: SimControl, make_client: ClientFactory
):
    client = make_client(timeout=0.5, long_timeout=0.5)
    endpoint = await first_free_endpoint(client)
    plan_id = (await client.rate_plans(priority=S))[0].plan_id

    await sim.fault("subscribeAddon", "timeout_after_commit", latency_seconds=1.5, count=1)
    with pytest.raises(SFTOutcomeUnknown):
        await client.subscribe_addon(endpoint, plan_id, priority=P)
    [addon] = await client.addon_details(endpoint_id=endpoint, priority=R)  # the re-read
    assert addon.plan_id == plan_id

    await sim.fault("EndPointLifeCycleChange", "timeout_after_commit", latency_seconds=1.5, count=1)
    with pytest.raises(SFTOutcomeUnknown):
        await client.change_lifecycle(endpoint, "A", priority=P)
    assert (await client.endpoint_profile(endpoint, priority=R)).status == "Active"
    await asyncio.sleep(1.2)  # let the slow answers finish before counting
    assert len(await sim.calls("subscribeaddon")) == 1
    assert len(await sim.calls("endpointlifecyclechange")) == 1


async def test_malformed_fault(sim: SimControl, make_client: ClientFactory):
    client = make_client()
    endpoint = await first_free_endpoint(client)
    plan_id = (await client.rate_plans(priority=S))[0].plan_id
    await sim.fault("fetchSIM", "malformed", count=1)
    rows, _ = await client.fetch_sims(priority=S)  # a read is asked again
    assert rows
    assert statuses(await sim.calls("fetchsim"))[-2:] == [200, 200]
    await sim.fault("fetchSIM", "malformed", count=50)  # persistently malformed
    with pytest.raises(SFTMalformedResponse) as read:
        await client.fetch_sims(priority=S)
    assert read.value.http_status == 200
    await sim.clear_faults()
    await sim.fault("subscribeAddon", "malformed", count=1)
    with pytest.raises(SFTMalformedOutcomeUnknown):
        await client.subscribe_addon(endpoint, plan_id, priority=P)
    assert await client.addon_details(endpoint_id=endpoint, priority=S) == []


async def test_html_fault(sim: SimControl, make_client: ClientFactory):
    client = make_client()
    endpoint = await first_free_endpoint(client)
    await sim.fault("fetchSIM", "html", count=1)  # 502 gateway page: a GET is retried
    rows, _ = await client.fetch_sims(priority=S)
    assert rows
    assert statuses(await sim.calls("fetchsim"))[-2:] == [502, 200]
    await sim.fault("fetchSIM", "html", status=200, count=50)
    with pytest.raises(SFTMalformedResponse):
        await client.fetch_sims(priority=S)
    await sim.clear_faults()
    await sim.fault("EndPointActivation", "html", count=1)
    with pytest.raises(SFTOutcomeUnknown) as post:
        await client.activate_endpoint(endpoint, priority=P)
    assert post.value.http_status == 502
    assert len(await sim.calls("endpointactivation")) == 1

"""The simulator's control client (``sft_simulator.control_client``) against a real
simulator app served in process (ASGI transport, its own SQLite file, no socket). Expected
values come from docs/simulator.md: the seed (first endPointId 50000001, profile
"released", Pre-Active), the controls' answers and their refusals (HTTP 400/404)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette

from travelsim.sft_simulator import SimulatorConfig, create_app
from travelsim.sft_simulator import faults as sim_faults
from travelsim.sft_simulator import store as sim_store
from travelsim.sft_simulator.control_client import (
    FAULT_KINDS,
    PROFILE_STATUSES,
    SimulatorControlClient,
    SimulatorControlError,
)

FIRST_ENDPOINT = "50000001"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Starlette]:
    sim_app = create_app(
        SimulatorConfig(db_path=tmp_path / "sim.db", seed_esims=3, rate_limit_tps=0)
    )
    yield sim_app
    sim_app.state.simulator.store.close()


def test_lists_are_the_simulators_own() -> None:
    assert FAULT_KINDS is sim_faults.FAULT_KINDS
    assert PROFILE_STATUSES is sim_store.PROFILE_STATUSES


async def test_clock_advances_by_hours(app: Starlette) -> None:
    controls = SimulatorControlClient(app)
    before = await controls.clock()
    assert set(before) == {"now", "epoch", "offsetSeconds"}
    after = await controls.advance_clock(2)
    assert after["offsetSeconds"] == before["offsetSeconds"] + 7200
    assert after["epoch"] >= before["epoch"] + 7200
    assert (await controls.clock())["offsetSeconds"] == after["offsetSeconds"]
    with pytest.raises(SimulatorControlError) as refused:
        await controls.advance_clock(-1)  # the clock never goes back
    assert refused.value.status_code == 400 and "never goes back" in refused.value.error


async def test_profile_status_and_state(app: Starlette) -> None:
    controls = SimulatorControlClient(app)
    assert (await controls.state())["esimProfileStatus"] == {"released": 3}
    out = await controls.set_profile_status(FIRST_ENDPOINT, "installed")
    assert out["endPointId"] == FIRST_ENDPOINT
    assert (out["previousStatus"], out["esimProfileStatus"]) == ("released", "installed")
    assert (await controls.state())["esimProfileStatus"] == {"installed": 1, "released": 2}
    with pytest.raises(SimulatorControlError) as bad:
        await controls.set_profile_status(FIRST_ENDPOINT, "lost")
    assert bad.value.status_code == 400
    with pytest.raises(SimulatorControlError) as unknown:
        await controls.set_profile_status("59999999", "installed")
    assert unknown.value.status_code == 404


async def test_consume_is_refused_on_a_pre_active_endpoint(app: Starlette) -> None:
    controls = SimulatorControlClient(app)
    out = await controls.consume(FIRST_ENDPOINT, 1_048_576)
    assert out["accepted"] is False and out["billedBytes"] == 0
    assert out["reason"] == "endpoint is Pre-Active"
    with pytest.raises(SimulatorControlError) as unknown:
        await controls.consume("59999999", 1)
    assert unknown.value.status_code == 404 and "59999999" in unknown.value.error


async def test_faults_inject_list_clear(app: Starlette) -> None:
    controls = SimulatorControlClient(app)
    assert await controls.faults() == []
    fault = await controls.inject_fault("SubscribeAddon", "latency", 2, latency_seconds=0.5)
    assert fault["operation"] == "subscribeaddon" and fault["kind"] == "latency"
    assert (fault["count"], fault["latency_seconds"], fault["fired"]) == (2, 0.5, 0)
    await controls.inject_fault("*", "http500", 1)
    listed = await controls.faults()
    assert [f["id"] for f in listed] == [fault["id"], fault["id"] + 1]
    assert (await controls.state())["faults"] == listed
    with pytest.raises(SimulatorControlError) as bad:
        await controls.inject_fault("*", "meteor", 1)
    assert bad.value.status_code == 400 and "meteor" in bad.value.error
    assert await controls.clear_faults() == 2
    assert await controls.faults() == []
    assert await controls.clear_faults() == 0


async def test_the_controls_app_alone_serves_the_same(app: Starlette) -> None:
    controls = SimulatorControlClient(app.state.simulator.controls_app)
    assert (await controls.advance_clock(1))["offsetSeconds"] == 3600
    # The same simulator behind both apps: the full app sees the moved clock.
    assert (await SimulatorControlClient(app).clock())["offsetSeconds"] == 3600
    with pytest.raises(SimulatorControlError) as unknown:
        await controls.call("GET", "nothing-here")
    assert unknown.value.status_code == 404

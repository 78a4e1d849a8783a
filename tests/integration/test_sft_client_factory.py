"""build_client / get_rate_budget: settings wiring for the in-process simulator and a real URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sft_client_fixtures import SimProcess, sft_sim_process_fixture  # noqa: F401  (fixture)

from travelsim.settings import Settings
from travelsim.sft import LocalRateBudget, Priority, build_client, get_rate_budget
from travelsim.sft.factory import SIMULATOR_BASE_URL, reset_rate_budget


@pytest.fixture(autouse=True)
def fresh_budget() -> Iterator[None]:
    reset_rate_budget()
    yield
    reset_rate_budget()


def test_one_budget_per_process() -> None:
    first = get_rate_budget(Settings(sft_rate_limit_tps=2))
    assert isinstance(first, LocalRateBudget) and first.tps == 2
    assert get_rate_budget(Settings(sft_rate_limit_tps=7)) is first


async def test_in_process_simulator_when_no_url(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, sft_sim_seed_esims=3, sft_sim_rate_limit_tps=0, sft_rate_limit_tps=50
    )
    assert settings.uses_simulator
    async with build_client(settings) as client:
        assert client.base_url == SIMULATOR_BASE_URL
        rows, total = await client.fetch_sims(priority=Priority.PROVISIONING)
        assert total == 3 and len(rows) == 3
        assert client._budget is get_rate_budget(settings)
    assert settings.simulator_db_path.exists()
    async with build_client(settings) as again:  # the same simulator app (and DB) is reused
        assert (await again.fetch_sims(priority=Priority.SYNC))[1] == 3


async def test_real_url_over_a_socket(sft_sim_process: SimProcess) -> None:
    settings = Settings(
        sft_base_url=sft_sim_process.url,
        sft_username="demo",
        sft_password="demo",
        sft_rate_limit_tps=50,
    )
    assert not settings.uses_simulator
    async with build_client(settings) as client:
        assert client.base_url == sft_sim_process.url
        plans = await client.rate_plans(priority=Priority.SYNC)
    assert plans

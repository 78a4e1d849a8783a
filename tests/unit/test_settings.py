from pathlib import Path

import pytest

from travelsim.settings import Settings


def make(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[arg-type]


def test_default_database_is_sqlite_file_under_data_dir(tmp_path: Path) -> None:
    s = make(data_dir=str(tmp_path))
    assert s.sync_database_url == f"sqlite+pysqlite:///{tmp_path}/travelsim.db"
    assert s.async_database_url == f"sqlite+aiosqlite:///{tmp_path}/travelsim.db"
    assert s.is_sqlite


@pytest.mark.parametrize(
    "given",
    [
        "postgres://u:p%40ss@db.example:5433/portal",
        "postgresql://u:p%40ss@db.example:5433/portal",
        "postgresql+psycopg2://u:p%40ss@db.example:5433/portal",
    ],
)
def test_postgres_urls_derived_consistently(given: str) -> None:
    s = make(database_url=given)
    assert s.sync_database_url == "postgresql+psycopg://u:p%40ss@db.example:5433/portal"
    assert s.async_database_url == "postgresql+asyncpg://u:p%40ss@db.example:5433/portal"
    assert not s.is_sqlite


def test_unsupported_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database backend"):
        _ = make(database_url="mysql://root@localhost/x").sync_database_url


def test_simulator_is_default_and_real_url_switches_it_off(tmp_path: Path) -> None:
    s = make(data_dir=str(tmp_path))
    assert s.uses_simulator
    assert s.simulator_db_path == tmp_path / "sft_simulator.db"
    assert not make(sft_base_url="https://sft.bics.com").uses_simulator


def test_rate_limit_default_is_documented_two_tps() -> None:
    assert make().sft_rate_limit_tps == 2.0  # docs/sft-platform.md#rate-limit


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    names = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in example.splitlines()
        if "=" in line and line.lstrip("# ").split("=", 1)[0].strip().isupper()
    }
    expected = {name.upper() for name in Settings.model_fields}
    assert expected <= names, f"missing from .env.example: {sorted(expected - names)}"

"""Fixtures shared by every test layer.

Tests never touch the developer's ``.data/``: ``DATA_DIR`` points at a temporary folder
for the whole run. Real databases only: a SQLite file per test, and PostgreSQL at
127.0.0.1:5432 where it runs (mandatory when ``CI`` is set).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

_RUN_DIR = Path(tempfile.mkdtemp(prefix="travelsim-tests-"))
os.environ["DATA_DIR"] = str(_RUN_DIR)
os.environ.setdefault("APP_ENV", "test")
os.environ.pop("DATABASE_URL", None)
os.environ.pop("SFT_BASE_URL", None)

from travelsim import db  # noqa: E402
from travelsim.settings import Settings, get_settings  # noqa: E402

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def service_missing(what: str) -> None:
    """Skip (on a laptop) or fail (in CI, where the service must be present)."""
    message = f"{what} is not reachable; these tests need it (it is mandatory in CI)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> Settings:
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    db.reset_engines()
    return get_settings()


@pytest.fixture
def sqlite_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings pointing at a fresh SQLite file, migrated to head."""
    settings = _use_database(monkeypatch, f"sqlite:///{tmp_path / 'portal.db'}")
    engine = db.make_sync_engine(settings)
    db.migrate(engine)
    engine.dispose()
    yield settings
    get_settings.cache_clear()
    db.reset_engines()


def create_pg_database() -> str:
    """Create an empty PostgreSQL database; returns its URL. Skips/fails when absent."""
    import psycopg

    name = f"travelsim_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        service_missing("PostgreSQL at 127.0.0.1:5432")
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings pointing at a fresh PostgreSQL database, migrated to head."""
    url = create_pg_database()
    settings = _use_database(monkeypatch, url)
    engine = db.make_sync_engine(settings)
    db.migrate(engine)
    engine.dispose()
    yield settings
    get_settings.cache_clear()
    db.reset_engines()
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest) -> Settings:
    """Runs the test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


@pytest.fixture
async def dispose_engines() -> AsyncIterator[None]:
    yield
    await db.async_engine().dispose()

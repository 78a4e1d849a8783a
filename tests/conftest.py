"""Fixtures shared by every test layer.

Tests never touch the developer's ``.data/``: ``DATA_DIR`` points at a temporary folder
for the whole run, and ``APP_ENV`` is ``test`` (set, never left to the default, which is
production). Real databases only: a SQLite file per test, and PostgreSQL at
127.0.0.1:5432 where it runs (mandatory when ``CI`` is set). The service helpers
(``service_missing``, ``create_pg_database``, ``REDIS_URL``...) are the shared harness's
(``tests/harness.py``), re-exported here for the tests that import them from this module.
A running localstripe for service-level tests: fixture ``localstripe`` (session scope,
``tests/stripe_support.py``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

_RUN_DIR = Path(tempfile.mkdtemp(prefix="travelsim-tests-"))
os.environ["DATA_DIR"] = str(_RUN_DIR)
# Explicit, never inherited: unset APP_ENV means production (docs/architecture.md
# #security-modes-and-start-up-checks); a test wanting another mode sets it itself.
os.environ["APP_ENV"] = "test"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("SFT_BASE_URL", None)

from tests.harness import (  # noqa: E402 - the PostgreSQL/Redis policy lives there
    PG_ADMIN_URL,
    REDIS_URL,
    create_pg_database,
    drop_pg_database,
    service_missing,
)
from tests.stripe_support import RunningLocalStripe, localstripe_session  # noqa: E402
from travelsim import db  # noqa: E402
from travelsim.settings import Settings, get_settings  # noqa: E402

__all__ = ["PG_ADMIN_URL", "REDIS_URL", "create_pg_database", "drop_pg_database", "service_missing"]


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


@pytest.fixture(scope="session")
def localstripe() -> Iterator[RunningLocalStripe]:
    """A localstripe for the whole session (``tests/stripe_support.py``): its own free
    loopback port and temporary store, with ``STRIPE_LOCAL_PORT`` pointing at it so
    ``stripe_config()`` (demo/test settings) talks to it."""
    yield from localstripe_session()

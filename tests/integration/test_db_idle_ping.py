"""PostgreSQL pool: a connection is pinged only after it sat idle, and a dead idle one is
replaced before use (docs/architecture.md#database-sessions). Real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from tests.conftest import PG_ADMIN_URL
from travelsim import db
from travelsim.settings import Settings

pytestmark = pytest.mark.usefixtures("dispose_engines")


def _count_pings(engine: object) -> list[int]:
    """Counts the dialect's pings (``do_ping``) made through ``engine``."""
    pings = [0]
    dialect = engine.dialect  # type: ignore[attr-defined]
    original = dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings[0] += 1
        return bool(original(dbapi_connection))

    dialect.do_ping = counted
    return pings


async def _backend_pid() -> int:
    async with db.session() as s:
        return int((await s.exec(text("SELECT pg_backend_pid()"))).one()[0])  # type: ignore[call-overload]


async def test_busy_connections_are_not_pinged(pg_db: Settings) -> None:
    engine = db.async_engine()
    pings = _count_pings(engine.sync_engine)
    for _ in range(20):  # twenty transactions back to back, as a purchase makes them
        async with db.session() as s:
            await s.exec(text("SELECT 1"))  # type: ignore[call-overload]
            await s.commit()
    assert pings[0] == 0  # pool_pre_ping would have pinged 20 times (60 round trips)


async def test_an_idle_connection_killed_by_the_server_is_replaced(
    pg_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.async_engine()
    pings = _count_pings(engine.sync_engine)
    first = await _backend_pid()
    # The server ends that connection while it sits in the pool (a restart, an idle timeout).
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        killed = admin.execute("SELECT pg_terminate_backend(%s)", (first,)).fetchone()
    assert killed == (True,)
    # Time passes: the pooled connection is now "idle" (no real sleep: the threshold is 0).
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", -1.0)
    second = await _backend_pid()  # must not fail: the ping finds it dead, the pool reconnects
    assert pings[0] >= 1
    assert second != first

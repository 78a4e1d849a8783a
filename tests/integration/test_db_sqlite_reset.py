"""SQLite pool: a returned connection is rolled back only when it is still in a transaction
(``db._sqlite_reset``; docs/architecture.md#database-sessions). Real SQLite file."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from travelsim import db
from travelsim.models import Plan
from travelsim.settings import Settings

pytestmark = pytest.mark.usefixtures("dispose_engines")


def _count_rollbacks(engine: Any) -> list[int]:
    """Counts the ROLLBACKs the dialect sends through ``engine`` (``do_rollback``)."""
    count = [0]
    dialect = engine.dialect
    original = dialect.do_rollback

    def counted(dbapi_connection: object) -> None:
        count[0] += 1
        original(dbapi_connection)

    dialect.do_rollback = counted
    return count


async def test_a_committed_session_returns_its_connection_without_a_rollback(
    sqlite_db: Settings,
) -> None:
    engine = db.async_engine()
    async with db.session() as s:  # the pool's first connection, opened outside the count
        await s.exec(text("SELECT 1"))  # type: ignore[call-overload]
    rollbacks = _count_rollbacks(engine.sync_engine)
    for i in range(10):  # ten transactions back to back, as a purchase makes them
        async with db.session() as s:
            s.add(
                Plan(
                    plan_id=f"p{i}",
                    sft_name=f"Plan {i}",
                    volume_bytes=1,
                    validity_days=1,
                    activated_by="on_usage",
                )
            )
            await s.commit()
    # The pool's own reset would have sent one empty ROLLBACK after each commit.
    assert rollbacks[0] == 0


async def _scratch_rows() -> list[str]:
    async with db.session() as s:
        rows = await s.exec(text("SELECT x FROM scratch ORDER BY x"))  # type: ignore[call-overload]
        return [r[0] for r in rows.all()]


async def test_a_connection_returned_inside_a_transaction_is_rolled_back(
    sqlite_db: Settings,
) -> None:
    engine = db.async_engine()
    async with db.session() as s:
        await s.exec(text("CREATE TABLE scratch (x TEXT)"))  # type: ignore[call-overload]
        await s.commit()
    # A write SQLAlchemy does not know of: straight through the driver, never committed.
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.execute("INSERT INTO scratch (x) VALUES ('ghost')")
        assert raw.driver_connection.in_transaction
    # The pool took the connection back and its reset rolled the write back: nothing of it
    # stayed, and the file is not left locked for the next writer.
    assert await _scratch_rows() == []
    async with db.session() as s:
        await s.exec(text("INSERT INTO scratch (x) VALUES ('after')"))  # type: ignore[call-overload]
        await s.commit()
    assert await _scratch_rows() == ["after"]

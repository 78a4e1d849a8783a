"""The migrations own the portal schema: upgrading to head yields exactly the SQLModel tables."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import travelsim.models  # noqa: F401
from travelsim import db
from travelsim.settings import Settings


def _diff(settings: Settings) -> list[object]:
    engine = db.make_sync_engine(settings)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, SQLModel.metadata))
    finally:
        engine.dispose()


def test_sqlite_head_matches_models(sqlite_db: Settings) -> None:
    assert _diff(sqlite_db) == []


@pytest.mark.postgres
def test_postgres_head_matches_models(pg_db: Settings) -> None:
    assert _diff(pg_db) == []


def test_no_simulator_tables_in_portal_schema(sqlite_db: Settings) -> None:
    engine = db.make_sync_engine(sqlite_db)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert "plan" in tables
    assert not [t for t in tables if t.startswith("sim_")]


def test_downgrade_to_base_and_back(sqlite_db: Settings) -> None:
    from alembic import command

    engine = db.make_sync_engine(sqlite_db)
    with engine.begin() as conn:
        command.downgrade(db.alembic_config(conn), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    db.migrate(engine)
    engine.dispose()
    assert _diff(sqlite_db) == []

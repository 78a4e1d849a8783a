"""Database engines and sessions for the portal (SQLite file by default, or PostgreSQL).

Async code (services, event handlers) uses :func:`session`; Alembic and CLI tools use
:func:`sync_engine`. Both are built from the same settings, so they always point at the
same database (see :mod:`travelsim.settings`).

The one convention for sessions in services (docs/architecture.md#database-sessions):

* A service that only reads or writes the database takes the caller's ``session`` as its first
  argument and never commits unless its docstring says it does (the caller owns the
  transaction, so several steps commit together).
* A service that calls the platform (or another network service) between database writes
  takes ``session_factory: SessionFactory = db.session`` instead and opens a short session per
  step, so no transaction (and no row lock) is held open across a network call.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import PoolResetState
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.settings import Settings, get_settings

#: What services that call the platform take to open their own short sessions (module
#: docstring): :func:`session` itself, or a test's factory over another engine.
SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _prepare_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def make_sync_engine(settings: Settings) -> Engine:
    """A new synchronous engine for ``settings`` (SQLite pragmas applied)."""
    url = settings.sync_database_url
    if settings.is_sqlite:
        _prepare_sqlite_dir(url)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def make_async_engine(settings: Settings) -> AsyncEngine:
    """A new asyncio engine for ``settings`` (SQLite pragmas applied)."""
    url = settings.async_database_url
    if settings.is_sqlite:
        _prepare_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_reset_on_return=None)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "reset", _sqlite_reset)
        return engine
    engine = create_async_engine(url, pool_size=10, max_overflow=20)
    _ping_when_idle(engine.sync_engine)
    return engine


def _sqlite_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """The async SQLite pool's reset on return (``pool_reset_on_return=None`` hands it to
    this event): roll back only a connection still in a transaction. The pool's own reset
    rolls back every returned connection, and each commit returns one, so every transaction
    paid a second, empty ROLLBACK: a hop to aiosqlite's thread each
    (https://docs.sqlalchemy.org/en/20/core/pooling.html#reset-on-return;
    docs/architecture.md#database-sessions). ``in_transaction`` is sqlite3's own flag
    (https://docs.python.org/3/library/sqlite3.html#sqlite3.Connection.in_transaction)."""
    if state.terminate_only or not state.asyncio_safe:
        return  # the pool discards this connection: nothing to reset
    if dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


#: A pooled PostgreSQL connection that sat unused for longer than this is pinged before it
#: is handed out (docs/architecture.md#database-sessions).
PING_AFTER_IDLE_SECONDS = 10.0
_CHECKED_IN_AT = "travelsim_checked_in_at"


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling for connections that sat idle: SQLAlchemy's
    ``pool_pre_ping`` pings on *every* checkout, which for asyncpg is three round trips
    (BEGIN, ``;``, ROLLBACK) per transaction. Here a connection idle for more than
    :data:`PING_AFTER_IDLE_SECONDS` (the ones a database restart or an idle-timeout firewall
    kills) is pinged; a failed ping raises ``DisconnectionError``, so the pool drops it and
    hands out a fresh one (SQLAlchemy's checkout-event recipe,
    https://docs.sqlalchemy.org/en/20/core/pooling.html#disconnect-handling-pessimistic). A
    connection that died within the last seconds fails its first statement instead, and
    SQLAlchemy invalidates the pool (the optimistic half of the same page)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN_AT)
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE_SECONDS:
            return  # a new connection, or one in use moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"idle connection failed its ping: {error}") from error


@lru_cache(maxsize=1)
def sync_engine() -> Engine:
    """The process-wide synchronous engine."""
    return make_sync_engine(get_settings())


@lru_cache(maxsize=1)
def async_engine() -> AsyncEngine:
    """The process-wide asyncio engine."""
    return make_async_engine(get_settings())


@lru_cache(maxsize=1)
def _sessionmaker() -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(async_engine(), class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def session() -> AsyncIterator[AsyncSession]:
    """An async SQLModel session; the caller commits. Rolled back on error."""
    async with _sessionmaker()() as s:
        try:
            yield s
        except BaseException:
            await s.rollback()
            raise


async def ping() -> None:
    """Run ``SELECT 1``; raises the driver's error when the database is unreachable."""
    async with async_engine().connect() as conn:
        await conn.execute(text("SELECT 1"))


def reset_engines() -> None:
    """Forget cached engines (tests switching databases call this after settings change)."""
    sync_engine.cache_clear()
    async_engine.cache_clear()
    _sessionmaker.cache_clear()


def alembic_config(connection: Any | None = None) -> Any:
    """An Alembic ``Config`` for the project's migrations, bound to ``connection`` if given."""
    from alembic.config import Config

    from travelsim.settings import PROJECT_ROOT

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.attributes["configure_logger"] = False
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (Alembic)."""
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)

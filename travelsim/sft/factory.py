"""Wire settings to the SFT client: real platform or in-process simulator, one shared budget.

* :func:`get_rate_budget` returns the process-wide :class:`RateBudget`; every client built in
  the process shares it, so all callers together stay under the account's TPS. With
  ``REDIS_URL`` set (several workers) it is a :class:`~travelsim.sft.ratelimit_redis.
  RedisRateBudget` shared by every process of the account; without Redis, a
  :class:`LocalRateBudget`.
* :func:`build_client` returns an :class:`SFTClient` for the real platform when
  ``SFT_BASE_URL`` is set, else for the built-in simulator served in process through
  ``httpx.ASGITransport`` (docs/architecture.md#the-simulator). The simulator app is created
  once per database path and reused.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from travelsim.sft.client import SFTClient
from travelsim.sft.ratelimit import LocalRateBudget, RateBudget

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from travelsim.settings import Settings

__all__ = [
    "SIMULATOR_BASE_URL",
    "budget_account",
    "build_client",
    "get_rate_budget",
    "reset_rate_budget",
    "simulator_app",
]

#: Base URL used with the in-process simulator (never resolved: the ASGI transport serves it).
SIMULATOR_BASE_URL = "http://sft-simulator.internal"

_lock = threading.Lock()
_budget: RateBudget | None = None
_simulator_apps: dict[Path, ASGIApp] = {}


def get_rate_budget(settings: Settings) -> RateBudget:
    """The process-wide SFT budget at ``settings.sft_rate_limit_tps`` (created on first call;
    later calls return the same object whatever their settings): shared across processes
    through Redis when ``settings.redis_url`` is set, else local to the process."""
    global _budget
    with _lock:
        if _budget is None:
            if settings.redis_url:
                from travelsim.sft.ratelimit_redis import RedisRateBudget

                _budget = RedisRateBudget(
                    settings.redis_url,
                    settings.sft_rate_limit_tps,
                    account=budget_account(settings),
                )
            else:
                _budget = LocalRateBudget(settings.sft_rate_limit_tps)
        return _budget


def budget_account(settings: Settings) -> str:
    """The key naming one SFT account's shared budget: platform, user and target account
    (no secret in it)."""
    platform = settings.sft_base_url or "simulator"
    return f"{platform}|{settings.sft_username}|{settings.sft_target_account_id or '-'}"


def reset_rate_budget(budget: RateBudget | None = None) -> None:
    """Replace (or drop) the process-wide budget: for tests, or to install a shared
    implementation (e.g. Redis) at startup before any client is built."""
    global _budget
    with _lock:
        _budget = budget


def simulator_app(settings: Settings) -> ASGIApp:
    """The in-process simulator's ASGI app for ``settings.simulator_db_path``: created (and its
    SQLite file opened, seeded on first use) on the first call, the same app afterwards. The
    SFT client of :func:`build_client` and the simulator's controls (``routes/simulator.py``,
    :class:`~travelsim.sft_simulator.control_client.SimulatorControlClient`) all use it."""
    from travelsim.sft_simulator import SimulatorConfig, create_app

    db_path = settings.simulator_db_path
    with _lock:
        app = _simulator_apps.get(db_path)
        if app is None:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            app = create_app(
                SimulatorConfig(
                    db_path=db_path,
                    seed_esims=settings.sft_sim_seed_esims,
                    rate_limit_tps=settings.sft_sim_rate_limit_tps,
                    rating_delay_seconds=settings.sft_sim_rating_delay_seconds,
                    shapes=settings.sft_sim_shapes,
                )
            )
            _simulator_apps[db_path] = app
        return app


def build_client(settings: Settings, *, rate_budget: RateBudget | None = None) -> SFTClient:
    """An :class:`SFTClient` configured from ``settings``.

    ``settings.uses_simulator`` (no ``SFT_BASE_URL``): the simulator app, in process, over
    ``httpx.ASGITransport``; else the real base URL. The budget is :func:`get_rate_budget`
    unless one is given. The add-on details path (``SFT_ADDON_DETAILS_PATH``) and the
    platform's time zone (``SFT_PLATFORM_TIMEZONE``, docs/sft-platform.md#conventions) come
    from ``settings``. The caller owns the client (``async with`` or ``aclose()``).
    """
    transport: httpx.AsyncBaseTransport | None = None
    base_url = settings.sft_base_url
    if settings.uses_simulator or not base_url:
        transport = httpx.ASGITransport(app=simulator_app(settings))
        base_url = SIMULATOR_BASE_URL
    return SFTClient(
        base_url,
        settings.sft_username,
        settings.sft_password,
        rate_budget=rate_budget if rate_budget is not None else get_rate_budget(settings),
        transport=transport,
        timeout=settings.sft_timeout_seconds,
        long_timeout=settings.sft_long_timeout_seconds,
        target_account_id=settings.sft_target_account_id,
        addon_details_path=settings.sft_addon_details_path,
        platform_timezone=settings.sft_platform_timezone,
    )

"""Rate limits shared by every worker, on the ``limits`` library (moving window, atomic).

A :class:`Limit` names a rule such as ``"5/15 minutes"`` (``limits``' rate notation);
:func:`hit` counts one event for a key (e.g. ``("signup", "203.0.113.9")``) and answers
whether it is within the rule, in one atomic step of the storage (a Lua script on Redis,
a lock in memory), so parallel requests can never all pass a check made before their
records (docs/architecture.md#rate-limits).

Storage: Redis when ``REDIS_URL`` is set (several workers share the counts), else this
process's memory (one worker, the demo). If Redis fails mid-call, the call is answered from
this process's memory with a warning: the limit still holds per worker, it never fails open.
Storages are kept per event loop (the Redis client is bound to the loop it was made on;
tests run many loops).

The memory storage is ``limits``' synchronous one (:class:`SweptMemoryStorage`), called
directly from the event loop (its calls are dictionary work under a lock, with nothing to
wait for): the asyncio memory
storage sweeps expired windows after every hit with one worker-thread hop per key in
memory, milliseconds of CPU per checkout once a few hundred travelers have windows open
(docs/architecture.md#rate-limits).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from limits import RateLimitItem, parse, storage, strategies
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from travelsim.settings import get_settings

log = logging.getLogger(__name__)

KEY_PREFIX = "travelsim:rl"
"""Prefix of every Redis key the limits write."""


@dataclass(frozen=True)
class Limit:
    """A named rate rule. ``rate`` is ``limits``' notation: ``"5/15 minutes"``,
    ``"10 per hour"``, ``"3/minute;20/day"`` is not accepted (one rule per Limit)."""

    name: str
    rate: str
    _item: RateLimitItem = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_item", parse(self.rate))

    @cached_property
    def window_seconds(self) -> int:
        """Length of the window, in seconds."""
        return int(self._item.get_expiry())

    @property
    def amount(self) -> int:
        """Events allowed per window."""
        return int(self._item.amount)


#: Seconds between two sweeps of expired windows out of memory (the counts never depend on
#: the sweep: a window's events are checked against their own time at each hit).
SWEEP_SECONDS = 60.0


class SweptMemoryStorage(storage.MemoryStorage):
    """``limits``' synchronous ``MemoryStorage`` whose sweep of expired windows runs in the
    caller's thread at most every :data:`SWEEP_SECONDS`, instead of in a new timer thread
    started after every hit (``MemoryStorage.__schedule_expiry``, limits 5.8
    ``limits/storage/memory.py``): a thread start per checkout, and a sweep over every open
    window, for memory that only needs freeing now and then. The sweep also forgets the
    keys of windows it emptied."""

    def __init__(self) -> None:
        super().__init__()
        self._swept_at = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # limits' private hook, overridden
        now = time.monotonic()
        if now - self._swept_at >= SWEEP_SECONDS:
            self._swept_at = now
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
            # It empties an expired window's list but keeps the key: drop those too, or
            # every client address ever seen would stay in memory.
            for key in [key for key, events in self.events.items() if not events]:
                self.events.pop(key, None)


#: A storage of the running loop: Redis (asyncio) or this process's memory (synchronous).
AnyStorage = Storage | storage.MemoryStorage

_storages: dict[asyncio.AbstractEventLoop, tuple[AnyStorage, storage.MemoryStorage]] = {}


def _storage() -> tuple[AnyStorage, storage.MemoryStorage]:
    """(primary, memory fallback) of the running loop."""
    loop = asyncio.get_running_loop()
    found = _storages.get(loop)
    if found is None:
        memory = SweptMemoryStorage()
        url = get_settings().redis_url
        primary: AnyStorage = memory
        if url:
            scheme_url = "async+" + url if not url.startswith("async+") else url
            primary = RedisStorage(
                scheme_url, implementation="redispy", key_prefix=KEY_PREFIX, wrap_exceptions=True
            )
        found = _storages[loop] = (primary, memory)
    return found


async def _ask(where: AnyStorage, method: str, limit: Limit, keys: tuple[str, ...]) -> Any:
    """``method`` of the moving-window limiter on ``where``, for ``limit`` and ``keys``."""
    if isinstance(where, storage.MemoryStorage):
        return getattr(strategies.MovingWindowRateLimiter(where), method)(
            limit._item, limit.name, *keys
        )
    return await getattr(MovingWindowRateLimiter(where), method)(limit._item, limit.name, *keys)


async def _call(method: str, limit: Limit, keys: tuple[str, ...]) -> Any:
    primary, memory = _storage()
    try:
        return await _ask(primary, method, limit, keys)
    except Exception as exc:
        if primary is memory:
            raise
        log.warning("rate limit storage failed (%s): answering from memory", exc)
        return await _ask(memory, method, limit, keys)


async def hit(limit: Limit, *keys: str) -> bool:
    """Count one event for ``keys`` under ``limit``; True when it is within the rule
    (counted), False when the window is full (not counted). Atomic across workers."""
    return bool(await _call("hit", limit, keys))


async def allowed(limit: Limit, *keys: str) -> bool:
    """True when one more event would be within ``limit`` (nothing counted)."""
    return bool(await _call("test", limit, keys))


async def retry_after(limit: Limit, *keys: str) -> float:
    """Seconds until the window of ``keys`` has room again (0 when it has now)."""
    stats = await _call("get_window_stats", limit, keys)
    if stats.remaining > 0:
        return 0.0
    return max(0.0, stats.reset_time - time.time())


async def clear(limit: Limit, *keys: str) -> None:
    """Forget the events of ``keys`` under ``limit`` (e.g. after a successful sign-in)."""
    primary, memory = _storage()
    for where in {id(primary): primary, id(memory): memory}.values():
        try:
            await _ask(where, "clear", limit, keys)
        except Exception as exc:
            log.warning("rate limit clear failed (%s)", exc)


async def reset_all() -> None:
    """Forget every count of the running loop's storages (tests)."""
    primary, memory = _storage()
    memory.reset()
    if isinstance(primary, Storage):
        try:
            await primary.reset()
        except Exception as exc:
            log.warning("rate limit reset failed (%s)", exc)

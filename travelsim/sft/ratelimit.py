"""The account-wide SFT request budget (docs/sft-platform.md#rate-limit).

SFT limits requests per **account** (default 2 TPS, HTTP 429 beyond). Every SFT request of the
process goes through one :class:`RateBudget` so that all callers together stay under it, and so
that when they contend, provisioning (a traveler waiting at checkout) goes first, then on-demand
refreshes, then background sync, which gets what is left.

:class:`RateBudget` is deliberately small so a shared implementation (e.g. Redis, across
workers) can replace :class:`LocalRateBudget` without touching the client.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from travelsim.sft.models import Priority

__all__ = ["LocalRateBudget", "Priority", "RateBudget"]

logger = logging.getLogger(__name__)


@runtime_checkable
class RateBudget(Protocol):
    """A request budget shared by every SFT caller of one account."""

    async def acquire(self, priority: Priority) -> None:
        """Wait for permission to send one request. Waiters are served by ``priority`` (lower
        first), then in arrival order. Cancellation while waiting consumes nothing."""
        ...

    def penalize(self, seconds: float) -> None:
        """The platform answered "rate limited" (HTTP 429 or a "rate limit" failure envelope):
        grant nothing for ``seconds`` from now (back-off).
        Overlapping penalties do not add up; the latest end wins."""
        ...


class LocalRateBudget:
    """In-process token bucket at ``tps`` requests/second with priority-ordered waiters.

    ``burst`` is the bucket size (default 1: grants are spaced at least ``1/tps`` apart, which
    never exceeds ``tps`` in any one-second window, whatever window the platform uses).
    Waiting callers are served strictly by :class:`Priority` then FIFO: a grant goes to the
    best waiter present at the moment a token is available, so a provisioning call that arrives
    while sync calls are queued overtakes them.

    ``clock``/``sleep`` are injectable for deterministic tests (a fake clock whose sleep advances
    it). One instance may be used from one event loop at a time.
    """

    def __init__(
        self,
        tps: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if tps <= 0:
            raise ValueError("tps must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.tps = float(tps)
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._updated = clock()
        self._blocked_until = 0.0
        self._seq = itertools.count()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._dispatcher: asyncio.Task[None] | None = None

    # -- RateBudget --------------------------------------------------------------------------
    async def acquire(self, priority: Priority) -> None:
        loop = asyncio.get_running_loop()
        if not self._waiters and self._try_take():
            return
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiters, (int(priority), next(self._seq), future))
        self._ensure_dispatcher(loop)
        try:
            await future
        except asyncio.CancelledError:
            # A grant that raced with cancellation is returned to the bucket.
            if future.done() and not future.cancelled():
                self._tokens = min(self.burst, self._tokens + 1)
            raise

    def penalize(self, seconds: float) -> None:
        if seconds <= 0:
            return
        now = self._clock()
        self._refill(now)
        self._blocked_until = max(self._blocked_until, now + seconds)
        # No burst after the pause; tokens do not accrue while paused (see _refill).
        self._tokens = min(self._tokens, 1.0)
        logger.info("sft rate budget paused", extra={"pause_seconds": round(seconds, 3)})

    # -- internals -----------------------------------------------------------------------------
    @property
    def waiting(self) -> int:
        """Callers currently queued (for metrics and tests)."""
        return sum(1 for *_, f in self._waiters if not f.done())

    def _refill(self, now: float) -> None:
        start = max(self._updated, self._blocked_until) if now > self._blocked_until else now
        if now > start:
            self._tokens = min(self.burst, self._tokens + (now - start) * self.tps)
        self._updated = now

    def _try_take(self) -> bool:
        now = self._clock()
        self._refill(now)
        if now >= self._blocked_until and self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _ensure_dispatcher(self, loop: asyncio.AbstractEventLoop) -> None:
        task = self._dispatcher
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        # First use, or the previous loop is gone (e.g. per-test loops): drop stale waiters.
        self._waiters = [w for w in self._waiters if w[2].get_loop() is loop]
        heapq.heapify(self._waiters)
        self._dispatcher = loop.create_task(self._dispatch(), name="sft-rate-budget")

    def _pop_live_waiter(self) -> asyncio.Future[None] | None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                return future
        return None

    async def _dispatch(self) -> None:
        while True:
            # Drop cancelled waiters at the head so they do not keep the dispatcher alive.
            while self._waiters and self._waiters[0][2].done():
                heapq.heappop(self._waiters)
            if not self._waiters:
                return
            now = self._clock()
            self._refill(now)
            if now >= self._blocked_until and self._tokens >= 1.0:
                future = self._pop_live_waiter()
                if future is not None:
                    self._tokens -= 1.0
                    future.set_result(None)
                    # Let the granted caller (and new arrivals) run before the next decision.
                    await asyncio.sleep(0)
                continue
            if now < self._blocked_until:
                delay = self._blocked_until - now
            else:
                delay = (1.0 - self._tokens) / self.tps
            await self._sleep(max(delay, 0.0))

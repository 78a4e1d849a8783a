"""The SFT request budget shared by every process of the portal, through Redis.

SFT limits requests per **account** (docs/sft-platform.md#rate-limit: 2 TPS, HTTP 429
beyond), not per process. With more than one backend worker, or the scheduler in its own
process, a :class:`~travelsim.sft.ratelimit.LocalRateBudget` per process would let them
together exceed it. :class:`RedisRateBudget` implements the same
:class:`~travelsim.sft.ratelimit.RateBudget` protocol with the bucket in Redis, so every
process that names the same account shares one budget.

How it works (all decisions are made by one Lua script, atomically, on Redis' clock):

* The bucket is a hash ``{tokens, updated, blocked_until}`` refilled at ``tps`` up to
  ``burst`` (default 1: grants at least ``1/tps`` apart, so no one-second window of any
  alignment ever holds more than ``tps`` grants). Times come from Redis ``TIME``, so the
  processes' clocks do not matter.
* Waiters queue in a sorted set scored ``priority * 10**12 + arrival number`` (arrival
  numbers from ``INCR``): lower priority value first, then first come first served, across
  all processes. Only the head of the queue may take a token. The head sleeps exactly until
  the next token; the others poll every ``poll_interval`` seconds (a newcomer of a better
  priority becomes the head at once, as with the local budget).
* Every waiter refreshes a heartbeat on each poll; a waiter whose process died (no
  heartbeat for ``waiter_ttl`` seconds) is dropped from the head of the queue, so a crash
  never blocks the others. Sleeps are capped at half that TTL.
* :meth:`RedisRateBudget.penalize` (an HTTP 429) moves ``blocked_until`` forward for every
  process (the latest end wins) and drops any accumulated burst. It is a synchronous method
  in the protocol, so it uses a short synchronous Redis call (about a millisecond on a local
  network; 429s are rare by construction).

Cancellation while waiting removes the waiter and consumes nothing, except for a grant that
raced with the cancellation, which is lost (never an extra request: the error is on the safe
side). If Redis is unreachable, :meth:`acquire` raises ``redis.exceptions.ConnectionError``;
the caller's request fails instead of silently exceeding the account's budget.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import redis
import redis.asyncio as aioredis

from travelsim.sft.models import Priority

__all__ = ["RedisRateBudget"]

logger = logging.getLogger(__name__)

#: Spacing of priorities in the waiter queue's scores (arrival numbers stay below it).
_PRIORITY_SPACING = 10**12

# KEYS: 1 bucket hash, 2 waiter zset, 3 heartbeat hash
# ARGV: 1 tps, 2 burst, 3 waiter id, 4 score, 5 heartbeat ttl (s), 6 key ttl (ms)
# Returns: "G<redis time>" granted; "<seconds>" the head's wait for the next token or the
# pause; "-1" not the head of the queue (poll again).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tps = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local me = ARGV[3]
local ttl = tonumber(ARGV[5])
redis.call('ZADD', KEYS[2], 'NX', tonumber(ARGV[4]), me)
redis.call('HSET', KEYS[3], me, tostring(now + ttl))
while true do
  local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if head == nil then break end
  local beat = tonumber(redis.call('HGET', KEYS[3], head) or '0')
  if beat >= now then break end
  redis.call('ZREM', KEYS[2], head)
  redis.call('HDEL', KEYS[3], head)
end
local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
local b = redis.call('HMGET', KEYS[1], 'tokens', 'updated', 'blocked_until')
local tokens = tonumber(b[1]) or burst
local updated = tonumber(b[2]) or now
local blocked = tonumber(b[3]) or 0
if now > blocked then
  local start = math.max(updated, blocked)
  if now > start then tokens = math.min(burst, tokens + (now - start) * tps) end
end
local result
if now < blocked then
  if head == me then result = tostring(blocked - now) else result = '-1' end
elseif head ~= me then
  result = '-1'
elseif tokens >= 1 then
  tokens = tokens - 1
  redis.call('ZREM', KEYS[2], me)
  redis.call('HDEL', KEYS[3], me)
  result = 'G' .. string.format('%.6f', now)
else
  result = tostring((1 - tokens) / tps)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[6]))
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[6]))
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[6]))
return result
"""

# KEYS: 1 bucket hash. ARGV: 1 seconds, 2 tps, 3 burst, 4 key ttl (ms)
_PENALIZE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tps = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'updated', 'blocked_until')
local tokens = tonumber(b[1]) or burst
local updated = tonumber(b[2]) or now
local blocked = tonumber(b[3]) or 0
if now > blocked then
  local start = math.max(updated, blocked)
  if now > start then tokens = math.min(burst, tokens + (now - start) * tps) end
end
blocked = math.max(blocked, now + tonumber(ARGV[1]))
tokens = math.min(tokens, 1)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now),
  'blocked_until', tostring(blocked))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return tostring(blocked - now)
"""


class RedisRateBudget:
    """A :class:`~travelsim.sft.ratelimit.RateBudget` at ``tps`` requests/second shared by
    every process using the same Redis and ``account`` key (module docstring).

    Args:
        url: Redis URL, e.g. ``redis://127.0.0.1:6379/0``.
        tps: the account's budget (requests per second, > 0). Every process sharing the key
            must use the same value.
        account: names the SFT account (e.g. base URL + user name); processes with the same
            ``account`` and ``namespace`` share one budget.
        burst: bucket size (>= 1; default 1).
        poll_interval: seconds between polls of a waiter that is not the head of the queue.
        waiter_ttl: seconds without a poll after which a waiter is considered dead.
        namespace: Redis key prefix.
    """

    def __init__(
        self,
        url: str,
        tps: float,
        *,
        account: str = "default",
        burst: float = 1.0,
        poll_interval: float = 0.01,
        waiter_ttl: float = 10.0,
        namespace: str = "travelsim:sft-budget",
    ) -> None:
        if tps <= 0:
            raise ValueError("tps must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        if poll_interval <= 0 or waiter_ttl <= 2 * poll_interval:
            raise ValueError("need poll_interval > 0 and waiter_ttl > 2 * poll_interval")
        self.url = url
        self.tps = float(tps)
        self.burst = float(burst)
        self.poll_interval = float(poll_interval)
        self.waiter_ttl = float(waiter_ttl)
        base = f"{namespace}:{account}"
        self._bucket = f"{base}:bucket"
        self._queue = f"{base}:waiters"
        self._beats = f"{base}:heartbeats"
        self._arrivals = f"{base}:arrivals"
        # Keys vanish an hour after the last use (nothing to clean up by hand).
        self._key_ttl_ms = 3_600_000
        self._async: dict[int, aioredis.Redis] = {}
        self._sync: redis.Redis | None = None
        #: Redis clock (epoch seconds) of this process's latest grant (metrics and tests).
        self.last_grant_at: float | None = None

    # -- connections (one async client per event loop) ----------------------------------------
    def _aclient(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        client = self._async.get(id(loop))
        if client is None:
            client = aioredis.Redis.from_url(self.url, decode_responses=True)
            self._async = {id(loop): client}  # a previous loop's client is unusable anyway
        return client

    def _sclient(self) -> redis.Redis:
        if self._sync is None:
            self._sync = redis.Redis.from_url(self.url, decode_responses=True, socket_timeout=2)
        return self._sync

    async def aclose(self) -> None:
        """Close this process's connections (the shared budget itself stays in Redis)."""
        for client in self._async.values():
            await client.aclose()
        self._async = {}
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    # -- RateBudget ------------------------------------------------------------------------------
    async def acquire(self, priority: Priority) -> None:
        """Wait for permission to send one request (priority, then arrival order, across
        every process). Raises ``redis.exceptions.RedisError`` when Redis fails."""
        client = self._aclient()
        arrival = int(await client.incr(self._arrivals)) % _PRIORITY_SPACING
        score = int(priority) * _PRIORITY_SPACING + arrival
        me = uuid.uuid4().hex
        granted = False
        try:
            while True:
                answer: Any = await client.eval(  # type: ignore[misc]
                    _ACQUIRE,
                    3,
                    self._bucket,
                    self._queue,
                    self._beats,
                    repr(self.tps),
                    repr(self.burst),
                    me,
                    str(score),
                    repr(self.waiter_ttl),
                    str(self._key_ttl_ms),
                )
                if answer.startswith("G"):
                    granted = True
                    self.last_grant_at = float(answer[1:])
                    return
                wait = float(answer)
                delay = self.poll_interval if wait < 0 else wait
                await asyncio.sleep(min(delay, self.waiter_ttl / 2))
        finally:
            if not granted:
                await self._leave(client, me)

    async def _leave(self, client: aioredis.Redis, me: str) -> None:
        try:
            await asyncio.shield(self._remove(client, me))
        except (redis.RedisError, asyncio.CancelledError, OSError):
            # The heartbeat lapses and the waiter is dropped anyway.
            logger.debug("sft budget: could not remove a waiter")

    async def _remove(self, client: aioredis.Redis, me: str) -> None:
        async with client.pipeline(transaction=True) as pipe:
            pipe.zrem(self._queue, me)
            pipe.hdel(self._beats, me)
            await pipe.execute()

    def penalize(self, seconds: float) -> None:
        """The platform answered 429: no process gets a grant for ``seconds`` from now
        (the latest end wins). Logs and swallows Redis errors: acquire will raise them."""
        if seconds <= 0:
            return
        try:
            self._sclient().eval(
                _PENALIZE,
                1,
                self._bucket,
                repr(float(seconds)),
                repr(self.tps),
                repr(self.burst),
                str(self._key_ttl_ms),
            )
        except redis.RedisError as exc:
            logger.warning("sft budget: penalty not stored", extra={"error": type(exc).__name__})
            return
        logger.info("sft rate budget paused", extra={"pause_seconds": round(seconds, 3)})

    async def reset(self) -> None:
        """Delete this account's budget state (tests and benchmarks)."""
        await self._aclient().delete(self._bucket, self._queue, self._beats, self._arrivals)

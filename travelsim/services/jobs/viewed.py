"""The "being viewed" marks: which eSIMs travelers have open right now, so the scheduled
usage sync reads them first (docs/business-rules.md#usage-sync). No Reflex.

A page calls :func:`mark_viewed` on load and while it stays open; a mark lasts
``SYNC_VIEWED_SECONDS``. Marks live in this process (a dict of monotonic expiry times) and,
with ``REDIS_URL`` set, also in the Redis sorted set :data:`VIEWED_KEY` (score: the mark's
expiry, epoch seconds) so the scheduler's worker sees what every worker's travelers view.
Redis errors are logged, never raised: without Redis each process sees its own marks only.

The marks are bounded: pages mark only eSIMs the signed-in traveler owns (after the ownership
check, :mod:`travelsim.state.esim`), and at most :data:`MAX_VIEWED` eSIMs carry a live mark at
once, in this process and in Redis; beyond that a new mark is dropped (logged) until older
ones expire, so no client can grow the store or push every eSIM to the front of the sync.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from travelsim.settings import get_settings

__all__ = ["MAX_VIEWED", "VIEWED_KEY", "clear_viewed", "mark_viewed", "viewed_esims"]

log = logging.getLogger(__name__)

_viewed: dict[int, float] = {}
VIEWED_KEY = "travelsim:viewed-esims"
"""Redis sorted set (with ``REDIS_URL``): member eSIM id, score the mark's expiry (epoch s)."""
_viewed_redis: tuple[int, Any] | None = None  # (pid, client): one client per process
MAX_VIEWED = 2000
"""Most eSIMs marked at once (this process, and the Redis set): far above the eSIMs open at
one time by real travelers, small enough that the sync's first slice stays bounded."""


#: One atomic step on Redis: a new member is added only while fewer than ``MAX_VIEWED``
#: unexpired marks exist (expired ones are dropped first); an existing mark is renewed.
#: KEYS[1] the set; ARGV: member, expiry (epoch s), now (epoch s), cap. Returns 1 if marked.
_MARK_SCRIPT = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
end
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
return 1
"""


def _viewed_client() -> Any:
    """This process's Redis client for viewed marks, or None without ``REDIS_URL``."""
    global _viewed_redis
    url = get_settings().redis_url
    if not url:
        return None
    if _viewed_redis is None or _viewed_redis[0] != os.getpid():
        import redis

        _viewed_redis = (
            os.getpid(),
            redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1),
        )
    return _viewed_redis[1]


def mark_viewed(esim_id: int, *, seconds: float | None = None) -> None:
    """Note that a traveler is looking at ``esim_id`` (call from page load and while the page
    stays open): the usage sync puts it first for ``seconds`` (default
    ``SYNC_VIEWED_SECONDS``). In memory, and with ``REDIS_URL`` also in Redis
    (:data:`VIEWED_KEY`) so the scheduler's worker sees what every worker's travelers view.
    Safe to call often; a Redis error is logged, never raised."""
    ttl = get_settings().sync_viewed_seconds if seconds is None else seconds
    now = time.monotonic()
    previous = _viewed.get(esim_id, 0.0)
    if esim_id not in _viewed and len(_viewed) >= MAX_VIEWED:
        _drop_expired(now)
        if len(_viewed) >= MAX_VIEWED:
            log.warning("viewed mark of eSIM %s dropped: %s marks already", esim_id, MAX_VIEWED)
            return
    _viewed[esim_id] = max(previous, now + ttl)
    client = _viewed_client()
    # Open pages call this on every re-read: the shared mark is renewed only once half of
    # its lifetime has passed, not on each call (a blocking round trip on the event loop).
    if client is None or previous - now > ttl / 2:
        return
    import redis

    try:
        wall = time.time()
        added = client.eval(_MARK_SCRIPT, 1, VIEWED_KEY, str(esim_id), wall + ttl, wall, MAX_VIEWED)
        if not added:
            log.warning(
                "shared viewed mark of eSIM %s dropped: %s marks already", esim_id, MAX_VIEWED
            )
    except redis.RedisError as exc:
        log.warning("viewed mark not shared (Redis): %s", exc)


def _drop_expired(now: float) -> None:
    for esim_id, until in list(_viewed.items()):
        if until <= now:
            _viewed.pop(esim_id, None)


def viewed_esims() -> set[int]:
    """The eSIMs marked viewed whose mark has not expired (expired marks are dropped), in
    this process and, with ``REDIS_URL``, in every process sharing that Redis."""
    _drop_expired(time.monotonic())
    seen = set(_viewed)
    client = _viewed_client()
    if client is not None:
        import redis

        try:
            wall = time.time()
            client.zremrangebyscore(VIEWED_KEY, "-inf", wall)
            seen |= {int(m) for m in client.zrangebyscore(VIEWED_KEY, wall, "+inf")}
        except redis.RedisError as exc:
            log.warning("viewed marks of other workers unavailable (Redis): %s", exc)
    return seen


def clear_viewed() -> None:
    """Forget every viewed mark (tests)."""
    _viewed.clear()
    client = _viewed_client()
    if client is not None:
        client.delete(VIEWED_KEY)

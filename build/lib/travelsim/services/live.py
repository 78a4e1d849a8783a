"""Change notifications for open pages ("figures of eSIM N changed"), across workers.

Writers (a traveler's refresh, the scheduled sync, platform callbacks, staff actions) call
:func:`notify` after committing; page watchers :func:`wait` on it with a timeout and re-read
the database either way. No data travels through here: the database stays the source, and a
lost notification only delays a page until its next poll.

With one process (no ``REDIS_URL``) the notification is an in-process :class:`asyncio.Event`.
With ``REDIS_URL`` set (several backend workers, or the scheduler as its own process),
:func:`notify` also publishes the eSIM ids on the Redis channel :data:`CHANNEL`
(``{"origin": <process id>, "esims": [1, 2]}``), and every process that has a watcher keeps
one subscriber task per event loop that wakes its local watchers. If Redis is unreachable
the publish is dropped with a warning and the subscriber retries every few seconds; the
pages' poll still picks the change up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

from travelsim.settings import get_settings

log = logging.getLogger(__name__)

CHANNEL = "travelsim:live:esims"
"""Redis pub/sub channel carrying ``{"origin": str, "esims": [int, ...]}`` messages."""

RETRY_SECONDS = 3.0

_origin: tuple[int, str] | None = None
_events: dict[int, set[asyncio.Event]] = defaultdict(set)
# Per event loop: the subscriber task and the publishing client (tests run many loops).
_subscribers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
_publishers: dict[asyncio.AbstractEventLoop, Any] = {}
_pending: set[asyncio.Task[None]] = set()


def _process_id() -> str:
    """A random id of this process, made anew after a fork (Granian forks its workers from a
    parent that imported the app, so a module-level id would be shared by all of them)."""
    global _origin
    pid = os.getpid()
    if _origin is None or _origin[0] != pid:
        _origin = (pid, uuid.uuid4().hex)
    return _origin[1]


def _wake(esim_ids: list[int]) -> None:
    for esim_id in esim_ids:
        for event in list(_events.get(esim_id, ())):
            event.set()


def notify(*esim_ids: int) -> None:
    """Wake every watcher of these eSIMs, in this process at once and, with ``REDIS_URL``,
    in every other process through Redis (safe to call with no watcher; never raises)."""
    ids = [int(i) for i in esim_ids]
    if not ids:
        return
    _wake(ids)
    url = get_settings().redis_url
    if not url:
        return
    message = json.dumps({"origin": _process_id(), "esims": ids})
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _publish_sync(url, message)
        return
    task = loop.create_task(_publish(url, message))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def _publish_sync(url: str, message: str) -> None:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.publish(CHANNEL, message)
        finally:
            client.close()
    except redis.RedisError as exc:
        log.warning("live notification not published (Redis): %s", exc)


async def _publish(url: str, message: str) -> None:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    loop = asyncio.get_running_loop()
    client = _publishers.get(loop)
    if client is None:
        client = _publishers[loop] = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2
        )
    try:
        await client.publish(CHANNEL, message)
    except (RedisError, OSError) as exc:
        log.warning("live notification not published (Redis): %s", exc)


async def _subscribe(url: str) -> None:
    """Relay notifications of other processes to this loop's watchers, until cancelled."""
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    while True:
        client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(CHANNEL)
            async for message in pubsub.listen():
                try:
                    body = json.loads(message["data"])
                    if body.get("origin") != _process_id():
                        _wake([int(i) for i in body.get("esims", [])])
                except (ValueError, TypeError, KeyError, AttributeError):
                    log.warning("ignored a malformed live notification")
        except (RedisError, OSError) as exc:
            log.warning("live notifications from other workers paused (Redis): %s", exc)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
                await client.aclose()
        await asyncio.sleep(RETRY_SECONDS)


def _ensure_subscriber() -> None:
    url = get_settings().redis_url
    if not url:
        return
    loop = asyncio.get_running_loop()
    task = _subscribers.get(loop)
    if task is None or task.done():
        for old in [lp for lp in _subscribers if lp.is_closed()]:
            _subscribers.pop(old, None)
            _publishers.pop(old, None)
        _subscribers[loop] = loop.create_task(_subscribe(url), name="live-subscriber")


class Watch:
    """A standing subscription to one eSIM's notifications (from :func:`watching`).

    A notification that arrives while the owner is busy (re-reading the database) is kept
    and makes the next :meth:`wait` return at once, so no change is missed between waits.
    """

    def __init__(self, esim_id: int) -> None:
        self.esim_id = esim_id
        self.event = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """Until a notification (possibly one already pending) or ``seconds`` pass; True
        when notified. The pending flag is cleared on return."""
        try:
            await asyncio.wait_for(self.event.wait(), seconds)
            return True
        except TimeoutError:
            return False
        finally:
            self.event.clear()


@contextlib.contextmanager
def watching(esim_id: int) -> Iterator[Watch]:
    """Subscribe to ``esim_id``'s notifications (in any process sharing ``REDIS_URL``) for
    the duration of the ``with`` block; must be entered on a running event loop."""
    _ensure_subscriber()
    w = Watch(esim_id)
    _events[esim_id].add(w.event)
    try:
        yield w
    finally:
        _events[esim_id].discard(w.event)
        if not _events[esim_id]:
            _events.pop(esim_id, None)


async def wait(esim_id: int, seconds: float) -> bool:
    """Wait until :func:`notify` is called for ``esim_id`` (in any process sharing
    ``REDIS_URL``) or ``seconds`` pass. Returns True when notified. (A loop that re-reads
    between waits should hold a :func:`watching` subscription instead, so as not to miss a
    notification sent while it reads.)"""
    with watching(esim_id) as w:
        return await w.wait(seconds)


@contextlib.asynccontextmanager
async def live_lifespan() -> AsyncIterator[None]:
    """Reflex lifespan task: closes this worker's subscriber and Redis clients at shutdown."""
    try:
        yield
    finally:
        await stop()


async def stop() -> None:
    """Cancel this loop's subscriber and close its Redis clients (shutdown and tests)."""
    loop = asyncio.get_running_loop()
    task = _subscribers.pop(loop, None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    client = _publishers.pop(loop, None)
    if client is not None:
        with contextlib.suppress(Exception):
            await client.aclose()

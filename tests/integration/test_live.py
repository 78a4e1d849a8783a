"""What workers share through Redis (docs/architecture.md#several-workers): live change
notifications (``travelsim.services.live``), in one process and across processes, and the
usage sync's "being viewed" marks (``jobs.viewed.mark_viewed``).

The other process is a real one (``python -c``), publishing from plain code (no event loop,
as the CLI does) and from inside an event loop (as the scheduler and the app do).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from tests.conftest import REDIS_URL, service_missing
from tests.load.support import ROOT
from travelsim.services import live
from travelsim.settings import get_settings


def _other_process(code: str, *, redis_url: str) -> None:
    env = dict(os.environ, REDIS_URL=redis_url)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def no_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
async def with_redis(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        service_missing(f"Redis at {REDIS_URL}")
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    get_settings.cache_clear()
    yield REDIS_URL
    await live.stop()
    get_settings.cache_clear()


def _esim_id() -> int:
    # Far from any real row and from other tests sharing the Redis channel.
    return random.randint(10**9, 2 * 10**9)


async def _subscribed() -> None:
    """Wait until this loop's subscriber is listening on the channel."""
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        for _ in range(100):
            counts = await client.pubsub_numsub(live.CHANNEL)
            if counts and counts[0][1] > 0:
                return
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
    raise AssertionError("the live subscriber never subscribed")


async def test_in_process_notify_wakes_only_the_watchers_of_that_esim(no_redis: None) -> None:
    a, b = _esim_id(), _esim_id()
    waiter_a = asyncio.create_task(live.wait(a, 5))
    waiter_b = asyncio.create_task(live.wait(b, 0.3))
    await asyncio.sleep(0.05)
    live.notify(a)
    assert await waiter_a is True
    assert await waiter_b is False  # timed out: nobody notified b


async def test_notify_from_plain_code_in_another_process_wakes_a_watcher_here(
    with_redis: str,
) -> None:
    esim_id = _esim_id()
    waiter = asyncio.create_task(live.wait(esim_id, 10))
    await _subscribed()
    await asyncio.to_thread(
        _other_process,
        f"from travelsim.services import live; live.notify({esim_id})",
        redis_url=with_redis,
    )
    assert await waiter is True


async def test_notify_inside_an_event_loop_in_another_process_wakes_a_watcher_here(
    with_redis: str,
) -> None:
    esim_id = _esim_id()
    other = _esim_id()
    waiter = asyncio.create_task(live.wait(esim_id, 10))
    bystander = asyncio.create_task(live.wait(other, 1.5))
    await _subscribed()
    code = (
        "import asyncio\n"
        "from travelsim.services import live\n"
        "async def main():\n"
        f"    live.notify({esim_id})\n"
        "    await asyncio.sleep(0.5)\n"  # the publish task runs on this loop
        "    await live.stop()\n"
        "asyncio.run(main())\n"
    )
    await asyncio.to_thread(_other_process, code, redis_url=with_redis)
    assert await waiter is True
    assert await bystander is False


async def test_malformed_messages_are_ignored_and_the_subscriber_keeps_going(
    with_redis: str,
) -> None:
    esim_id = _esim_id()
    waiter = asyncio.create_task(live.wait(esim_id, 10))
    await _subscribed()
    client = redis.asyncio.Redis.from_url(with_redis)
    try:
        await client.publish(live.CHANNEL, b"not json")
        await client.publish(live.CHANNEL, json.dumps({"origin": "x", "esims": ["y"]}))
        await client.publish(live.CHANNEL, json.dumps({"origin": "x", "esims": [esim_id]}))
    finally:
        await client.aclose()
    assert await waiter is True


async def test_unreachable_redis_never_breaks_a_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    get_settings.cache_clear()
    try:
        esim_id = _esim_id()
        waiter = asyncio.create_task(live.wait(esim_id, 5))
        await asyncio.sleep(0.05)
        live.notify(esim_id)  # the local watcher still wakes at once
        assert await waiter is True
        await asyncio.to_thread(live.notify, esim_id)  # the no-loop path: logged, not raised
        await asyncio.sleep(0.1)
    finally:
        await live.stop()
        get_settings.cache_clear()


def _child_process_id(queue: multiprocessing.Queue[str]) -> None:
    queue.put(live._process_id())


def test_forked_workers_get_their_own_origin_id() -> None:
    """Granian forks its workers from a parent that imported the app: each worker must still
    tell its own notifications from the others' (else a worker drops its peers' messages)."""
    parent = live._process_id()
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = ctx.Queue()
    child = ctx.Process(target=_child_process_id, args=(queue,))
    child.start()
    child.join(10)
    assert child.exitcode == 0
    assert queue.get(timeout=5) != parent
    assert live._process_id() == parent  # stable within a process


async def test_viewed_marks_of_another_worker_reach_the_scheduler(with_redis: str) -> None:
    from travelsim.services.jobs import viewed

    esim_id, expired = _esim_id(), _esim_id()
    code = (
        "from travelsim.services.jobs import viewed\n"
        f"viewed.mark_viewed({esim_id})\n"
        f"viewed.mark_viewed({expired}, seconds=0.01)\n"
    )
    await asyncio.to_thread(_other_process, code, redis_url=with_redis)
    await asyncio.sleep(0.05)
    seen = viewed.viewed_esims()
    assert esim_id in seen and expired not in seen
    viewed.clear_viewed()
    assert esim_id not in viewed.viewed_esims()

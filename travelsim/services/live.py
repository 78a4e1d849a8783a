"""In-process change notifications for open pages ("figures of eSIM N changed").

Writers (a traveler's refresh, the scheduled sync, platform callbacks) call
:func:`notify` after committing; page watchers :func:`wait` on it with a timeout and
re-read the database either way, so a change written by another process is still picked
up within the timeout. No data travels through here: the database stays the source.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

_events: dict[int, set[asyncio.Event]] = defaultdict(set)


def notify(*esim_ids: int) -> None:
    """Wake every watcher of these eSIMs (safe to call with no watcher)."""
    for esim_id in esim_ids:
        for event in list(_events.get(esim_id, ())):
            event.set()


async def wait(esim_id: int, seconds: float) -> bool:
    """Wait until :func:`notify` is called for ``esim_id`` or ``seconds`` pass.
    Returns True when notified."""
    event = asyncio.Event()
    _events[esim_id].add(event)
    try:
        await asyncio.wait_for(event.wait(), seconds)
        return True
    except TimeoutError:
        return False
    finally:
        _events[esim_id].discard(event)
        if not _events[esim_id]:
            _events.pop(esim_id, None)

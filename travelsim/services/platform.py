"""The process-wide SFT client and the background provisioning runner.

One :class:`~travelsim.sft.client.SFTClient` per process (so the access token and the rate
budget are shared by every caller in the process), built lazily from the settings.
Provisioning of an order runs as an ``asyncio`` task owned by the process, not by a
browser tab: closing the tab does not stop it, and :func:`ensure_provisioning` never
starts a second run of the same order in this process. The payment service calls it once
the order is committed (``checkout_payment``); the recovery job resumes what a stopped
process left (``jobs.runs.run_recovery``).
"""

from __future__ import annotations

import asyncio
import logging

from travelsim.models import OrderStatus
from travelsim.settings import get_settings
from travelsim.sft.client import SFTClient

log = logging.getLogger(__name__)

_client: SFTClient | None = None
_client_loop: asyncio.AbstractEventLoop | None = None
_tasks: dict[str, asyncio.Task[object]] = {}


def sft_client() -> SFTClient:
    """The process's client (rebuilt if the running event loop changed, as in tests)."""
    global _client, _client_loop
    loop = asyncio.get_running_loop()
    if _client is None or _client_loop is not loop:
        from travelsim.sft.factory import build_client

        _client = build_client(get_settings())
        _client_loop = loop
    return _client


def ensure_provisioning(order_id: str) -> bool:
    """Start provisioning ``order_id`` in the background unless it already runs here.
    Returns True when a new run was started. Failures are logged and recorded on the
    order by the provisioning service itself."""
    task = _tasks.get(order_id)
    if task is not None and not task.done():
        return False
    from travelsim.services import provisioning

    async def run() -> object:
        try:
            order = await provisioning.run_order(order_id, client=sft_client())
            if order.status == OrderStatus.DELIVERED:
                await _first_figures(order.esim_id)
            return order
        except Exception:
            log.exception("provisioning run failed for order %s", order_id)
            return None
        finally:
            _tasks.pop(order_id, None)

    _tasks[order_id] = asyncio.get_running_loop().create_task(run())
    return True


async def _first_figures(esim_id: int) -> None:
    """Read the new add-on's figures right after delivery so the eSIM page shows them
    (provisioning priority: the traveler is waiting for it)."""
    from travelsim.services import live, usage_sync
    from travelsim.sft.ratelimit import Priority

    try:
        await usage_sync.sync_esims(sft_client(), [esim_id], priority=Priority.PROVISIONING)
    except Exception:
        log.warning("first usage sync failed for eSIM %s", esim_id, exc_info=True)
        return
    live.notify(esim_id)

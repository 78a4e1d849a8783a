"""An async client of the simulator's operator controls (``/_sim/...``).

The public way for a host application to drive a simulator it embeds (or one running on its
own port): read its clock, faults and state, consume data on an endpoint, set an eSIM profile
status, advance the clock, inject and clear faults. Each method is one control request; the
controls themselves are listed in ``docs/simulator.md#controls-_sim-no-auth-no-rate-limit``.

In process, give it the simulator's ASGI app (``create_app(...)``, or its ``controls_app``);
the requests then go through ``httpx.ASGITransport`` and no socket is opened::

    controls = SimulatorControlClient(app)
    await controls.advance_clock(hours=24)

For a standalone simulator give ``base_url`` (e.g. ``http://127.0.0.1:8040``) instead.

:data:`PROFILE_STATUSES` and :data:`FAULT_KINDS` are the simulator's own lists (what the
``profile-status`` and ``faults`` controls accept), re-exported here for a host's forms.
"""

from __future__ import annotations

import json
from typing import Any, cast

import httpx
from starlette.types import ASGIApp

from .faults import FAULT_KINDS
from .store import PROFILE_STATUSES

__all__ = [
    "FAULT_KINDS",
    "IN_PROCESS_BASE_URL",
    "PROFILE_STATUSES",
    "SimulatorControlClient",
    "SimulatorControlError",
]

#: Base URL of an in-process simulator (never resolved: the ASGI transport serves it).
IN_PROCESS_BASE_URL = "http://sft-simulator.internal"


class SimulatorControlError(Exception):
    """A control answered HTTP 4xx/5xx: ``status_code`` and the simulator's ``error`` text
    (the response text, at most 200 characters, when the answer was not JSON)."""

    def __init__(self, status_code: int, error: str) -> None:
        super().__init__(f"HTTP {status_code}: {error}")
        self.status_code = status_code
        self.error = error


class SimulatorControlClient:
    """The ``/_sim/`` controls of one simulator, over ``app`` (in process, ASGI) or
    ``base_url`` (a simulator on a socket). Holds no connection: each call opens and closes
    its own ``httpx.AsyncClient``, so there is nothing to close.

    Every method raises :class:`SimulatorControlError` when the control refuses (bad input,
    unknown endpoint, ...) and ``httpx.HTTPError`` when the simulator cannot be reached.
    """

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        base_url: str = IN_PROCESS_BASE_URL,
        timeout: float = 30.0,
    ) -> None:
        self._app = app
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``method /_sim/<path>`` with the JSON ``body``; the JSON object answered (a non-JSON
        success answer gives ``{"error": <text, at most 200 characters>}``)."""
        transport = httpx.ASGITransport(app=self._app) if self._app is not None else None
        async with httpx.AsyncClient(
            transport=transport, base_url=self._base_url, timeout=self._timeout
        ) as http:
            response = await http.request(method, f"/_sim/{path}", json=body)
        try:
            data = response.json()
        except json.JSONDecodeError:
            data = {"error": response.text[:200]}
        if response.status_code >= 400:
            raise SimulatorControlError(
                response.status_code, str(data.get("error", response.status_code))
            )
        return cast(dict[str, Any], data)

    async def state(self) -> dict[str, Any]:
        """``GET state``: the account summary (SIMs, endpoints, profile statuses, add-ons,
        usage, subscriptions) with call counts, active faults and runtime settings."""
        return await self.call("GET", "state")

    async def clock(self) -> dict[str, Any]:
        """``GET clock``: ``now`` (``DD/MM/YYYY HH:MM:SS``, UTC), ``epoch`` (seconds) and
        ``offsetSeconds`` (how far the simulator's clock is ahead of real time)."""
        return await self.call("GET", "clock")

    async def faults(self) -> list[dict[str, Any]]:
        """``GET faults``: the active fault rules (``id``, ``operation``, ``kind``,
        ``probability``, ``count``, ``latency_seconds``, ``status``, ``fired``)."""
        answer = await self.call("GET", "faults")
        return cast(list[dict[str, Any]], answer.get("faults", []))

    async def consume(self, endpoint_id: str, nbytes: int) -> dict[str, Any]:
        """``POST consume``: use ``nbytes`` bytes of data on ``endpoint_id`` today. The answer
        says whether it was ``accepted`` (else a ``reason``) and the ``billedBytes``."""
        return await self.call("POST", "consume", {"endPointId": endpoint_id, "bytes": nbytes})

    async def set_profile_status(self, endpoint_id: str, status: str) -> dict[str, Any]:
        """``POST profile-status``: set the eSIM profile of ``endpoint_id`` to ``status`` (one
        of :data:`PROFILE_STATUSES`). The answer has ``previousStatus`` and
        ``esimProfileStatus``."""
        return await self.call(
            "POST", "profile-status", {"endPointId": endpoint_id, "status": status}
        )

    async def advance_clock(self, hours: float) -> dict[str, Any]:
        """``POST clock/advance``: move the simulator's clock ``hours`` forward (never back);
        the answer is the new :meth:`clock`."""
        return await self.call("POST", "clock/advance", {"seconds": hours * 3600})

    async def inject_fault(
        self,
        operation: str,
        kind: str,
        count: int,
        *,
        latency_seconds: float | None = None,
    ) -> dict[str, Any]:
        """``POST faults``: inject ``kind`` (one of :data:`FAULT_KINDS`) on the next ``count``
        calls of ``operation`` (an API name in any case, or ``*``), with ``latency_seconds``
        for the kinds that wait (the simulator's default when ``None``). Returns the new rule
        (its ``id``, ...)."""
        payload: dict[str, Any] = {"operation": operation, "kind": kind, "count": count}
        if latency_seconds is not None:
            payload["latency_seconds"] = latency_seconds
        answer = await self.call("POST", "faults", payload)
        return cast(dict[str, Any], answer.get("fault", {}))

    async def clear_faults(self) -> int:
        """``DELETE faults``: remove every fault rule; returns how many there were."""
        answer = await self.call("DELETE", "faults")
        return int(answer.get("cleared", 0))

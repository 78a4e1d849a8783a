"""The simulator section: staff actions on the built-in simulator (consume data, set a
profile status, advance the clock, inject and clear faults), each audited.

They exist only when the simulator is the platform (``settings.uses_simulator``); every
request goes through the simulator's own control client
(:class:`~travelsim.sft_simulator.control_client.SimulatorControlClient`) to the in-process
app (``sft.factory.simulator_app``). A control's refusal is the action's refusal.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, TypeVar

from travelsim import db
from travelsim.formatting import format_bytes
from travelsim.models import Esim
from travelsim.services.admin.base import (
    ActionResult,
    Refused,
    Staff,
    _act,
    _sync_quietly,
    count_of,
)
from travelsim.settings import Settings, get_settings
from travelsim.sft.client import SFTClient
from travelsim.sft.factory import simulator_app
from travelsim.sft_simulator.control_client import (
    FAULT_KINDS,
    PROFILE_STATUSES,
    SimulatorControlClient,
    SimulatorControlError,
)

__all__ = [
    "FAULT_KINDS",
    "PROFILE_STATUSES",
    "sim_advance_clock",
    "sim_clear_faults",
    "sim_consume",
    "sim_fault",
    "sim_profile_status",
    "sim_state",
]

_MB = 1_048_576
_T = TypeVar("_T")


def _controls(settings: Settings | None = None) -> SimulatorControlClient:
    """The control client of the in-process simulator; :class:`Refused` when the platform
    is not the built-in simulator."""
    cfg = settings or get_settings()
    if not cfg.uses_simulator:
        raise Refused("simulator controls exist only on the built-in simulator")
    return SimulatorControlClient(simulator_app(cfg))


async def _refusing(call: Awaitable[_T]) -> _T:
    """Await a control call; its refusal becomes :class:`Refused` ("simulator refused: …")."""
    try:
        return await call
    except SimulatorControlError as exc:
        raise Refused(f"simulator refused: {exc.error}") from None


async def _endpoint_of(esim_id: int) -> str:
    """The endpoint id of ``esim_id``; :class:`Refused` for an unknown eSIM."""
    async with db.session() as s:
        esim = await s.get(Esim, esim_id)
        if esim is None:
            raise Refused("unknown eSIM")
        return esim.endpoint_id


async def sim_state(settings: Settings | None = None) -> dict[str, Any]:
    """The simulator's clock (``now``, ``DD/MM/YYYY HH:MM:SS``) and active faults, as
    ``{"clock": …, "faults": [...]}``; ``{}`` when not on the simulator. Raises
    :class:`Refused` when a control refuses."""
    cfg = settings or get_settings()
    if not cfg.uses_simulator:
        return {}
    controls = _controls(cfg)
    clock = await _refusing(controls.clock())
    faults = await _refusing(controls.faults())
    return {"clock": clock.get("now", ""), "faults": faults}


async def sim_consume(
    staff: Staff, esim_id: int, megabytes: float, *, client: SFTClient
) -> ActionResult:
    """Consume ``megabytes`` (1 MB = 1,048,576 B) on the eSIM's endpoint in the simulator,
    then refresh the eSIM's figures."""

    async def body() -> str:
        if not 0 < megabytes <= 1_000_000:
            raise Refused("megabytes must be within 0..1,000,000")
        endpoint_id = await _endpoint_of(esim_id)
        out = await _refusing(_controls().consume(endpoint_id, int(megabytes * _MB)))
        if not out.get("accepted", False):
            raise Refused(f"simulator did not bill the usage: {out.get('reason')}")
        await _sync_quietly(client, [esim_id])
        return f"{format_bytes(int(out.get('billedBytes', 0)))} billed on endpoint {endpoint_id}"

    return await _act(staff, "sim.consume", "esim", str(esim_id), body)


async def sim_profile_status(
    staff: Staff, esim_id: int, status: str, *, client: SFTClient
) -> ActionResult:
    """Set the eSIM profile status (one of :data:`PROFILE_STATUSES`) in the simulator, then
    refresh the eSIM's figures."""

    async def body() -> str:
        if status not in PROFILE_STATUSES:
            raise Refused(f"status must be one of {', '.join(PROFILE_STATUSES)}")
        endpoint_id = await _endpoint_of(esim_id)
        out = await _refusing(_controls().set_profile_status(endpoint_id, status))
        await _sync_quietly(client, [esim_id])
        return f"profile {out.get('previousStatus')} -> {out.get('esimProfileStatus')}"

    return await _act(staff, "sim.profile_status", "esim", str(esim_id), body)


async def sim_advance_clock(staff: Staff, hours: float) -> ActionResult:
    """Move the simulator's clock forward by ``hours`` (at most 366 days)."""

    async def body() -> str:
        if not 0 < hours <= 24 * 366:
            raise Refused("hours must be within 0..8784")
        out = await _refusing(_controls().advance_clock(hours))
        return f"simulator clock now {out.get('now')}"

    return await _act(staff, "sim.clock", "simulator", "clock", body)


async def sim_fault(staff: Staff, operation: str, kind: str, count: int) -> ActionResult:
    """Inject ``kind`` (one of :data:`FAULT_KINDS`) on the next ``count`` (1..100) calls of
    ``operation`` (an API name, ``*`` = any) in the simulator; the kinds that wait wait 2 s."""

    async def body() -> str:
        if kind not in FAULT_KINDS:
            raise Refused(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if not 1 <= count <= 100:
            raise Refused("count must be within 1..100")
        op = operation.strip() or "*"
        if not re.fullmatch(r"\*|[A-Za-z]{2,40}", op):
            raise Refused("operation must be an API name (e.g. SubscribeAddon) or *")
        latency = 2.0 if kind in ("latency", "timeout_after_commit") else None
        fault = await _refusing(_controls().inject_fault(op, kind, count, latency_seconds=latency))
        return f"fault #{fault.get('id')}: {kind} on {op} x{count}"

    return await _act(staff, "sim.fault", "simulator", operation.strip() or "*", body)


async def sim_clear_faults(staff: Staff) -> ActionResult:
    """Remove every injected fault."""

    async def body() -> str:
        cleared = await _refusing(_controls().clear_faults())
        return f"{count_of(cleared, 'fault')} cleared"

    return await _act(staff, "sim.clear_faults", "simulator", "faults", body)

"""The replacement of a traveler's eSIM by a new one carrying its live plans.

Replacement (docs/business-rules.md#replacement; :func:`replace_esim`)
    The remaining volume of an add-on cannot be subscribed on SFT (plans have fixed volumes),
    so the new eSIM gets **the same plan for every add-on still live** on the old one
    (``waiting``, or ``active`` with data left), each with its full volume and validity: the
    traveler gets at least what remained. Zero-amount staff orders provision them through the
    normal resumable steps (the first a ``new_esim`` order: activation, add-on, code, email),
    the old endpoint is then suspended (reason "3") and the traveler's open replacement
    requests are closed. One replacement per old eSIM (unique row). Nothing live → refused.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from travelsim import db
from travelsim.esim.addons import LIVE_STATUSES, draw_key, effective_status
from travelsim.models import (
    Esim,
    EsimAddon,
    EsimReplacement,
    OrderStatus,
    Plan,
    PurchaseKind,
    ReplacementRequest,
    ReplacementRequestStatus,
    ReplacementStatus,
    utcnow,
)
from travelsim.services import inventory, provisioning
from travelsim.services.admin.base import (
    ActionResult,
    Refused,
    RunOptions,
    Staff,
    _act,
    _sync_quietly,
)
from travelsim.services.admin.esims import staff_lifecycle
from travelsim.services.admin.staff_orders import note_suffix, staff_order
from travelsim.services.ownership import is_owner
from travelsim.sft.client import SFTClient
from travelsim.sft.models import Priority

#: How long the new eSIM of a replacement stays reserved before it is assigned.
_RESERVE_FOR = timedelta(minutes=10)


async def replace_esim(
    staff: Staff,
    esim_id: int,
    *,
    client: SFTClient,
    note: str = "",
    run_options: RunOptions | None = None,
) -> ActionResult:
    """Give the owner of ``esim_id`` a new eSIM carrying the plans still live on it, then
    suspend the old one (module docstring "Replacement")."""

    async def body() -> tuple[str, dict[str, Any]]:
        user_id, old_endpoint, destination = await _replaceable(esim_id)
        await _sync_quietly(client, [esim_id])
        plans = await _carried_plans(esim_id)
        plan_ids = [plan.plan_id for plan in plans]
        new_id, record_id, order_ids = await _open_replacement(
            client, staff, esim_id, user_id, destination, plans
        )
        statuses = await _run_in_turn(order_ids, client, run_options)
        delivered = (
            bool(statuses)
            and all(st == OrderStatus.DELIVERED for st in statuses)
            and len(statuses) == len(order_ids)
        )
        old_state = ""
        if statuses and statuses[0] == OrderStatus.DELIVERED:
            try:
                old_state = await staff_lifecycle(client, old_endpoint, suspend=True)
            except Refused as exc:  # e.g. never activated: nothing to stop
                old_state = f"old endpoint left as is ({exc})"
        await _close_replacement(record_id, esim_id, statuses, delivered=delivered)
        await _sync_quietly(client, [new_id, esim_id])
        message = (
            f"new eSIM {new_id} with {', '.join(plan_ids)}: orders {', '.join(statuses)}; "
            f"{old_state or 'old endpoint not suspended'}{note_suffix(note)}"
        )
        if not delivered:
            raise Refused(f"replacement incomplete: {message}")
        return message, {"new_esim_id": new_id, "order_ids": order_ids}

    return await _act(staff, "esim.replace", "esim", str(esim_id), body)


async def _replaceable(esim_id: int) -> tuple[int, str, str | None]:
    """``(user_id, endpoint_id, destination)`` of the eSIM to replace; :class:`Refused` when
    it is nobody's or was already replaced."""
    async with db.session() as s:
        old = await s.get(Esim, esim_id)
        if old is None or not is_owner(old, old.user_id):
            raise Refused("the eSIM does not belong to a traveler")
        done = (
            await s.exec(select(EsimReplacement).where(col(EsimReplacement.old_esim_id) == esim_id))
        ).first()
        if done is not None:
            raise Refused(
                f"already replaced by eSIM {done.new_esim_id} ({done.status}); "
                "retry its orders if needed"
            )
        assert old.user_id is not None
        return old.user_id, old.endpoint_id, old.destination


async def _carried_plans(esim_id: int) -> list[Plan]:
    """The plan of every add-on still live on ``esim_id`` (``waiting``, or ``active`` with
    data left), in drawing order, one entry per add-on; :class:`Refused` when none is live
    or a plan is unknown to the catalogue."""
    now = utcnow()
    async with db.session() as s:
        addons = (await s.exec(select(EsimAddon).where(col(EsimAddon.esim_id) == esim_id))).all()
        live_addons = sorted(
            (
                a
                for a in addons
                if effective_status(a, now) in LIVE_STATUSES
                and (a.remaining_bytes is None or a.remaining_bytes > 0)
            ),
            key=draw_key,
        )
        plan_ids = [a.plan_id for a in live_addons]
        if not plan_ids:
            raise Refused("no live add-on to carry over (nothing left to replace)")
        plans = {p: await s.get(Plan, p) for p in set(plan_ids)}
        missing = [p for p, row in plans.items() if row is None]
        if missing:
            raise Refused(f"plans unknown to the catalogue: {', '.join(sorted(missing))}")
        found = {p: row for p, row in plans.items() if row is not None}
        return [found[p] for p in plan_ids]


async def _open_replacement(
    client: SFTClient,
    staff: Staff,
    esim_id: int,
    user_id: int,
    destination: str | None,
    plans: list[Plan],
) -> tuple[int, int, list[str]]:
    """Assign a free eSIM to ``user_id`` (refilling the pool once if empty), record the
    replacement (``provisioning``) and create one staff order per plan (the first a
    ``new_esim`` order); committed. Returns ``(new_esim_id, record_id, order_ids)``;
    :class:`Refused` when no eSIM is free or the eSIM is already being replaced."""
    first_key = str(uuid.uuid4())
    async with db.session() as s:
        new = await inventory.reserve(s, first_key, utcnow() + _RESERVE_FOR)
        if new is None:
            await inventory.refill_pool(client, s, priority=Priority.PROVISIONING)
            new = await inventory.reserve(s, first_key, utcnow() + _RESERVE_FOR)
        if new is None:
            raise Refused("no free eSIM left in the inventory")
        new = await inventory.assign(
            s, new, user_id, checkout_id=first_key, destination=destination
        )
        assert new.id is not None
        new_id = new.id
        record = EsimReplacement(
            old_esim_id=esim_id,
            new_esim_id=new_id,
            user_id=user_id,
            staff_user_id=staff.user_id,
            plan_ids=[plan.plan_id for plan in plans],
            status=ReplacementStatus.PROVISIONING,
        )
        s.add(record)
        order_ids: list[str] = []
        for i, plan in enumerate(plans):
            order = await staff_order(
                s,
                checkout_id=first_key if i == 0 else str(uuid.uuid4()),
                user_id=user_id,
                esim_id=new_id,
                plan=plan,
                kind=PurchaseKind.NEW_ESIM if i == 0 else PurchaseKind.TOPUP,
                destination=destination,
            )
            order_ids.append(order.id)
        record.order_ids = order_ids
        try:
            await s.commit()
        except IntegrityError:
            raise Refused("this eSIM is already being replaced") from None
        assert record.id is not None
        return new_id, record.id, order_ids


async def _run_in_turn(
    order_ids: list[str], client: SFTClient, run_options: RunOptions | None
) -> list[str]:
    """Provision the orders one after the other; stop after the first (the new eSIM) unless
    it was delivered. Returns the end status of each order run."""
    statuses: list[str] = []
    for i, order_id in enumerate(order_ids):
        result = await provisioning.run_order(order_id, client=client, **(run_options or {}))
        statuses.append(result.status)
        if i == 0 and result.status != OrderStatus.DELIVERED:
            break
    return statuses


async def _close_replacement(
    record_id: int, esim_id: int, statuses: list[str], *, delivered: bool
) -> None:
    """Mark the replacement ``done`` or ``failed`` with the order statuses; when delivered,
    close the traveler's open replacement requests for the old eSIM. Committed."""
    async with db.session() as s:
        rec = await s.get(EsimReplacement, record_id)
        assert rec is not None
        rec.status = ReplacementStatus.DONE if delivered else ReplacementStatus.FAILED
        rec.detail = ", ".join(statuses)[:500]
        rec.finished_at = utcnow()
        s.add(rec)
        if delivered:
            await s.execute(
                update(ReplacementRequest)
                .where(
                    col(ReplacementRequest.esim_id) == esim_id,
                    col(ReplacementRequest.status) == ReplacementRequestStatus.OPEN,
                )
                .values(status=ReplacementRequestStatus.CLOSED, closed_at=utcnow())
            )
        await s.commit()

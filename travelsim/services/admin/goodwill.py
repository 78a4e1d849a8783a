"""A goodwill add-on: a plan given for free to the owner of an eSIM.

Goodwill add-on (:func:`goodwill_addon`)
    A zero-amount staff ``topup`` order run by ``provisioning.run_order``, so SubscribeAddon
    gets the same re-read-before-resend care as a purchase. Idempotent per ``request_id``
    (the staff form's key). Refused on a Suspended endpoint (resume first: the top-up's
    activation step would otherwise resume a staff suspension) or at 15 live add-ons.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from travelsim import db
from travelsim.esim.addons import LIVE_ADDON_LIMIT
from travelsim.esim.lifecycle import endpoint_state
from travelsim.models import Esim, Order, OrderStatus, Plan, PurchaseKind
from travelsim.services import provisioning
from travelsim.services.admin.base import (
    PRIORITY,
    ActionResult,
    Refused,
    RunOptions,
    Staff,
    _act,
    _sync_quietly,
)
from travelsim.services.admin.staff_orders import check_request_id, note_suffix, staff_order
from travelsim.services.ownership import is_owner
from travelsim.sft.client import SFTClient
from travelsim.sft.models import AddonStatus as PlatformAddonStatus


async def goodwill_addon(
    staff: Staff,
    esim_id: int,
    plan_id: str,
    *,
    request_id: str,
    client: SFTClient,
    note: str = "",
    run_options: RunOptions | None = None,
) -> ActionResult:
    """Give ``plan_id`` to the owner of ``esim_id`` for free (module docstring)."""

    async def body() -> tuple[str, dict[str, Any]]:
        key = check_request_id(request_id)
        async with db.session() as s:
            existing = (await s.exec(select(Order).where(col(Order.checkout_id) == key))).first()
            if existing is not None:
                return f"already given: order {existing.reference} is {existing.status}", {
                    "order_id": existing.id
                }
            esim = await s.get(Esim, esim_id)
            plan = await s.get(Plan, plan_id)
            if esim is None or not is_owner(esim, esim.user_id):
                raise Refused("the eSIM does not belong to a traveler")
            if plan is None or not plan.present_on_platform:
                raise Refused("unknown plan, or no longer on the platform")
            endpoint_id, user_id = esim.endpoint_id, esim.user_id
            assert user_id is not None
        await _check_endpoint_takes_addon(client, endpoint_id)
        async with db.session() as s:
            plan_row = await s.get(Plan, plan_id)
            assert plan_row is not None
            try:
                order = await staff_order(
                    s,
                    checkout_id=key,
                    user_id=user_id,
                    esim_id=esim_id,
                    plan=plan_row,
                    kind=PurchaseKind.TOPUP,
                    destination=None,
                )
                order_id, reference = order.id, order.reference
                await s.commit()
            except IntegrityError:
                raise Refused("this goodwill request was already submitted") from None
        result = await provisioning.run_order(order_id, client=client, **(run_options or {}))
        if result.status == OrderStatus.DELIVERED:
            await _sync_quietly(client, [esim_id])
        return (
            f"goodwill {plan_id} as order {reference}: {result.status}{note_suffix(note)}",
            {"order_id": order_id},
        )

    return await _act(staff, "esim.goodwill", "esim", str(esim_id), body)


async def _check_endpoint_takes_addon(client: SFTClient, endpoint_id: str) -> None:
    """Read the endpoint and its add-ons from SFT; :class:`Refused` when it is Suspended,
    has no SIM (Hold) or already has :data:`~travelsim.esim.addons.LIVE_ADDON_LIMIT`
    live add-ons."""
    profile = await client.endpoint_profile(endpoint_id, priority=PRIORITY)
    state = endpoint_state(profile.status)
    if state == "suspended":
        raise Refused("the endpoint is Suspended: resume it first")
    if state == "hold":
        raise Refused("the endpoint has no SIM (Hold)")
    rows = await client.addon_details(priority=PRIORITY, endpoint_id=endpoint_id)
    live_now = sum(
        1 for r in rows if r.status in (PlatformAddonStatus.WAITING, PlatformAddonStatus.ACTIVE)
    )
    if live_now >= LIVE_ADDON_LIMIT:
        raise Refused(f"the eSIM already has {LIVE_ADDON_LIMIT} live add-ons")

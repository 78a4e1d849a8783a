"""The eSIM read model (``esim_dashboard.esim_dashboard``) after staff actions: a refund
withdraws the service and suspends the endpoint as staff (reason "3" CSR), so the traveler's
page must know both facts to say so once and offer nothing that cannot work.

The rules come from docs/business-rules.md#voids-and-refunds (a refunded new eSIM's endpoint
is suspended, reason "3") and docs/business-rules.md#staff-suspension; the platform state is
read from the simulator's own API, never from the code under test.
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

from typing import Any

from checkout_support import (  # noqa: F401 - fixtures
    add_plan,
    sft_clients,
    sim_factory,
)
from test_admin_actions import delivered_order, endpoint_of, make_staff, setup  # noqa: F401

from travelsim import db
from travelsim.models import Order, User, utcnow
from travelsim.services import admin, install_card, installation, orders
from travelsim.services.esim_dashboard import Dashboard, esim_dashboard


async def _dashboard(order: Order) -> Dashboard:
    async with db.session() as s:
        d = await esim_dashboard(s, user_id=order.user_id, esim_id=order.esim_id, now=utcnow())
    assert d is not None
    return d


async def _order_refunded(order: Order) -> bool:
    async with db.session() as s:
        view = await orders.order_view(s, order_id=order.id, user_id=order.user_id or 0)
    assert view is not None
    return view.refunded


async def _install_data(order: Order) -> tuple[str, str | None, bool, bool]:
    """What the owner's install page, QR route and install card get: ``(status, lpa, QR
    given, card given)``."""
    async with db.session() as s:
        user = await s.get(User, order.user_id)
        assert user is not None
        view = await installation.install_view(s, user=user, esim_id=order.esim_id)
        png = await installation.qr_png_for(s, user=user, esim_id=order.esim_id)
        card = await install_card.install_card(
            s, user=user, esim_id=order.esim_id, locale="en", now=utcnow()
        )
    assert view is not None
    return view.status, view.lpa, png is not None, card is not None


async def test_refunded_esim_reads_as_refunded_and_suspended_by_staff(setup: Any) -> None:
    sim, client = setup
    await add_plan()
    staff = await make_staff()
    order = await delivered_order(client)
    before = await _dashboard(order)
    assert (before.suspended_by_staff, before.refunded) == (False, False)
    assert await _order_refunded(order) is False
    status, lpa, qr, card = await _install_data(order)
    assert (status, lpa is not None, qr, card) == ("ready", True, True, True)

    result = await admin.refund_order(staff, order.id, client=client)
    assert result.result == "ok", result.message
    # The platform's own view: suspended (the documented effect of a refund).
    assert sim.endpoint_status(await endpoint_of(order.esim_id)) == "Suspended"

    after = await _dashboard(order)
    assert after.suspended_by_staff is True
    assert after.refunded is True
    # The order page reads it too: no "ready, install it" for a withdrawn service.
    assert await _order_refunded(order) is True
    # Nor any install data: the install page says why, QR and install card are gone.
    assert await _install_data(order) == ("withdrawn", None, False, False)


async def test_staff_suspension_without_refund_is_not_read_as_refunded(setup: Any) -> None:
    sim, client = setup
    await add_plan()
    staff = await make_staff()
    order = await delivered_order(client)

    result = await admin.set_suspended(staff, order.esim_id, suspend=True, client=client)
    assert result.result == "ok", result.message
    assert sim.endpoint_status(await endpoint_of(order.esim_id)) == "Suspended"

    d = await _dashboard(order)
    assert d.suspended_by_staff is True
    assert d.refunded is False
    assert await _order_refunded(order) is False

    resumed = await admin.set_suspended(staff, order.esim_id, suspend=False, client=client)
    assert resumed.result == "ok", resumed.message
    assert sim.endpoint_status(await endpoint_of(order.esim_id)) == "Active"
    assert (await _dashboard(order)).suspended_by_staff is False

"""Non-staff get nothing from the admin: every event handler of every admin state (found
programmatically) refuses a signed-out tab, a traveler's session and a staff session that has
not passed the second factor — no data in state, no effect in the database or the simulator,
and no audit row — while the same handlers serve a full staff session. No admin HTTP route
exists, and the admin pages' loads send outsiders away.

Handlers are called the way Reflex calls them (``EventHandler.fn(state, *args)``) on states
built from a root state whose router carries the session cookie, as the websocket does."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from checkout_support import (
    add_plan,
    add_user,
    buy,
)
from reflex.event import EventSpec
from reflex.istate.data import RouterData
from reflex.state import State
from sqlmodel import col, func, select

from travelsim import db
from travelsim.models import (
    AuditLog,
    Esim,
    Order,
    OutboxEmail,
    Payment,
    Plan,
    SessionFactor,
    User,
)
from travelsim.routes.app import build_routes_app
from travelsim.services import provisioning
from travelsim.services.auth import sessions
from travelsim.settings import Settings, get_settings
from travelsim.sft.factory import build_client, simulator_app
from travelsim.sft_simulator.control_client import SimulatorControlClient
from travelsim.state.admin import ADMIN_STATES
from travelsim.state.admin.base import AdminState
from travelsim.state.admin.orders import AdminOrdersState

FAST: dict[str, Any] = {"backoff": (0.01,)}


async def session_for(user: User, *, totp: bool = False) -> str:
    async with db.session() as s:
        token = await sessions.start_session(s, user, method="password")
        if totp:
            row = await sessions.session_row(s, token)
            assert row is not None and row.id is not None
            factor = await s.get(SessionFactor, row.id)
            assert factor is not None
            factor.totp_verified_at = datetime.now(UTC)
            s.add(factor)
        await s.commit()
    return token


def state_for(cls: type[AdminState], token: str | None, path: str = "/admin") -> Any:
    root = State(_reflex_internal_init=True)
    cookie = f"{sessions.COOKIE_NAME}={token}" if token else ""
    root.router = RouterData.from_router_data(
        {"headers": {"cookie": cookie}, "pathname": path, "asPath": path}
    )
    return root.get_substate(cls.get_full_name().split(".")[1:])


class World:
    """A delivered order on the in-process simulator, a traveler and staff sessions."""

    order_id: str
    esim_id: int
    traveler: User
    tokens: dict[str, str | None]


def args_for(fn: Callable[..., Any], world: World) -> list[Any]:
    """Plausible arguments for a handler: what a real page would send."""
    form = {
        "plan_id": "870101",
        "price": "1.00",
        "currency": "EUR",
        "display_name": "Hacked",
        "destinations": "FR",
        "on_sale": True,
        "email": world.traveler.email,
        "hours": "24",
        "kind": "http500",
        "operation": "*",
        "count": "3",
        "megabytes": "50",
        "status": "deleted",
        "request_id": str(uuid.uuid4()),
        "force_reason": "forced by an outsider",
        "note": "outsider",
        "query": "",
        "state": "any",
    }
    values: list[Any] = []
    for name in list(inspect.signature(fn).parameters)[1:]:
        if name == "form":
            values.append(dict(form))
        elif name == "order_id":
            values.append(world.order_id)
        elif name in ("esim_id", "user_id"):
            values.append(str(world.esim_id))
        elif name == "plan_id":
            values.append("870101")
        elif name == "email_address":
            values.append(world.traveler.email)
        elif name == "column":
            values.append("status")
        else:
            values.append("x")
    return values


def prime(state: Any, world: World) -> None:
    """Put ids in the tab's state as a page would have (a forged tab could do the same)."""
    for name, value in (
        ("selected", world.order_id if isinstance(state, AdminOrdersState) else str(world.esim_id)),
        ("editing", "870101"),
        ("goodwill_key", str(uuid.uuid4())),
    ):
        if name in type(state).get_fields():
            setattr(state, name, value)


DATA_VARS = (
    "rows",
    "detail",
    "steps",
    "figures",
    "jobs",
    "person",
    "person_esims",
    "person_orders",
    "esim",
    "addons",
    "esim_orders",
    "faults",
    "clock",
)


async def snapshot(world: World) -> dict[str, Any]:
    async with db.session() as s:
        order = await s.get(Order, world.order_id)
        assert order is not None
        payment = await s.get(Payment, order.payment_id)
        plan = await s.get(Plan, "870101")
        traveler = await s.get(User, world.traveler.id)
        esim = await s.get(Esim, world.esim_id)
        return {
            "audit": (await s.exec(select(func.count()).select_from(AuditLog))).one(),
            "orders": (await s.exec(select(func.count()).select_from(Order))).one(),
            "emails": (await s.exec(select(func.count()).select_from(OutboxEmail))).one(),
            "staff": (
                await s.exec(select(func.count()).select_from(User).where(col(User.is_staff)))
            ).one(),
            "order": (order.status, order.attempts),
            "payment": payment.status if payment else None,
            "plan": (plan.display_name, plan.price_minor, plan.on_sale) if plan else None,
            "traveler_staff": traveler.is_staff if traveler else None,
            "esim": (esim.endpoint_status, esim.profile_status) if esim else None,
            "sim": await sim_summary(),
        }


async def sim_summary() -> dict[str, Any]:
    """The in-process simulator's account state (clock offset, faults, SIMs, add-ons, usage),
    read over its control API."""
    controls = SimulatorControlClient(simulator_app(get_settings()))
    state = await controls.state()
    clock = await controls.clock()
    keep = ("sims", "endpoints", "esimProfileStatus", "addons", "usage", "faults")
    return {"offset": clock["offsetSeconds"], **{k: state.get(k) for k in keep}}


@pytest.fixture
async def world(sqlite_db: Settings) -> Any:
    await add_plan()
    client = build_client(sqlite_db)
    try:
        traveler = await add_user("traveler@example.com")
        outcome = await buy(traveler, client)
        assert outcome.order_id
        order = await provisioning.run_order(outcome.order_id, client=client, **FAST)
        assert order.status == "delivered"
    finally:
        await client.aclose()
    staff = await add_user("staff@example.com")
    async with db.session() as s:
        row = await s.get(User, staff.id)
        assert row is not None
        row.is_staff = True
        s.add(row)
        await s.commit()
        await s.refresh(row)
        staff = row
    w = World()
    w.order_id, w.esim_id, w.traveler = order.id, order.esim_id, traveler
    w.tokens = {
        "signed_out": None,
        "traveler": await session_for(traveler),
        "staff_without_second_factor": await session_for(staff),
        "staff": await session_for(staff, totp=True),
    }
    yield w
    await db.async_engine().dispose()


def handlers() -> list[tuple[type[AdminState], str]]:
    found = [
        (cls, name)
        for cls in ADMIN_STATES
        for name in cls.event_handlers
        if name != "setvar"  # Reflex's own var setter: writes only the caller's tab state
    ]
    assert len(found) > 40  # every state's handlers, loads and actions alike
    return found


@pytest.mark.parametrize("who", ["signed_out", "traveler", "staff_without_second_factor"])
async def test_every_admin_handler_refuses_outsiders(world: World, who: str) -> None:
    before = await snapshot(world)
    for cls, name in handlers():
        state = state_for(cls, world.tokens[who])
        prime(state, world)
        fn = cls.event_handlers[name].fn
        result = await fn(state, *args_for(fn, world))
        where = f"{cls.__name__}.{name} as {who}"
        assert state.is_admin is False, where
        for var in DATA_VARS:
            if var in cls.get_fields():
                assert not getattr(state, var), f"{where} left {var}"
        if not cls.event_handlers[name].is_background:
            assert isinstance(result, EventSpec), f"{where} did not send the tab away"
    assert await snapshot(world) == before


async def test_the_same_handlers_serve_a_full_staff_session(world: World) -> None:
    path = f"/admin/orders?order={world.order_id}"
    state = state_for(AdminOrdersState, world.tokens["staff"], path)
    result = await AdminOrdersState.event_handlers["load"].fn(state)
    assert result is None
    assert state.is_admin is True
    assert state.total == 1 and state.detail["order_id"] == world.order_id
    before = await snapshot(world)
    await AdminOrdersState.event_handlers["resend"].fn(state)
    after = await snapshot(world)
    assert after["emails"] == before["emails"] + 1
    assert after["audit"] == before["audit"] + 1


async def test_page_loads_send_outsiders_to_the_right_place(world: World) -> None:
    targets = {
        "signed_out": "/signin?next=",
        "traveler": '"/"',
        "staff_without_second_factor": "/security/totp",
    }
    for who, expected in targets.items():
        for cls in ADMIN_STATES:
            state = state_for(cls, world.tokens[who])
            spec = await cls.event_handlers["load"].fn(state)
            assert isinstance(spec, EventSpec)
            assert expected in str(spec.args), (cls.__name__, who, spec.args)


def test_no_admin_http_route_exists() -> None:
    paths = [getattr(r, "path", "") for r in build_routes_app().routes]
    assert not [p for p in paths if p.startswith("/admin")]

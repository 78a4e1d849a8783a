"""Privacy: the data download and account deletion, over HTTP against a real database and
the SFT simulator on a loopback socket.

Expected platform effects come from docs/sft-platform.md#endpointlifecyclechange
(EndPointLifeCycleChange ``S`` suspends an Active endpoint; reason ``3`` is CSR) and the
simulator's own answers; expected database effects from
docs/business-rules.md#data-export-and-deletion (orders kept for accounting but detached from
the person, eSIMs with live add-ons suspended first, sessions revoked, the person's record
anonymised).
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    Sim,
    add_plan,
    buy,
    sft_clients,
    sim_factory,
)
from oidc_support import HOST, PASSWORD, SESSION_COOKIE, Browser, location, make_user
from sqlmodel import select

from travelsim import db
from travelsim.models import (
    AccountDeletion,
    AuthSession,
    Checkout,
    Esim,
    EsimAddon,
    Order,
    OutboxEmail,
    Payment,
    User,
    utcnow,
)
from travelsim.routes import account as account_routes
from travelsim.services import provisioning
from travelsim.services.privacy import deletion
from travelsim.settings import Settings, get_settings
from travelsim.sft import SFTClient

FAST = {"backoff": (0.01,)}


@pytest.fixture
async def portal(
    sqlite_db: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Sim, SFTClient]]:
    """A simulator, the portal's client to it (also used by the delete route), PUBLIC_URL."""
    monkeypatch.setenv("PUBLIC_URL", HOST)
    get_settings.cache_clear()
    sim = sim_factory(esims=4)
    client = sft_clients(sim.url)
    monkeypatch.setattr(account_routes, "sft_client", lambda: client)
    await add_plan()
    yield sim, client


async def delivered_order(email: str, client: SFTClient) -> tuple[User, Order, Esim]:
    """A verified traveler with one delivered eSIM order (live add-on on the platform)."""
    user = await make_user(email)
    outcome = await buy(user, client)
    assert outcome.status == "paid" and outcome.order_id
    order = await provisioning.run_order(outcome.order_id, client=client, **FAST)
    assert order.status == "delivered"
    async with db.session() as s:
        esim = await s.get(Esim, order.esim_id)
    assert esim is not None
    return user, order, esim


async def signed_in(email: str) -> Browser:
    b = Browser()
    response = await b.post("/auth/signin", data={"email": email, "password": PASSWORD})
    assert location(response) == ("/", {})
    return b


def lifecycle_info(sim: Sim, endpoint_id: str) -> dict[str, Any]:
    info = sim.api.resp(sim.api.get("GetEndPointProfile", endPointId=endpoint_id))["info"]
    return dict(info["basicInfo"])


# --- export ---------------------------------------------------------------------------------


async def test_export_holds_my_data_and_nothing_secret_or_foreign(
    portal: tuple[Sim, SFTClient],
) -> None:
    _sim, client = portal
    _me, order, esim = await delivered_order("me@example.com", client)
    _other, _other_order, other_esim = await delivered_order("other@example.com", client)
    b = await signed_in("me@example.com")
    try:
        response = await b.get("/account/export.json")
    finally:
        await b.close()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="travelsim-data-'
    )
    assert response.headers["cache-control"] == "no-store"
    data = response.json()
    assert data["format"] == "travelsim-export-v1"
    assert data["account"]["email"] == "me@example.com"
    assert [e["iccid"] for e in data["esims"]] == [esim.iccid]
    [exported_order] = data["orders"]
    assert exported_order["reference"] == order.reference
    assert exported_order["iccid"] == esim.iccid
    assert exported_order["amount_minor"] == order.amount_minor
    assert [p["card_last4"] for p in data["payments"]] == ["4242"]
    assert data["sessions"] and data["sessions"][0]["browser"]
    assert any(m["kind"] for m in data["emails"])

    raw = response.text
    async with db.session() as s:
        me = (await s.exec(select(User).where(User.email == "me@example.com"))).one()
        stored = await s.get(Esim, esim.id)
        sessions = (await s.exec(select(AuthSession))).all()
    assert me.password_hash not in raw and "password" not in raw.lower()
    assert "LPA:" not in raw and "activation" not in raw.lower()
    assert stored is not None and stored.activation_code_enc not in raw
    assert all(s.token_hash not in raw for s in sessions)
    assert other_esim.iccid not in raw and "other@example.com" not in raw


async def test_export_needs_a_session(portal: tuple[Sim, SFTClient]) -> None:
    b = Browser()
    try:
        assert location(await b.get("/account/export.json")) == ("/signin", {"next": "/security"})
    finally:
        await b.close()


# --- deletion -------------------------------------------------------------------------------


async def test_delete_suspends_live_esims_then_detaches_orders_and_anonymises(
    portal: tuple[Sim, SFTClient],
) -> None:
    sim, client = portal
    user, order, esim = await delivered_order("gone@example.com", client)
    assert lifecycle_info(sim, esim.endpoint_id)["status"] == "Active"
    async with db.session() as s:
        preview = await deletion.deletion_preview(s, user.id)  # type: ignore[arg-type]
    assert [e.iccid for e in preview.live_esims] == [esim.iccid]
    assert (preview.orders, preview.pending_orders) == (1, 0)

    b = await signed_in("gone@example.com")
    phone = await signed_in("gone@example.com")
    try:
        sim.clear_calls()
        refused = await b.post("/account/delete", data={"confirm_email": "nope@example.com"})
        assert location(refused) == ("/account/delete", {"error": "delete_confirm"})
        no_tick = await b.post("/account/delete", data={"confirm_email": "gone@example.com"})
        assert location(no_tick) == ("/account/delete", {"error": "delete_confirm"})
        assert sim.calls("endpointlifecyclechange") == []

        response = await b.post(
            "/account/delete", data={"confirm_email": " Gone@Example.com ", "confirm": "yes"}
        )
        assert location(response) == ("/signin", {"notice": "account_deleted"})
        assert SESSION_COOKIE not in b.cookies
        assert await phone.whoami() is None  # every session is gone
    finally:
        await b.close()
        await phone.close()

    # The platform: suspended, by customer service (reason 3), exactly once.
    info = lifecycle_info(sim, esim.endpoint_id)
    assert (info["status"], info["lifeCycleReason"]) == ("Suspended", "3")
    assert [c["status"] for c in sim.calls("endpointlifecyclechange")] == [200]

    async with db.session() as s:
        kept = await s.get(Order, order.id)
        retired = await s.get(Esim, esim.id)
        tomb = await s.get(User, user.id)
        record = await s.get(AccountDeletion, user.id)
        payment = (
            await s.exec(select(Payment).where(Payment.checkout_id == order.checkout_id))
        ).one()
        checkout = await s.get(Checkout, order.checkout_id)
        sessions = (await s.exec(select(AuthSession).where(AuthSession.user_id == user.id))).all()
        mails = (await s.exec(select(OutboxEmail))).all()
    assert kept is not None and kept.user_id is None  # kept for accounting, detached
    assert kept.amount_minor == order.amount_minor and kept.reference == order.reference
    assert payment.status == "succeeded" and checkout is not None
    assert retired is not None and (retired.state, retired.user_id) == ("retired", None)
    assert retired.activation_code_enc is None and retired.endpoint_status == "Suspended"
    assert tomb is not None and tomb.email == f"deleted-{user.id}@deleted.invalid"
    assert tomb.email_verified_at is None and not tomb.is_staff
    assert record is not None and (record.esims_suspended, record.orders_detached) == (1, 1)
    assert sessions == []
    assert all("gone@example.com" not in m.to_address for m in mails)

    # The person cannot sign in any more; the address is free for a new account.
    b = Browser()
    try:
        again = await b.post(
            "/auth/signin", data={"email": "gone@example.com", "password": PASSWORD}
        )
        assert location(again)[1]["error"] == "invalid_credentials"
    finally:
        await b.close()


async def test_a_failed_suspension_deletes_nothing(portal: tuple[Sim, SFTClient]) -> None:
    sim, client = portal
    user, order, esim = await delivered_order("stay@example.com", client)
    sim.fault("EndPointLifeCycleChange", "http500", probability=1.0)
    b = await signed_in("stay@example.com")
    try:
        response = await b.post(
            "/account/delete", data={"confirm_email": "stay@example.com", "confirm": "yes"}
        )
        assert location(response) == ("/account/delete", {"error": "delete_failed"})
        assert await b.whoami() == "stay@example.com"
    finally:
        await b.close()
    async with db.session() as s:
        assert await s.get(AccountDeletion, user.id) is None
        assert (await s.get(Order, order.id)).user_id == user.id  # type: ignore[union-attr]
        assert (await s.get(Esim, esim.id)).state == "assigned"  # type: ignore[union-attr]

    # Once the platform recovers, a retry goes through.
    sim.clear_faults()
    result = await deletion.delete_account(user.id, client)  # type: ignore[arg-type]
    assert result.esims_suspended == 1
    assert lifecycle_info(sim, esim.endpoint_id)["status"] == "Suspended"


async def test_an_already_suspended_endpoint_is_not_changed_again(
    portal: tuple[Sim, SFTClient],
) -> None:
    sim, client = portal
    user, _order, esim = await delivered_order("twice@example.com", client)
    from travelsim.sft.models import Priority

    await client.change_lifecycle(esim.endpoint_id, "S", reason="3", priority=Priority.REFRESH)
    sim.clear_calls()
    result = await deletion.delete_account(user.id, client)  # type: ignore[arg-type]
    assert result.esims_suspended == 1
    assert sim.calls("endpointlifecyclechange") == []  # read first, nothing resent


async def test_esims_without_live_add_ons_are_not_suspended(
    portal: tuple[Sim, SFTClient],
) -> None:
    sim, client = portal
    user, order, esim = await delivered_order("done@example.com", client)
    async with db.session() as s:
        s.add(
            EsimAddon(
                esim_id=esim.id,  # type: ignore[arg-type]
                unique_id=order.addon_unique_id or "x",
                plan_id=order.plan_id,
                status="used_up",
                updated_at=utcnow(),
            )
        )
        await s.commit()
    sim.clear_calls()
    result = await deletion.delete_account(user.id, client)  # type: ignore[arg-type]
    assert result.esims_suspended == 0
    assert sim.calls("endpointlifecyclechange") == []
    assert lifecycle_info(sim, esim.endpoint_id)["status"] == "Active"


async def test_an_order_in_flight_blocks_deletion(portal: tuple[Sim, SFTClient]) -> None:
    _sim, client = portal
    user = await make_user("busy@example.com")
    outcome = await buy(user, client)
    assert outcome.status == "paid"  # paid, provisioning not run yet
    b = await signed_in("busy@example.com")
    try:
        response = await b.post(
            "/account/delete", data={"confirm_email": "busy@example.com", "confirm": "yes"}
        )
        assert location(response) == ("/account/delete", {"error": "delete_pending"})
    finally:
        await b.close()
    async with db.session() as s:
        assert await s.get(AccountDeletion, user.id) is None


async def test_delete_needs_the_second_factor_for_staff(portal: tuple[Sim, SFTClient]) -> None:
    await make_user("boss@example.com", staff=True)
    b = Browser()
    try:
        await b.post("/auth/signin", data={"email": "boss@example.com", "password": PASSWORD})
        response = await b.post(
            "/account/delete", data={"confirm_email": "boss@example.com", "confirm": "yes"}
        )
        assert location(response) == ("/security/totp", {"next": "/account/delete"})
    finally:
        await b.close()
    async with db.session() as s:
        assert (await s.exec(select(AccountDeletion))).first() is None


async def test_export_is_valid_json_for_an_empty_account(portal: tuple[Sim, SFTClient]) -> None:
    await make_user("new@example.com")
    b = await signed_in("new@example.com")
    try:
        data = json.loads((await b.get("/account/export.json")).text)
    finally:
        await b.close()
    assert data["esims"] == [] and data["orders"] == [] and data["payments"] == []

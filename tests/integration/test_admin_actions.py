"""Staff actions (``services.admin``) against the SFT simulator over a real loopback socket and
a real migrated database.

Expected platform state is read from the simulator's own API (``Sim``: fetchSIM, profile, add-on
details, its subscription counters), and the rules from docs/business-rules.md#voids-and-refunds,
docs/business-rules.md#replacement and docs/business-rules.md#staff-suspension (suspension with
reason "3" CSR), never from the code under test.
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    Sim,
    add_plan,
    add_user,
    buy,
    make_staff,
    sft_clients,
    sim_factory,
)
from sqlalchemy import text
from sqlmodel import col, select

from travelsim import db
from travelsim.models import (
    AuditLog,
    Esim,
    EsimReplacement,
    EsimSync,
    Order,
    OutboxEmail,
    Payment,
    Plan,
    ReplacementRequest,
    User,
)
from travelsim.services import admin, catalogue, esim_actions, provisioning, topup, usage_sync
from travelsim.services.admin.base import PRIORITY
from travelsim.settings import Settings
from travelsim.sft import SFTClient

FAST: dict[str, Any] = {"backoff": (0.01,)}
MB = 1_048_576


async def get(model: Any, key: Any) -> Any:
    async with db.session() as s:
        return await s.get(model, key)


async def audit_rows(action: str | None = None) -> list[AuditLog]:
    async with db.session() as s:
        q = select(AuditLog).order_by(col(AuditLog.id))
        if action:
            q = q.where(col(AuditLog.action) == action)
        return list((await s.exec(q)).all())


async def delivered_order(client: SFTClient, **kw: Any) -> Order:
    user = await add_user()
    outcome = await buy(user, client, **kw)
    assert outcome.status == "paid" and outcome.order_id
    order = await provisioning.run_order(outcome.order_id, client=client, **FAST)
    assert order.status == "delivered"
    await usage_sync.sync_esims(client, [order.esim_id], priority=PRIORITY)
    return order


@pytest.fixture
def setup(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> tuple[Sim, SFTClient]:
    sim = sim_factory(esims=8)
    return sim, sft_clients(sim.url)


async def endpoint_of(esim_id: int) -> str:
    esim = await get(Esim, esim_id)
    return str(esim.endpoint_id)


# ----------------------------------------------------------------------------- refund / void
async def test_refund_of_an_unused_never_installed_esim_withdraws_it(setup: Any) -> None:
    sim, client = setup
    await add_plan()
    staff = await make_staff()
    order = await delivered_order(client)
    endpoint = await endpoint_of(order.esim_id)

    result = await admin.refund_order(staff, order.id, client=client)

    assert result.result == "ok", result.message
    payment = await get(Payment, order.payment_id)
    assert payment.status == "refunded"
    # Service withdrawn on the platform: the instance is gone, the endpoint suspended (reason 3).
    live = [a for a in sim.addons(endpoint) if a["status"] in ("Subscribed", "Active")]
    assert live == []
    assert sim.endpoint_status(endpoint) == "Suspended"
    sync = await get(EsimSync, order.esim_id)
    assert sync.lifecycle_reason == "3"
    (row,) = await audit_rows("order.refund")
    assert (row.result, row.actor, row.target_id) == ("ok", staff.email, order.id)


async def test_refund_is_refused_after_data_use_unless_forced(setup: Any) -> None:
    sim, client = setup
    await add_plan()
    staff = await make_staff()
    order = await delivered_order(client)
    endpoint = await endpoint_of(order.esim_id)
    sim.api.consume(endpoint, 5 * MB)

    refused = await admin.refund_order(staff, order.id, client=client)
    assert refused.result == "refused"
    assert "5 MB of data already used" in refused.message
    assert (await get(Payment, order.payment_id)).status == "succeeded"
    too_short = await admin.refund_order(staff, order.id, client=client, force_reason="no")
    assert too_short.result == "refused"

    forced = await admin.refund_order(
        staff, order.id, client=client, force_reason="network outage at destination"
    )
    assert forced.result == "ok"
    assert "FORCED" in forced.message and "network outage" in forced.message
    assert (await get(Payment, order.payment_id)).status == "refunded"
    results = [r.result for r in await audit_rows("order.refund")]
    assert results == ["refused", "refused", "ok"]


async def test_refund_is_refused_once_the_profile_was_installed(setup: Any) -> None:
    sim, client = setup
    await add_plan()
    staff = await make_staff()
    order = await delivered_order(client)
    endpoint = await endpoint_of(order.esim_id)
    sim.ctl("POST", "profile-status", {"endPointId": endpoint, "status": "installed"})

    result = await admin.refund_order(staff, order.id, client=client)

    assert result.result == "refused"
    assert "installed" in result.message and "F1" in result.message
    assert sim.endpoint_status(endpoint) == "Active"  # nothing withdrawn


async def test_refund_allowed_after_a_failed_download(setup: Any) -> None:
    sim, client = setup
    await add_plan()
    staff = await make_staff()
    order = await delivered_order(client)
    endpoint = await endpoint_of(order.esim_id)
    sim.ctl("POST", "profile-status", {"endPointId": endpoint, "status": "error"})

    result = await admin.refund_order(staff, order.id, client=client)

    assert result.result == "ok", result.message
    assert "F2" in result.message


async def test_void_before_delivery_stops_the_order(setup: Any) -> None:
    sim, client = setup
    await add_plan()
    staff = await make_staff()
    user = await add_user()
    outcome = await buy(user, client)
    assert outcome.order_id

    result = await admin.refund_order(staff, outcome.order_id, client=client)

    assert result.result == "ok", result.message
    order = await get(Order, outcome.order_id)
    assert order.status == "needs_attention"
    assert (await get(Payment, order.payment_id)).status == "voided"
    # Provisioning never runs for it now (no platform call).
    sim.clear_calls()
    again = await provisioning.run_order(order.id, client=client, **FAST)
    assert again.status == "needs_attention"
    assert [c for c in sim.calls() if c["operation"] != "login"] == []


# ----------------------------------------------------------------------------- retry, resend
async def test_retry_provisioning_after_a_platform_fault(setup: Any) -> None:
    sim, client = setup
    await add_plan()
    staff = await make_staff()
    user = await add_user()
    outcome = await buy(user, client)
    assert outcome.order_id
    sim.fault("SubscribeAddon", "http500", count=10)
    # A transient fault with no automatic-retry window left: given up, payment voided.
    failed = await provisioning.run_order(
        outcome.order_id, client=client, retry_window=timedelta(0), **FAST
    )
    assert failed.status == "needs_attention"
    sim.clear_faults()

    result = await admin.retry_provisioning(
        staff, outcome.order_id, client=client, run_options=FAST
    )

    assert result.result == "ok", result.message
    assert "delivered" in result.message and "seller's expense" in result.message
    order = await get(Order, outcome.order_id)
    assert order.status == "delivered"
    endpoint = await endpoint_of(order.esim_id)
    assert sim.state()["subscriptionsPerEndpoint"][endpoint] == 1
    refused = await admin.retry_provisioning(staff, order.id, client=client)
    assert refused.result == "refused"


async def test_retry_provisioning_runs_a_waiting_automatic_retry_now(setup: Any) -> None:
    """An order waiting for its automatic retry (transient fault): staff may run it at once;
    the payment was never voided, so nothing is at the seller's expense."""
    sim, client = setup
    await add_plan()
    staff = await make_staff()
    outcome = await buy(await add_user(), client)
    assert outcome.order_id
    sim.fault("SubscribeAddon", "http500", count=3)
    waiting = await provisioning.run_order(outcome.order_id, client=client, **FAST)
    assert waiting.status == "paid"
    async with db.session() as s:
        view = await admin.order_detail(s, outcome.order_id)
    assert view is not None and view["can_retry"] is True
    assert view["retry"].startswith("automatic retry 1 due ")

    result = await admin.retry_provisioning(
        staff, outcome.order_id, client=client, run_options=FAST
    )

    assert result.result == "ok", result.message
    assert "delivered" in result.message and "seller's expense" not in result.message
    order = await get(Order, outcome.order_id)
    assert order.status == "delivered"
    assert (await get(Payment, order.payment_id)).status == "succeeded"
    assert sim.state()["subscriptionsPerEndpoint"][await endpoint_of(order.esim_id)] == 1


async def test_resend_installation_email(setup: Any) -> None:
    _sim, client = setup
    await add_plan()
    staff = await make_staff()
    order = await delivered_order(client)

    result = await admin.resend_installation_email(staff, order.id)

    assert result.result == "ok"
    async with db.session() as s:
        kinds = (
            await s.exec(select(OutboxEmail.kind).where(col(OutboxEmail.user_id) == order.user_id))
        ).all()
    assert list(kinds).count("installation") == 2


# ----------------------------------------------------------------------------- eSIM actions
async def test_staff_suspension_and_resume(setup: Any) -> None:
    sim, client = setup
    await add_plan()
    staff = await make_staff()
    order = await delivered_order(client)
    endpoint = await endpoint_of(order.esim_id)

    result = await admin.set_suspended(staff, order.esim_id, suspend=True, client=client)

    assert result.result == "ok", result.message
    info = sim.api.resp(sim.api.get("GetEndPointProfile", endPointId=endpoint))["info"]
    assert info["basicInfo"]["status"] == "Suspended"
    sync = await get(EsimSync, order.esim_id)
    assert (sync.endpoint_status, sync.lifecycle_reason) == ("Suspended", "3")
    decision = topup.check_topup_allowed([], sync.endpoint_status, sync.lifecycle_reason)
    assert decision.refusal == "suspended_by_staff"  # a traveler cannot pay it away
    gift = await admin.goodwill_addon(
        staff, order.esim_id, "870101", request_id=str(uuid.uuid4()), client=client
    )
    assert gift.result == "refused" and "resume" in gift.message

    back = await admin.set_suspended(staff, order.esim_id, suspend=False, client=client)
    assert back.result == "ok"
    assert sim.endpoint_status(endpoint) == "Active"
    actions = [(r.action, r.result) for r in await audit_rows()]
    assert ("esim.suspend", "ok") in actions and ("esim.resume", "ok") in actions


async def test_goodwill_addon_is_subscribed_once_per_request(setup: Any) -> None:
    sim, client = setup
    await add_plan()
    await add_plan("870102")
    staff = await make_staff()
    order = await delivered_order(client)
    endpoint = await endpoint_of(order.esim_id)
    key = str(uuid.uuid4())

    first = await admin.goodwill_addon(
        staff, order.esim_id, "870102", request_id=key, client=client, run_options=FAST
    )
    second = await admin.goodwill_addon(
        staff, order.esim_id, "870102", request_id=key, client=client, run_options=FAST
    )

    assert first.result == "ok" and "delivered" in first.message, first.message
    assert second.result == "ok" and "already given" in second.message
    assert sim.state()["subscriptionsPerEndpointPlan"][endpoint] == {"870101": 1, "870102": 1}
    gift = await get(Order, first.data["order_id"])
    assert (gift.amount_minor, gift.kind, gift.status) == (0, "topup", "delivered")
    assert (await get(Payment, gift.payment_id)).status == "waived"


async def test_replace_gives_a_new_esim_with_the_live_plans_and_suspends_the_old(
    setup: Any,
) -> None:
    sim, client = setup
    await add_plan()
    await add_plan("870102")
    staff = await make_staff()
    order = await delivered_order(client)
    old_endpoint = await endpoint_of(order.esim_id)
    await admin.goodwill_addon(
        staff,
        order.esim_id,
        "870102",
        request_id=str(uuid.uuid4()),
        client=client,
        run_options=FAST,
    )
    async with db.session() as s:
        assert order.user_id is not None
        await esim_actions.request_replacement(
            s, user_id=order.user_id, esim_id=order.esim_id, reason="profile deleted"
        )

    result = await admin.replace_esim(
        staff, order.esim_id, client=client, note="F1", run_options=FAST
    )

    assert result.result == "ok", result.message
    new_id = result.data["new_esim_id"]
    new = await get(Esim, new_id)
    assert (new.state, new.user_id) == ("assigned", order.user_id)
    plans = sorted(a["planId"] for a in sim.addons(new.endpoint_id))
    assert plans == ["870101", "870102"]
    assert sim.endpoint_status(new.endpoint_id) == "Active"
    assert sim.endpoint_status(old_endpoint) == "Suspended"
    assert sim.sim_row(new.iccid)["activationCode"]["textQrCode"].startswith("LPA:1$")
    async with db.session() as s:
        req = (await s.exec(select(ReplacementRequest))).one()
        record = (await s.exec(select(EsimReplacement))).one()
    assert req.status == "closed"
    assert (record.old_esim_id, record.new_esim_id, record.status) == (
        order.esim_id,
        new_id,
        "done",
    )
    again = await admin.replace_esim(staff, order.esim_id, client=client, run_options=FAST)
    assert again.result == "refused" and "already replaced" in again.message


async def test_refresh_esim_reads_the_platform(setup: Any) -> None:
    sim, client = setup
    await add_plan()
    staff = await make_staff()
    order = await delivered_order(client)
    endpoint = await endpoint_of(order.esim_id)
    sim.api.consume(endpoint, 100 * MB)

    result = await admin.refresh_esim(staff, order.esim_id, client=client)

    assert result.result == "ok"
    async with db.session() as s:
        view = await admin.esim_detail(s, order.esim_id)
    assert view is not None
    platform = sim.addons(endpoint)[0]
    assert view["addons"][0]["remaining"] == usage_format(int(platform["remainingVolume"]))


def usage_format(n: int) -> str:
    from travelsim.formatting import format_bytes

    return format_bytes(n)


# ----------------------------------------------------------------------------- catalogue, roles
async def test_catalogue_edit_rules_and_the_seed_keeps_staff_edits(sqlite_db: Settings) -> None:
    await add_plan(on_sale=False)
    staff = await make_staff()
    no_price = await admin.update_plan(
        staff, "870101", display_name="X", price="", currency="", destinations="FR", on_sale=True
    )
    assert no_price.result == "refused" and "without a price" in no_price.message
    bad_country = await admin.update_plan(
        staff,
        "870101",
        display_name="X",
        price="5",
        currency="EUR",
        destinations="ZZ",
        on_sale=True,
    )
    assert bad_country.result == "refused"
    ok = await admin.update_plan(
        staff,
        "870101",
        display_name="Paris week",
        price="5.50",
        currency="eur",
        destinations="fr, mc",
        on_sale=True,
    )
    assert ok.result == "ok", ok.message
    plan = await get(Plan, "870101")
    assert (plan.price_minor, plan.currency, plan.destinations, plan.on_sale) == (
        550,
        "EUR",
        ["FR", "MC"],
        True,
    )
    assert plan.updated_at is not None
    async with db.session() as s:
        filled = await catalogue.apply_seed(
            s,
            [
                {
                    "plan_id": "870101",
                    "display_name": "Seed name",
                    "price_minor": 100,
                    "currency": "EUR",
                    "destinations": ["FR"],
                    "region": None,
                    "activation_policy": None,
                    "on_sale": True,
                }
            ],
        )
    assert filled == []
    assert (await get(Plan, "870101")).display_name == "Paris week"


async def test_staff_role_grant_and_revoke(sqlite_db: Settings) -> None:
    staff = await make_staff()
    other = await add_user("helper@example.com")
    assert (await admin.set_staff(staff, "HELPER@example.com", grant=True)).result == "ok"
    assert (await get(User, other.id)).is_staff
    self_revoke = await admin.set_staff(staff, staff.email, grant=False)
    assert self_revoke.result == "refused"
    assert (await admin.set_staff(staff, "helper@example.com", grant=False)).result == "ok"
    assert not (await get(User, other.id)).is_staff
    unknown = await admin.set_staff(None, "ghost@example.com", grant=True, actor_label="cli")
    assert unknown.result == "refused"
    rows = await audit_rows()
    assert [(r.action, r.result, r.actor) for r in rows] == [
        ("staff.grant", "ok", staff.email),
        ("staff.revoke", "refused", staff.email),
        ("staff.revoke", "ok", staff.email),
        ("staff.grant", "refused", "cli"),
    ]


async def test_a_revoked_staff_member_can_do_nothing(sqlite_db: Settings) -> None:
    await add_plan()
    staff = await make_staff()
    async with db.session() as s:
        row = await s.get(User, staff.user_id)
        assert row is not None
        row.is_staff = False
        s.add(row)
        await s.commit()
    result = await admin.update_plan(
        staff, "870101", display_name="Y", price="1", currency="EUR", destinations="", on_sale=True
    )
    assert result.result == "refused"
    assert (await get(Plan, "870101")).display_name == "France 1 GB"


# ----------------------------------------------------------------------------- audit log
async def test_audit_log_cannot_be_edited(any_db: Settings, dispose_engines: None) -> None:
    staff = await make_staff()
    await admin.set_staff(None, staff.email, grant=True, actor_label="cli")
    for statement in ("UPDATE audit_log SET result = 'ok'", "DELETE FROM audit_log"):
        async with db.session() as s:
            with pytest.raises(Exception, match="append-only"):
                await s.execute(text(statement))
                await s.commit()
    assert len(await audit_rows()) == 1


# ----------------------------------------------------------------------------- simulator controls
async def test_simulator_controls_on_the_in_process_simulator(
    sqlite_db: Settings, sft_clients: Callable[..., SFTClient]
) -> None:
    from travelsim.sft.factory import build_client

    staff = await make_staff()
    await add_plan()
    client = build_client(sqlite_db)
    try:
        user = await add_user()
        outcome = await buy(user, client)
        assert outcome.order_id
        order = await provisioning.run_order(outcome.order_id, client=client, **FAST)
        before = (await admin.sim_state())["clock"]

        consumed = await admin.sim_consume(staff, order.esim_id, 10, client=client)
        status = await admin.sim_profile_status(staff, order.esim_id, "installed", client=client)
        clock = await admin.sim_advance_clock(staff, 48)
        fault = await admin.sim_fault(staff, "GetStatistics", "http500", 2)
        state = await admin.sim_state()
        cleared = await admin.sim_clear_faults(staff)
    finally:
        await client.aclose()

    assert consumed.result == "ok" and "10 MB billed" in consumed.message, consumed.message
    assert status.result == "ok" and "installed" in status.message
    esim = await get(Esim, order.esim_id)
    assert esim.profile_status == "installed"
    async with db.session() as s:
        view = await admin.esim_detail(s, order.esim_id)
    assert view is not None and view["addons"][0]["used"] == "10 MB"
    assert clock.result == "ok" and state["clock"] != before
    assert fault.result == "ok" and [f["kind"] for f in state["faults"]] == ["http500"]
    assert cleared.result == "ok" and "1 fault cleared" in cleared.message


async def test_simulator_controls_are_refused_against_the_real_platform(
    sqlite_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from travelsim.settings import get_settings

    staff = await make_staff()
    monkeypatch.setenv("SFT_BASE_URL", "https://sft.example.invalid")
    get_settings.cache_clear()
    try:
        result = await admin.sim_advance_clock(staff, 1)
        assert await admin.sim_state() == {}
    finally:
        get_settings.cache_clear()
    assert result.result == "refused"
    assert "only on the built-in simulator" in result.message

"""Money reconciliation (``services.reconciliation``) against real sources: purchases paid on
localstripe and provisioned on the SFT simulator over a loopback socket, a real migrated
database (SQLite and PostgreSQL).

Each kind of docs/reconciliation.md#what-is-compared is built by making one source disagree
the way the document describes; the run must find exactly those, the same again on a re-run,
clear what was fixed, and email staff once.
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support / recon_support)

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    PLAN_ID,
    Sim,
    add_plan,
    make_staff,
    sft_clients,
    sim_factory,
)
from recon_support import (  # noqa: F401 - fixtures
    delivered_order,
    endpoint_of,
    get,
    module_stripe,
    own_stripe,
    paid_order,
    payment_ref,
    remove_addon_on_sft,
    stripe_capture_unknown_to_portal,
    subscribe_on_sft,
    update,
)
from sqlmodel import col, select

from tests.stripe_support import RunningLocalStripe
from travelsim import cli, db
from travelsim.models import (
    Discrepancy,
    JobRun,
    Order,
    OutboxEmail,
    Payment,
    PaymentStatus,
    utcnow,
)
from travelsim.services import monitoring, reconciliation
from travelsim.services.jobs import metering
from travelsim.services.jobs.reconcile import run_reconciliation
from travelsim.services.payments import get_provider
from travelsim.settings import Settings
from travelsim.sft import SFTClient


async def stored() -> dict[str, Discrepancy]:
    async with db.session() as s:
        return {d.key: d for d in (await s.exec(select(Discrepancy))).all()}


async def staff_emails() -> list[OutboxEmail]:
    async with db.session() as s:
        q = select(OutboxEmail).where(col(OutboxEmail.kind) == "staff_reconciliation")
        return list((await s.exec(q)).all())


async def test_each_kind_is_found_exactly_once_rerun_is_idempotent_and_fixes_clear(
    any_db: Settings,
    own_stripe: RunningLocalStripe,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
) -> None:
    sim = sim_factory(esims=8)
    client = sft_clients(sim.url)
    await add_plan()
    staff = await make_staff("ops@example.com")

    healthy = await delivered_order(client)
    # (1) captured, then the add-on withdrawn on SFT: paid, not delivered.
    withdrawn = await delivered_order(client)
    await remove_addon_on_sft(client, withdrawn)
    # (2) an add-on subscribed on SFT with no order, on the healthy order's endpoint.
    orphan_uid = await subscribe_on_sft(client, healthy, PLAN_ID)
    # (3) the books say 19.90 where Stripe captured 9.90.
    mismatch = await delivered_order(client)
    await update(Order, mismatch.id, amount_minor=1990)
    # (4) the portal recorded a refund, the add-on was never withdrawn.
    refunded = await delivered_order(client)
    await update(Payment, refunded.payment_id, status=PaymentStatus.REFUNDED)
    # (5) a capture at Stripe that the portal never made.
    unknown_pi = stripe_capture_unknown_to_portal(own_stripe)
    # (6) the portal says captured; Stripe only holds it.
    held = await paid_order(client)
    await update(Payment, held.payment_id, status=PaymentStatus.SUCCEEDED)
    # (7) refunded at Stripe only: the refund is unrecorded and the add-on still live.
    stripe_refunded = await delivered_order(client)
    await get_provider().refund(await payment_ref(stripe_refunded))

    first = await reconciliation.reconcile(client)

    expected = {
        f"paid_not_delivered:{withdrawn.id}",
        f"orphan_addon:{orphan_uid}",
        f"amount_mismatch:{await payment_ref(mismatch)}",
        f"refunded_addon_live:{refunded.id}",
        f"stripe_unknown_capture:{unknown_pi}",
        f"portal_capture_missing:{held.payment_id}",
        f"refund_unrecorded:{await payment_ref(stripe_refunded)}",
        f"refunded_addon_live:{stripe_refunded.id}",
    }
    rows = await stored()
    assert set(rows) == expected
    assert (first.found, first.new, first.open, first.cleared) == (8, 8, 8, 0)
    assert first.endpoints_failed == []
    # The ids and amounts involved (the plan's price: 990 EUR minor units).
    m = rows[f"amount_mismatch:{await payment_ref(mismatch)}"]
    assert (m.order_id, m.expected_minor, m.expected_currency) == (mismatch.id, 1990, "EUR")
    assert (m.actual_minor, m.actual_currency) == (990, "EUR")
    o = rows[f"orphan_addon:{orphan_uid}"]
    endpoint, iccid = await endpoint_of(healthy)
    assert (o.endpoint_id, o.iccid, o.addon_unique_id, o.order_id) == (
        endpoint,
        iccid,
        orphan_uid,
        None,
    )
    u = rows[f"stripe_unknown_capture:{unknown_pi}"]
    assert (u.payment_intent, u.actual_minor, u.actual_currency) == (unknown_pi, 1500, "EUR")
    assert rows[f"paid_not_delivered:{withdrawn.id}"].addon_unique_id == withdrawn.addon_unique_id
    assert all(r.status == "open" and r.notified_at is not None for r in rows.values())
    async with db.session() as s:
        families = await monitoring.database_metrics(s, any_db)
    (gauge,) = [f for f in families if f.name == "travelsim_reconciliation_open"]
    assert {m.labels["kind"]: m.value for m in gauge.samples} == {
        "paid_not_delivered": 1,
        "orphan_addon": 1,
        "amount_mismatch": 1,
        "refunded_addon_live": 2,
        "stripe_unknown_capture": 1,
        "portal_capture_missing": 1,
        "refund_unrecorded": 1,
    }

    # Staff told once, one email listing every new discrepancy.
    (mail,) = await staff_emails()
    assert mail.to_address == staff.email
    assert "8 new discrepancies" in mail.subject
    assert all(r.detail in mail.body_text for r in rows.values())

    # Re-run (an hour later): same rows, nothing new, no second email.
    later = utcnow() + timedelta(hours=1)
    second = await reconciliation.reconcile(client, now=later)
    again = await stored()
    assert (second.found, second.new, second.reopened, second.cleared) == (8, 0, 0, 0)
    assert {k: r.id for k, r in again.items()} == {k: r.id for k, r in rows.items()}
    assert all(again[k].first_seen_at == rows[k].first_seen_at for k in rows)
    assert all(r.last_seen_at == later for r in again.values())
    assert len(await staff_emails()) == 1

    # The books corrected: the mismatch is cleared automatically, the rest stay open.
    await update(Order, mismatch.id, amount_minor=990)
    third = await reconciliation.reconcile(client, now=later + timedelta(hours=1))
    after = await stored()
    cleared = after[f"amount_mismatch:{await payment_ref(mismatch)}"]
    assert (cleared.status, cleared.resolved_by, cleared.resolution) == (
        "cleared",
        "reconciliation",
        "cleared",
    )
    assert (third.cleared, third.open) == (1, 7)
    assert sorted(k for k, r in after.items() if r.status == "open") == sorted(
        expected - {cleared.key}
    )

    # Broken again: the same row opens again, and staff are not emailed twice for it.
    await update(Order, mismatch.id, amount_minor=1990)
    fourth = await reconciliation.reconcile(client, now=later + timedelta(hours=2))
    reopened = (await stored())[cleared.key]
    assert (fourth.reopened, fourth.new, reopened.id, reopened.status) == (
        1,
        0,
        cleared.id,
        "open",
    )
    assert len(await staff_emails()) == 1


async def test_a_healthy_sale_has_no_discrepancy_and_the_job_records_its_run(
    sqlite_db: Settings,
    own_stripe: RunningLocalStripe,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
) -> None:
    sim = sim_factory(esims=3)
    client = sft_clients(sim.url)
    await add_plan()
    await make_staff()
    await delivered_order(client)
    await paid_order(client)  # held, provisioning not started: nothing to say yet

    await metering.record_run("reconciliation", lambda st: run_reconciliation(client, st))

    assert await stored() == {}
    assert await staff_emails() == []
    async with db.session() as s:
        (run,) = (await s.exec(select(JobRun))).all()
    assert (run.job, run.ok, run.items, run.errors) == ("reconciliation", True, 0, 0)
    assert run.detail["intents"] == 2 and run.detail["new"] == 0


async def test_an_endpoint_that_cannot_be_read_is_not_cleared(
    sqlite_db: Settings,
    own_stripe: RunningLocalStripe,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
) -> None:
    sim = sim_factory(esims=3)
    client = sft_clients(sim.url)
    await add_plan()
    await make_staff()
    order = await delivered_order(client)
    orphan_uid = await subscribe_on_sft(client, order, PLAN_ID)
    await reconciliation.reconcile(client)
    assert set(await stored()) == {f"orphan_addon:{orphan_uid}"}

    # Both add-on reads fail (the details call and its profile fallback).
    sim.fault("GetEndpointAddonDetails", "http500", count=100)
    sim.fault("GetEndPointProfile", "http500", count=100)
    report = await reconciliation.reconcile(client)

    endpoint, _ = await endpoint_of(order)
    assert report.endpoints_failed == [endpoint]
    assert (await stored())[f"orphan_addon:{orphan_uid}"].status == "open"


def test_cli_reconcile_prints_what_it_found_and_exits_3_while_open(
    sqlite_db: Settings, own_stripe: RunningLocalStripe, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown_pi = stripe_capture_unknown_to_portal(own_stripe, amount=700)
    try:
        status = cli.main(["reconcile"])
    finally:
        db.reset_engines()

    out = capsys.readouterr().out
    assert status == 3
    assert "found 1 discrepancies (stripe_unknown_capture: 1); 1 new" in out
    assert "1 open" in out
    assert unknown_pi in str(asyncio.run(_keys()))


async def _keys() -> list[str]:
    try:
        return sorted(await stored())
    finally:
        await db.async_engine().dispose()


async def test_two_runs_at_once_store_each_discrepancy_once_and_email_once(
    any_db: Settings,
    own_stripe: RunningLocalStripe,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
) -> None:
    sim = sim_factory(esims=3)
    client = sft_clients(sim.url)
    await add_plan()
    await make_staff()
    order = await delivered_order(client)
    orphan_uid = await subscribe_on_sft(client, order, PLAN_ID)

    reports = await asyncio.gather(
        reconciliation.reconcile(client), reconciliation.reconcile(sft_clients(sim.url))
    )

    assert set(await stored()) == {f"orphan_addon:{orphan_uid}"}
    assert sorted(r.new for r in reports) in ([0, 1], [1, 1])
    assert len(await staff_emails()) == 1

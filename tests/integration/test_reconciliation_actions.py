"""The one resolving action of each discrepancy kind (``services.admin.reconciliation``),
against localstripe, the SFT simulator over a loopback socket and a real database: each does
what docs/reconciliation.md#resolving says (read back from Stripe, SFT and the books), is
audited, and a later run agrees."""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support / recon_support)

from __future__ import annotations

from collections.abc import Callable

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
    stripe_intent,
    subscribe_on_sft,
    update,
)
from sqlmodel import col, select

from tests.stripe_support import RunningLocalStripe
from travelsim import db
from travelsim.models import AuditLog, Discrepancy, Order, Payment, PaymentStatus
from travelsim.services import reconciliation
from travelsim.services.admin.reconciliation import list_discrepancies, resolve_discrepancy
from travelsim.services.payments import get_provider
from travelsim.settings import Settings
from travelsim.sft import SFTClient

LIVE = ("Subscribed", "Active")


async def row(key: str) -> Discrepancy:
    async with db.session() as s:
        found = (await s.exec(select(Discrepancy).where(col(Discrepancy.key) == key))).one()
        return found


async def audit(action: str) -> list[AuditLog]:
    async with db.session() as s:
        q = select(AuditLog).where(col(AuditLog.action) == action).order_by(col(AuditLog.id))
        return list((await s.exec(q)).all())


def live_uids(sim: Sim, endpoint: str) -> set[str]:
    return {a["uniqueId"] for a in sim.addons(endpoint) if a["status"] in LIVE}


async def test_each_kind_is_resolved_by_its_action_and_audited(
    sqlite_db: Settings,
    own_stripe: RunningLocalStripe,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
) -> None:
    sim = sim_factory(esims=6)
    client = sft_clients(sim.url)
    await add_plan()
    staff = await make_staff()

    withdrawn = await delivered_order(client)
    await remove_addon_on_sft(client, withdrawn)
    healthy = await delivered_order(client)
    orphan_uid = await subscribe_on_sft(client, healthy, PLAN_ID)
    mismatch = await delivered_order(client)
    await update(Order, mismatch.id, amount_minor=1990)
    unknown_pi = stripe_capture_unknown_to_portal(own_stripe)
    stripe_refunded = await delivered_order(client)
    refunded_pi = await payment_ref(stripe_refunded)
    await get_provider().refund(refunded_pi)
    held = await paid_order(client)
    await update(Payment, held.payment_id, status=PaymentStatus.SUCCEEDED)
    await reconciliation.reconcile(client)

    async def resolve(key: str, note: str = "") -> str:
        d = await row(key)
        assert d.id is not None
        outcome = await resolve_discrepancy(staff, d.id, note=note, client=client)
        (entry, *_) = [a for a in await audit_all() if a.target_id == str(d.id)][-1:]
        assert (entry.result, entry.actor) == (outcome.result, staff.email)
        return outcome.result

    # (1) paid, not delivered -> refund through the admin refund path (forced: the add-on's
    # data use cannot be known once it is gone; the note is the reason).
    assert await resolve(f"paid_not_delivered:{withdrawn.id}", "never delivered") == "ok"
    charge = stripe_intent(own_stripe, await payment_ref(withdrawn))["latest_charge"]
    assert charge["amount_refunded"] == 990
    assert (await get(Payment, withdrawn.payment_id)).status == PaymentStatus.REFUNDED
    assert [a.result for a in await audit("order.refund")] == ["ok"]
    assert [a.result for a in await audit("reconciliation.refund")] == ["ok"]

    # (2) orphan add-on -> removed on SFT; the order's own add-on stays.
    endpoint, _ = await endpoint_of(healthy)
    assert orphan_uid in live_uids(sim, endpoint)
    assert await resolve(f"orphan_addon:{orphan_uid}") == "ok"
    assert live_uids(sim, endpoint) == {healthy.addon_unique_id}

    # (3) amount mismatch -> reviewed, only with a note; nothing else changes.
    key = f"amount_mismatch:{await payment_ref(mismatch)}"
    assert await resolve(key) == "refused"
    assert (await row(key)).status == "open"
    assert await resolve(key, "agreed with the traveler by phone") == "ok"
    reviewed = await row(key)
    assert (reviewed.status, reviewed.resolution, reviewed.resolved_by) == (
        "resolved",
        "reviewed",
        staff.email,
    )
    assert "agreed with the traveler by phone" in (reviewed.resolution_note or "")

    # (5) capture unknown to the portal -> refunded at Stripe (note required).
    assert await resolve(f"stripe_unknown_capture:{unknown_pi}", "walk-in, refunded") == "ok"
    assert stripe_intent(own_stripe, unknown_pi)["latest_charge"]["amount_refunded"] == 1500

    # (7) refund made at Stripe only -> recorded in the books.
    assert await resolve(f"refund_unrecorded:{refunded_pi}") == "ok"
    assert (await get(Payment, stripe_refunded.payment_id)).status == PaymentStatus.REFUNDED

    # (4) refunded, add-on still live -> removed on SFT.
    refunded_endpoint, _ = await endpoint_of(stripe_refunded)
    assert await resolve(f"refunded_addon_live:{stripe_refunded.id}") == "ok"
    assert live_uids(sim, refunded_endpoint) == set()

    # (6) capture missing at Stripe -> reviewed with a note.
    assert await resolve(f"portal_capture_missing:{held.payment_id}", "checked Stripe") == "ok"

    # A resolved one is not resolved twice.
    assert await resolve(f"orphan_addon:{orphan_uid}") == "refused"

    # The next run agrees: what was fixed is gone, the reviewed ones stay resolved.
    report = await reconciliation.reconcile(client)
    assert report.open == 0
    assert (await row(key)).status == "resolved"
    async with db.session() as s:
        assert (await list_discrepancies(s)).total == 0
        history = await list_discrepancies(s, history=True)
    assert history.total == 7
    assert {r["resolution"] for r in history.rows} == {
        "refund",
        "remove_addon",
        "reviewed",
        "refund_stripe",
        "record_refund",
    }


async def audit_all() -> list[AuditLog]:
    async with db.session() as s:
        q = select(AuditLog).where(col(AuditLog.action).like("reconciliation.%"))
        return list((await s.exec(q.order_by(col(AuditLog.id)))).all())

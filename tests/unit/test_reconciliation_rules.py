"""The reconciliation's rules (``services.reconciliation_checks``) on hand-made sources: what
docs/reconciliation.md#what-is-compared says is, and is not, a discrepancy; and how a
PaymentIntent is read (``reconciliation_stripe.intent_from``) in Stripe's shape and
localstripe's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from travelsim.services.reconciliation_checks import OrderFacts, Sources, find_discrepancies
from travelsim.services.reconciliation_stripe import StripeIntent, intent_from
from travelsim.sft.models import AddonDetail, AddonStatus

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
EP = "ep-1"


def order(**kw: Any) -> OrderFacts:
    base = OrderFacts(
        order_id="o1",
        reference="TS-AAAAAA",
        status="delivered",
        amount_minor=990,
        currency="EUR",
        created_at=NOW - timedelta(days=1),
        addon_unique_id="u1",
        esim_id=1,
        iccid="8900000000000000001",
        endpoint_id=EP,
        payment_id=1,
        payment_status="succeeded",
        payment_provider="stripe",
        payment_ref="pi_1",
    )
    return replace(base, **kw)


def intent(**kw: Any) -> StripeIntent:
    base = StripeIntent(
        id="pi_1",
        status="succeeded",
        amount_minor=990,
        captured_minor=990,
        refunded_minor=0,
        currency="EUR",
        created=NOW - timedelta(days=1),
    )
    return replace(base, **kw)


def addon(uid: str = "u1", status: AddonStatus = AddonStatus.ACTIVE) -> AddonDetail:
    gb = 1_073_741_824  # the simulator catalogue's 1 GB plan, nothing used
    return AddonDetail(
        unique_id=uid,
        plan_id="870101",
        status=status,
        status_raw=str(status),
        initial_bytes=gb,
        remaining_bytes=gb,
        used_bytes=0,
    )


def keys(
    orders: list[OrderFacts],
    intents: dict[str, StripeIntent | None],
    addons: dict[str, list[AddonDetail]],
    **kw: Any,
) -> list[str]:
    src = Sources(
        orders=orders,
        window_start=NOW - timedelta(days=90),
        intents=intents,
        addons=addons,
        endpoints={EP: (1, "8900000000000000001")},
        **kw,
    )
    return [f.key for f in find_discrepancies(src)]


def test_a_delivered_captured_order_with_its_add_on_live_agrees() -> None:
    assert keys([order()], {"pi_1": intent()}, {EP: [addon()]}) == []


def test_an_add_on_that_ended_and_dropped_off_the_list_was_delivered() -> None:
    # One-time add-ons leave the platform's list once expired or used up; the portal saw it.
    assert keys([order()], {"pi_1": intent()}, {EP: []}, seen_addons={"u1"}) == []
    assert keys([order()], {"pi_1": intent()}, {EP: []}) == ["paid_not_delivered:o1"]


def test_a_withdrawn_add_on_of_a_captured_order_is_paid_not_delivered() -> None:
    listed = {EP: [addon(status=AddonStatus.DEACTIVATED)]}
    assert keys([order()], {"pi_1": intent()}, listed) == ["paid_not_delivered:o1"]


def test_nothing_is_concluded_about_an_endpoint_that_was_not_read() -> None:
    assert keys([order()], {"pi_1": intent()}, {}) == []


def test_a_held_payment_of_an_order_still_provisioning_is_not_a_discrepancy() -> None:
    held = intent(status="requires_capture", captured_minor=0)
    o = order(status="provisioning", payment_status="authorized", addon_unique_id=None)
    # An add-on its run subscribed a moment ago, not recorded yet: not an orphan either.
    assert keys([o], {"pi_1": held}, {EP: [addon("u-new")]}) == []


def test_amounts_are_compared_in_minor_units_and_currency() -> None:
    assert keys([order(currency="GBP")], {"pi_1": intent()}, {EP: [addon()]}) == [
        "amount_mismatch:pi_1"
    ]
    assert keys([order(amount_minor=991)], {"pi_1": intent()}, {EP: [addon()]}) == [
        "amount_mismatch:pi_1"
    ]


def test_a_staff_order_add_on_is_paid_for() -> None:
    waived = order(payment_status="waived", payment_provider="staff", payment_ref=None)
    assert keys([waived], {}, {EP: [addon()]}) == []


def test_a_full_refund_at_stripe_of_an_unknown_capture_is_settled() -> None:
    stray = intent(id="pi_x", refunded_minor=990)
    assert keys([], {"pi_x": stray}, {}) == []
    assert keys([], {"pi_x": intent(id="pi_x")}, {}) == ["stripe_unknown_capture:pi_x"]


def test_orders_and_captures_before_the_window_are_not_checked_again() -> None:
    old = NOW - timedelta(days=200)
    assert keys([order(created_at=old, amount_minor=1)], {"pi_1": intent()}, {EP: [addon()]}) == []
    assert keys([], {"pi_x": intent(id="pi_x", created=old)}, {}) == []


def test_a_payment_without_an_order_is_known_to_the_portal() -> None:
    assert keys([], {"pi_x": intent(id="pi_x")}, {}, payment_refs={"pi_x"}) == []


def test_intent_from_reads_stripe_and_localstripe_shapes() -> None:
    stripe_shape = {
        "id": "pi_1",
        "status": "succeeded",
        "amount": 990,
        "amount_received": 990,
        "currency": "eur",
        "created": 1796352833,
        "metadata": {"checkout_id": "c-1"},
        "latest_charge": {"id": "ch_1", "captured": True, "amount": 990, "amount_refunded": 500},
    }
    got = intent_from(stripe_shape)
    assert (got.captured_minor, got.refunded_minor, got.currency, got.checkout_id) == (
        990,
        500,
        "EUR",
        "c-1",
    )
    assert got.created == datetime.fromtimestamp(1796352833, UTC)
    # localstripe: no amount_received; a held PaymentIntent's charge is not captured.
    held = {**stripe_shape, "status": "requires_capture", "amount_received": None}
    held["latest_charge"] = {"captured": False, "amount": 990, "amount_refunded": 0}
    assert (intent_from(held).captured_minor, intent_from(held).held) == (0, True)
    # Not expanded (an id): nothing refunded can be read from it.
    assert intent_from({**stripe_shape, "latest_charge": "ch_1"}).refunded_minor == 0

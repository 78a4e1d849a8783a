"""Staff admin papercuts: counts in words, an action offered only when it applies (and
refused by the service otherwise), the outbox saying where mail goes without SMTP, and
date filters that are unambiguous UTC days."""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    ProxyProvider,
    Sim,
    add_plan,
    add_user,
    buy,
    make_staff,
    sft_clients,
    sim_factory,
    stripe_get,
)
from test_admin_lists import seed_orders

from travelsim import db
from travelsim.models import Order, Payment
from travelsim.services import admin
from travelsim.settings import Settings
from travelsim.sft import SFTClient


async def get(model: Any, key: Any) -> Any:
    async with db.session() as s:
        return await s.get(model, key)


@pytest.mark.parametrize(
    ("n", "word", "expected"),
    [(0, "row", "0 rows"), (1, "row", "1 row"), (2, "row", "2 rows"), (1, "fault", "1 fault")],
)
def test_count_in_words(n: int, word: str, expected: str) -> None:
    assert admin.count_of(n, word) == expected


async def test_list_count_labels_are_singular_for_one_row(sqlite_db: Settings) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    refs = await seed_orders(2, start=start)
    async with db.session() as s:
        one = await admin.list_orders(s, reference=refs[0])
        two = await admin.list_orders(s)
        none = await admin.list_orders(s, reference="nothing-like-it")
    assert (one.total, one.count_label) == (1, "1 row")
    assert (two.total, two.count_label) == (2, "2 rows")
    assert (none.total, none.count_label) == (0, "0 rows")


class CountingProvider(ProxyProvider):
    """localstripe, with the PaymentIntents it was asked to cancel recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.voids: list[str] = []

    async def void(self, ref: str) -> None:
        await super().void(ref)
        self.voids.append(ref)


async def test_void_is_offered_once_and_refused_the_second_time(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    staff = await make_staff()
    outcome = await buy(await add_user(), client)
    assert outcome.order_id
    provider = CountingProvider()
    async with db.session() as s:
        before = await admin.order_detail(s, outcome.order_id)
    assert before is not None
    assert before["can_void"] is True and before["can_refund"] is False
    assert before["payment_action"] == "void"

    first = await admin.refund_order(staff, outcome.order_id, client=client, provider=provider)
    assert first.result == "ok", first.message

    async with db.session() as s:
        after = await admin.order_detail(s, outcome.order_id)
    assert after is not None
    assert after["payment_status"] == "voided"
    assert after["can_void"] is False and after["can_refund"] is False
    assert after["payment_action"] == ""  # nothing to offer: the page shows no button
    second = await admin.refund_order(staff, outcome.order_id, client=client, provider=provider)
    assert second.result == "refused"
    assert "already voided" in second.message
    order = await get(Order, outcome.order_id)
    assert (await get(Payment, order.payment_id)).status == "voided"
    assert len(provider.voids) == 1  # Stripe was asked once
    assert stripe_get(f"payment_intents/{provider.voids[0]}")["status"] == "canceled"


def test_outbox_hint_without_smtp_says_where_mail_goes(sqlite_db: Settings) -> None:
    assert sqlite_db.smtp_host is None
    hint = admin.mail_delivery_hint(sqlite_db)
    assert hint is not None
    assert "SMTP_HOST" in hint and "not configured" in hint
    assert "stay" in hint and "queued" in hint
    demo = admin.mail_delivery_hint(sqlite_db.model_copy(update={"app_env": "demo"}))
    assert demo is not None and "/demo/mailbox" in demo


def test_outbox_hint_absent_with_smtp(sqlite_db: Settings) -> None:
    configured = sqlite_db.model_copy(update={"smtp_host": "mail.example.com"})
    assert admin.mail_delivery_hint(configured) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01", "2026-03-01"),
        (" 2026-12-31 ", "2026-12-31"),
        ("", None),
    ],
)
def test_filter_day_accepts_iso_utc_days(text: str, expected: str | None) -> None:
    day = admin.parse_filter_day(text)
    assert (day.isoformat() if day else None) == expected


@pytest.mark.parametrize("text", ["03/01/2026", "01.03.2026", "2026-13-01", "yesterday"])
def test_filter_day_refuses_ambiguous_or_invalid_dates(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        admin.parse_filter_day(text)

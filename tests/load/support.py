"""Helpers shared by the load tests (no tests here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from checkout_support import card_token_async
from sqlmodel import select

from tests.harness import ROOT, SimProcess, free_port
from travelsim import db
from travelsim.models import Checkout, Esim, Order, OutboxEmail, Payment, User
from travelsim.services import checkout, checkout_outcome, checkout_payment, consent, inventory
from travelsim.services.payments import PaymentProvider
from travelsim.sft import SFTClient

PLAN_ID = "870101"  # simulator catalogue: "France 1 GB 7 days"
CARD_OK = "4242 4242 4242 4242"


async def rows(model: Any) -> list[Any]:
    async with db.session() as s:
        return list((await s.exec(select(model))).all())


async def seed_pool(client: SFTClient) -> int:
    """Mirror the simulator's free eSIMs into the local pool (``inventory.refill_pool``)."""
    async with db.session() as s:
        return await inventory.refill_pool(client, s)


async def add_users(n: int, prefix: str = "load") -> list[User]:
    async with db.session() as s:
        users = [User(email=f"{prefix}{i}@example.com", password_hash="x") for i in range(n)]
        s.add_all(users)
        await s.commit()
        for u in users:
            await s.refresh(u)
        return users


async def checkout_and_pay(
    user: User, client: SFTClient | None, provider: PaymentProvider
) -> checkout_outcome.PayOutcome | str:
    """``start_checkout`` + ``pay`` in two sessions, as the UI does (no provisioning started:
    the tests run it themselves), the card a Stripe.js-style token made on the provider's
    localstripe (``checkout_support.card_token``). Returns the outcome, or the CheckoutError
    code when refused."""
    try:
        async with db.session() as s:
            c = await checkout.start_checkout(
                s, user=user, plan_id=PLAN_ID, destination="FR", client=client
            )
            checkout_id = c.id
        token = await card_token_async(CARD_OK, getattr(provider, "api_base", None))
        async with db.session() as s:
            return await checkout_payment.pay(
                s,
                provider,
                checkout_id=checkout_id,
                user=user,
                card=checkout_payment.NewCard(token),
                device_confirmed=True,
                start_provisioning=None,
                acceptance=consent.Acceptance.given_now(),
            )
    except checkout.CheckoutError as exc:
        return exc.code


def duplicate_subscriptions(state: dict[str, Any]) -> dict[str, dict[str, int]]:
    """(endpoint, plan) pairs the simulator subscribed more than once, from its own records."""
    per_plan: dict[str, dict[str, int]] = state["subscriptionsPerEndpointPlan"]
    return {
        ep: {plan: n for plan, n in plans.items() if n > 1}
        for ep, plans in per_plan.items()
        if any(n > 1 for n in plans.values())
    }


async def ledger() -> tuple[list[Order], list[Payment], list[Checkout], list[Esim], list[Any]]:
    """Every order, payment, checkout, eSIM and email of the database."""
    return (
        await rows(Order),
        await rows(Payment),
        await rows(Checkout),
        await rows(Esim),
        await rows(OutboxEmail),
    )


def distinct(values: Sequence[Any]) -> bool:
    return len(set(values)) == len(values)


# --- a standalone simulator process: the shared harness's (tests/harness.py) -----------------
__all__ = ["ROOT", "SimProcess", "free_port"]

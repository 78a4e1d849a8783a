"""Helpers of the gift tests (docs/business-rules.md#gifts): a gift bought, paid on
localstripe and provisioned on the simulator, its claim link read from the outbox row the
recipient is sent, and signed-in sessions for the HTTP routes. No tests here."""

from __future__ import annotations

import re
from dataclasses import dataclass

from checkout_support import add_user, pay_checkout
from sqlmodel import col, select

from travelsim import db
from travelsim.models import Order, OutboxEmail, User, utcnow
from travelsim.services import checkout, gifts, provisioning
from travelsim.services.auth import sessions
from travelsim.sft import SFTClient

FAST = {"backoff": (0.01,)}
_TOKEN = re.compile(r"/gifts/claim\?token=([A-Za-z0-9_-]+)")


@dataclass
class Gifted:
    buyer: User
    order: Order


async def verified_user(email: str) -> User:
    """An account whose address is verified."""
    user = await add_user(email)
    async with db.session() as s:
        row = await s.get(User, user.id)
        assert row is not None
        row.email_verified_at = utcnow()
        s.add(row)
        await s.commit()
        await s.refresh(row)
        return row


async def gift_order(
    client: SFTClient,
    recipient: str,
    *,
    message: str | None = "Happy travels! <b>x</b>",
    locale: str = "en",
) -> Gifted:
    """A buyer opens a checkout, marks it as a gift for ``recipient`` (on a page in
    ``locale``), pays with 4242 and the order is provisioned to ``delivered``."""
    buyer = await verified_user(f"buyer{utcnow().timestamp()}@example.com")
    async with db.session() as s:
        co = await checkout.start_checkout(
            s, user=buyer, plan_id="870101", destination="FR", client=client
        )
        await gifts.mark_checkout(
            s, buyer=buyer, checkout_id=co.id, recipient=recipient, message=message, locale=locale
        )
        await s.commit()
    outcome = await pay_checkout(buyer, co.id)
    assert outcome.status == "paid" and outcome.order_id, outcome
    order = await provisioning.run_order(outcome.order_id, client=client, **FAST)
    assert order.status == "delivered", order.last_error
    return Gifted(buyer, order)


async def mails(to: str, kind: str) -> list[OutboxEmail]:
    async with db.session() as s:
        rows = await s.exec(
            select(OutboxEmail)
            .where(OutboxEmail.to_address == to)
            .where(OutboxEmail.kind == kind)
            .order_by(col(OutboxEmail.id))
        )
        return list(rows.all())


async def claim_tokens(to: str) -> list[str]:
    """The raw claim tokens of every claim email queued to ``to``, oldest first, read from
    the text body's link."""
    found = []
    for row in await mails(to, "gift_claim"):
        match = _TOKEN.search(row.body_text)
        assert match, row.body_text
        found.append(match.group(1))
    return found


async def session_token(user: User) -> str:
    async with db.session() as s:
        token = await sessions.start_session(s, user, method="password")
        await s.commit()
        return token

"""What Stripe says about the portal's money, for the reconciliation: :func:`read_intents`.

Read through the official ``stripe`` library (docs/reconciliation.md#reading-stripe):

* **The period's PaymentIntents** are listed (``GET /v1/payment_intents``,
  https://docs.stripe.com/api/payment_intents/list), 100 a page, every page followed with
  ``auto_paging_iter`` (https://docs.stripe.com/api/pagination/auto), each with its
  ``latest_charge`` expanded (https://docs.stripe.com/expand): the charge says what was
  captured and refunded (``captured``, ``amount_refunded``), so no separate refunds list is
  needed. On Stripe the period is the list's ``created[gte]`` filter. localstripe 1.15.10
  lists PaymentIntents with ``limit`` and ``starting_after`` only (it answers 400
  "Unexpected created" to a ``created`` filter): there the whole list is paged and filtered
  by ``created`` here.
* **The portal's own PaymentIntents** missing from that list (older than the period) are
  retrieved one by one (``GET /v1/payment_intents/<id>``); one Stripe does not have is
  reported as ``None`` (a portal capture Stripe does not know).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

from travelsim.services.payments import _wrap
from travelsim.stripe_config import StripeConfig, stripe_config

__all__ = ["StripeIntent", "intent_from", "read_intents"]

#: Page size of the list calls (Stripe's maximum).
PAGE_SIZE = 100
#: Stripe's PaymentIntent statuses read here (Stripe's words, not the portal's statuses;
#: https://docs.stripe.com/payments/paymentintents/lifecycle).
STRIPE_CAPTURED = "succeeded"
STRIPE_HELD = "requires_capture"


@dataclass(frozen=True, slots=True)
class StripeIntent:
    """One PaymentIntent as the reconciliation reads it.

    ``status``: Stripe's own (``requires_capture`` = held, ``succeeded`` = captured,
    ``canceled``, …). ``amount_minor``: the PaymentIntent's amount; ``captured_minor``: what
    was captured (``amount_received``, or the captured charge's amount; 0 when nothing was);
    ``refunded_minor``: refunded so far (the latest charge's ``amount_refunded``); all in
    minor units of ``currency`` (upper-case ISO 4217). ``created``: UTC.
    ``checkout_id``: the portal's ``metadata.checkout_id``, when it carries one."""

    id: str
    status: str
    amount_minor: int
    captured_minor: int
    refunded_minor: int
    currency: str
    created: datetime
    checkout_id: str | None = None

    @property
    def captured(self) -> bool:
        """True when money was taken (``succeeded``)."""
        return self.status == STRIPE_CAPTURED

    @property
    def held(self) -> bool:
        """True while the amount is held on the card, not captured (``requires_capture``)."""
        return self.status == STRIPE_HELD


def _dict(obj: Any) -> dict[str, Any]:
    if obj is None or isinstance(obj, str):
        return {}
    if isinstance(obj, dict):
        return obj
    return dict(obj.to_dict())


def intent_from(obj: Any) -> StripeIntent:
    """A :class:`StripeIntent` from a PaymentIntent (a ``stripe`` object or its dict) whose
    ``latest_charge`` may be expanded (an object) or not (an id: nothing refunded is read)."""
    data = _dict(obj)
    charge = _dict(data.get("latest_charge"))
    status = str(data.get("status") or "")
    amount = int(data.get("amount") or 0)
    received = data.get("amount_received")
    if received is None:  # localstripe has no amount_received: the captured charge's amount
        received = charge.get("amount", amount) if charge.get("captured") else 0
    if status == STRIPE_CAPTURED and not received:
        received = amount
    metadata = data.get("metadata") or {}
    return StripeIntent(
        id=str(data.get("id")),
        status=status,
        amount_minor=amount,
        captured_minor=int(received or 0),
        refunded_minor=int(charge.get("amount_refunded") or 0),
        currency=str(data.get("currency") or "").upper(),
        created=datetime.fromtimestamp(int(data.get("created") or 0), UTC),
        checkout_id=(str(metadata["checkout_id"]) if metadata.get("checkout_id") else None),
    )


def _client(config: StripeConfig) -> stripe.StripeClient:
    return stripe.StripeClient(
        config.secret_key,
        base_addresses={"api": config.api_base},
        http_client=stripe.HTTPXClient(timeout=30.0),
        max_network_retries=2,
    )


async def read_intents(
    since: datetime,
    portal_refs: Iterable[str],
    *,
    config: StripeConfig | None = None,
) -> dict[str, StripeIntent | None]:
    """The PaymentIntents created at or after ``since`` (UTC) and every id of
    ``portal_refs`` (``pi_…``; those Stripe does not have map to ``None``), by id (module
    docstring). ``config``: default :func:`stripe_config`. Raises
    ``travelsim.services.payments.PaymentProviderError`` when Stripe cannot be read
    (nothing is concluded from a partial read)."""
    cfg = config or stripe_config()
    client = _client(cfg)
    params: dict[str, Any] = {"limit": PAGE_SIZE, "expand": ["data.latest_charge"]}
    if not cfg.local:
        params["created"] = {"gte": int(since.timestamp())}
    found: dict[str, StripeIntent | None] = {}
    try:
        page = await client.v1.payment_intents.list_async(params=params)  # type: ignore[arg-type]
        async for obj in page.auto_paging_iter():
            intent = intent_from(obj)
            if intent.created >= since:
                found[intent.id] = intent
        for ref in sorted(set(portal_refs) - set(found)):
            try:
                obj = await client.v1.payment_intents.retrieve_async(
                    ref, params={"expand": ["latest_charge"]}
                )
            except stripe.StripeError as exc:
                wrapped = _wrap(exc)
                if wrapped.code != "unknown_ref":
                    raise wrapped from None
                found[ref] = None
                continue
            found[ref] = intent_from(obj)
    except stripe.StripeError as exc:
        raise _wrap(exc) from None
    return found

"""``POST /stripe/webhook``: Stripe's webhook events (docs/payments.md#webhooks).

Stripe's servers post signed events here (https://docs.stripe.com/webhooks). The route reads
the raw body (the signature covers its exact bytes) and hands it to
:func:`travelsim.services.stripe_events.apply_event`. Answers:

* ``200 {"received": true, "outcome": …}``: applied, ignored (unknown PaymentIntent, an
  event type the portal does not handle) or already applied (a retried or replayed event);
* ``400 {"error": "unsigned" | "bad_signature" | "malformed"}``: not a genuine, fresh Stripe
  event (no signature, wrong secret, timestamp older than the tolerance); nothing changed;
* ``413`` above :data:`MAX_BODY_BYTES` (Stripe's events are a few KiB);
* ``503 {"error": "stripe_unavailable"}``: Stripe could not be read to apply the event; it
  was not recorded, so Stripe's retry applies it.

The path is one of ``travelsim.routes.http.SERVER_TO_SERVER``: Stripe's POST carries no
browser origin and no session cookie; the signature authenticates it. Like the platform
callback receiver (``travelsim.routes.callbacks``) it has no rate limit of its own: a
request without a valid signature costs one HMAC and is refused before any database work.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from travelsim.services import stripe_events
from travelsim.services.payments import get_provider

__all__ = ["MAX_BODY_BYTES", "WEBHOOK_PATH", "stripe_webhook", "stripe_webhook_routes"]

log = logging.getLogger(__name__)

#: The webhook endpoint's path (registered at Stripe as ``<PUBLIC_URL>/stripe/webhook``).
WEBHOOK_PATH = "/stripe/webhook"
#: Largest accepted body: 256 KiB.
MAX_BODY_BYTES = 256 * 1024


class _TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    """The raw body, at most :data:`MAX_BODY_BYTES` (raises _TooLarge beyond)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def stripe_webhook(request: Request) -> Response:
    """``POST /stripe/webhook`` (module docstring)."""
    try:
        payload = await _body(request)
    except _TooLarge:
        return JSONResponse({"error": "body too large"}, status_code=413)
    from travelsim.stripe_config import stripe_config

    try:
        result = await stripe_events.apply_event(
            payload,
            request.headers.get("stripe-signature"),
            config=stripe_config(),
            provider=get_provider(),
        )
    except stripe_events.WebhookRefused as exc:
        log.warning("Stripe webhook refused", extra={"reason": exc.reason})
        return JSONResponse({"error": exc.reason}, status_code=400)
    except stripe_events.WebhookUnavailable:
        return JSONResponse({"error": "stripe_unavailable"}, status_code=503)
    return JSONResponse(
        {"received": True, "outcome": result.outcome, "duplicate": result.duplicate}
    )


def stripe_webhook_routes() -> list[Route]:
    """``POST /stripe/webhook``."""
    return [Route(WEBHOOK_PATH, stripe_webhook, methods=["POST"])]

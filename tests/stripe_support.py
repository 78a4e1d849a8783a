"""localstripe for the tests: a running one, and what the browser or Stripe would send.

* fixture ``localstripe`` (session scope, registered in ``tests/conftest.py``): a
  :class:`RunningLocalStripe` (``travelsim.stripe_local.LocalStripe`` on a free loopback port
  with its own temporary store), with ``STRIPE_LOCAL_PORT`` set (and every other
  ``STRIPE_*`` setting removed) for the whole session, so ``stripe_config()`` of any
  demo/test settings points at it. The app under ``tests/harness.py`` starts its own instead.
* :func:`card_token`: what Stripe.js ``createToken`` does in the browser (``POST
  /v1/tokens`` with the card and the publishable key): the card never reaches the portal, the
  test hands the portal only the ``tok_…`` id, as the browser would.
* :func:`authenticate_3ds`: the fake Stripe.js 3-D Secure dialog's "Complete/Fail
  authentication" buttons (localstripe behaviour).
* :func:`signed_event_headers` / :func:`event_payload`: a webhook as Stripe signs it
  (https://docs.stripe.com/webhooks#verify-manually), for the events localstripe never sends
  (``charge.refunded``, ``charge.dispute.created``, ``payment_intent.canceled``...).

Imports nothing from ``travelsim`` at module import time (the fixture imports the launcher
when it starts), and ``pytest`` not at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tests.harness import free_port, keep_test_data

if TYPE_CHECKING:
    import stripe

    from travelsim.stripe_local import LocalStripe

#: The embedded localstripe's keys (``travelsim.stripe_config``; localstripe accepts any).
SECRET_KEY = "sk_test_localstripe"
PUBLISHABLE_KEY = "pk_test_localstripe"
#: Stripe's test cards (https://docs.stripe.com/testing), as localstripe treats them.
CARD_OK = "4242424242424242"  # authorised (requires_capture with manual capture)
CARD_3DS = "4000002500003155"  # requires_action: 3-D Secure
CARD_DECLINED = "4000000000000002"  # card_declined (when attached to a Customer)
#: The settings the ``localstripe`` fixture clears for the session (real Stripe never used).
STRIPE_SETTINGS = (
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "STRIPE_JS_URL",
)


def next_year() -> int:
    return datetime.now(UTC).year + 1


def card_token(
    base: str,
    number: str,
    exp_month: int = 12,
    exp_year: int | None = None,
    cvc: str = "123",
    *,
    key: str = PUBLISHABLE_KEY,
) -> str:
    """A card token ``tok_…`` for ``number`` from the Stripe at ``base``, made the way
    Stripe.js ``createToken`` makes it in the browser: form data ``card[number]``,
    ``card[exp_month]``, ``card[exp_year]`` (4 digits; default next year), ``card[cvc]`` and
    the publishable ``key`` POSTed to ``<base>/v1/tokens`` (https://docs.stripe.com/api/tokens/create_card).
    Raises ``AssertionError`` with Stripe's answer when refused."""
    response = httpx.post(
        f"{base}/v1/tokens",
        data={
            "card[number]": number,
            "card[exp_month]": str(exp_month),
            "card[exp_year]": str(exp_year or next_year()),
            "card[cvc]": cvc,
            "key": key,
        },
        timeout=10,
    )
    assert response.status_code == 200, f"POST /v1/tokens: {response.status_code} {response.text}"
    token = str(response.json()["id"])
    assert token.startswith("tok_"), token
    return token


def authenticate_3ds(
    base: str, pi_id: str, client_secret: str, success: bool, *, key: str = PUBLISHABLE_KEY
) -> dict[str, Any]:
    """Pass (``success``) or fail the 3-D Secure step of PaymentIntent ``pi_id`` in
    ``requires_action``, as the fake Stripe.js dialog does: ``POST
    <base>/v1/payment_intents/<pi>/_authenticate?success=true|false`` with JSON ``key`` and
    ``client_secret`` (localstripe behaviour; on real Stripe the bank's page does this).
    Returns the PaymentIntent (dict). Raises ``AssertionError`` when refused."""
    response = httpx.post(
        f"{base}/v1/payment_intents/{pi_id}/_authenticate",
        params={"success": "true" if success else "false"},
        json={"key": key, "client_secret": client_secret},
        timeout=10,
    )
    assert response.status_code == 200, f"_authenticate: {response.status_code} {response.text}"
    out: dict[str, Any] = response.json()
    return out


def signed_event_headers(
    payload: bytes, secret: str, timestamp: int | None = None
) -> dict[str, str]:
    """Headers of a webhook delivery of ``payload`` signed with ``secret`` at ``timestamp``
    (seconds since the epoch; default now): ``Stripe-Signature: t=<ts>,v1=<hex
    HMAC-SHA256(secret, "<ts>.<payload>")>`` and the JSON content type
    (https://docs.stripe.com/webhooks#verify-manually)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    signature = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return {
        "Stripe-Signature": f"t={ts},v1={signature}",
        "Content-Type": "application/json; charset=utf-8",
    }


def event_payload(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    created: int | None = None,
) -> bytes:
    """The JSON body of a Stripe event ``event_type`` about ``obj`` (e.g. a PaymentIntent's
    ``to_dict()``): ``{"id": "evt_…", "object": "event", "type", "created", "data":
    {"object": obj}, ...}`` (https://docs.stripe.com/api/events/object)."""
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2024-06-20",
        "type": event_type,
        "created": int(time.time()) if created is None else created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": obj},
    }
    return json.dumps(event).encode()


@dataclass
class RunningLocalStripe:
    """A running localstripe: its ``base`` URL (``http://127.0.0.1:<port>``), keys, store
    and log; helpers bound to it."""

    process: LocalStripe
    port: int
    store_path: Path
    log_path: Path
    secret_key: str = SECRET_KEY
    publishable_key: str = PUBLISHABLE_KEY

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def card_token(self, number: str, **kwargs: Any) -> str:
        """:func:`card_token` on this localstripe."""
        return card_token(self.base, number, **kwargs)

    def authenticate_3ds(self, pi_id: str, client_secret: str, success: bool) -> dict[str, Any]:
        """:func:`authenticate_3ds` on this localstripe."""
        return authenticate_3ds(self.base, pi_id, client_secret, success)

    def register_webhook(self, url: str, secret: str, events: list[str] | None = None) -> None:
        """Events of this localstripe go to ``url``, signed with ``secret``."""
        self.process.register_webhook(url, secret, events=events)

    def client(self) -> stripe.StripeClient:
        """The official client pointed here, sync and async methods allowed."""
        import stripe

        return stripe.StripeClient(
            self.secret_key,
            base_addresses={"api": self.base},
            http_client=stripe.HTTPXClient(allow_sync_methods=True),
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_localstripe(folder: Path | None = None) -> Iterator[RunningLocalStripe]:
    """A localstripe on a free loopback port with its store and log in ``folder`` (default: a
    fresh temporary folder, removed afterwards unless ``KEEP_TEST_DATA``); stopped on exit."""
    from travelsim.stripe_local import LocalStripe

    own = folder is None
    where = Path(tempfile.mkdtemp(prefix="travelsim-localstripe-")) if own else Path(folder)
    port = free_port()
    store, log = where / "localstripe.pickle", where / "localstripe.log"
    process = LocalStripe().start(port, store, log_path=log)
    try:
        yield RunningLocalStripe(process, port, store, log)
    finally:
        process.stop()
        if own and not keep_test_data():
            shutil.rmtree(where, ignore_errors=True)


def localstripe_session() -> Iterator[RunningLocalStripe]:
    """The body of the session fixture ``localstripe``: :func:`running_localstripe` with
    ``STRIPE_LOCAL_PORT`` pointing at it (and :data:`STRIPE_SETTINGS` unset) until the end of
    the session; the settings cache is cleared on the way in and out."""
    from travelsim.settings import get_settings

    saved = {name: os.environ.get(name) for name in ("STRIPE_LOCAL_PORT", *STRIPE_SETTINGS)}
    with running_localstripe() as running:
        for name in STRIPE_SETTINGS:
            os.environ.pop(name, None)
        os.environ["STRIPE_LOCAL_PORT"] = str(running.port)
        get_settings.cache_clear()
        try:
            yield running
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            get_settings.cache_clear()

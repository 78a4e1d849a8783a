"""Where the portal's Stripe calls go, with which keys: :func:`stripe_config`.

Two cases (docs/going-live.md#payments-stripe):

* ``STRIPE_SECRET_KEY`` set (production and staging always; demo/test to try real Stripe
  test mode): the real Stripe API at ``https://api.stripe.com`` (``STRIPE_API_BASE`` may
  override it outside production: in staging only with a localstripe on loopback, whose fake
  Stripe.js is then the default ``js_url``), Stripe.js from ``STRIPE_JS_URL``, and the three
  keys from the environment;
* demo/test without ``STRIPE_SECRET_KEY``: the embedded localstripe (a fake Stripe server the
  app starts as a separate process, ``travelsim.stripe_local``) on
  ``http://127.0.0.1:<STRIPE_LOCAL_PORT>``, with its fake Stripe.js, the fixed keys
  :data:`LOCAL_SECRET_KEY` / :data:`LOCAL_PUBLISHABLE_KEY` (localstripe accepts any
  ``sk_``/``pk_`` key) and a webhook secret derived from ``SECRET_KEY`` (or the key generated
  into ``DATA_DIR/signing.key``), so every worker of one install agrees on it.

The start-up checks (``travelsim.startup``) refuse the settings this module would reject, so
a running portal never sees :class:`StripeConfigError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from travelsim.settings import Settings, get_settings

__all__ = [
    "LOCAL_PUBLISHABLE_KEY",
    "LOCAL_SECRET_KEY",
    "STRIPE_API_BASE",
    "StripeConfig",
    "StripeConfigError",
    "local_webhook_secret",
    "stripe_config",
]

#: The real Stripe API (https://docs.stripe.com/api).
STRIPE_API_BASE = "https://api.stripe.com"
#: Keys of the embedded localstripe: it accepts any ``sk_…`` secret key and any ``pk_…``
#: publishable key (localstripe behaviour); these never work on real Stripe.
LOCAL_SECRET_KEY = "sk_test_localstripe"
LOCAL_PUBLISHABLE_KEY = "pk_test_localstripe"
#: Path of the fake Stripe.js on a localstripe server (localstripe behaviour).
LOCAL_JS_PATH = "/js.stripe.com/v3/"


class StripeConfigError(RuntimeError):
    """The settings name no usable Stripe account (e.g. production without keys)."""


@dataclass(frozen=True)
class StripeConfig:
    """Where Stripe calls go and with which keys.

    Attributes:
        api_base: ``"https://api.stripe.com"`` (real) or ``"http://127.0.0.1:<port>"``
            (localstripe), without a trailing slash.
        js_url: Stripe.js the browser loads: ``STRIPE_JS_URL``, or
            ``<api_base>/js.stripe.com/v3/`` for localstripe.
        secret_key: server-side key (never sent to the browser).
        publishable_key: browser-side key for Stripe.js.
        webhook_secret: signing secret of the ``/stripe/webhook`` endpoint (``whsec_…``).
        webhook_tolerance_seconds: oldest webhook timestamp accepted, seconds.
        local: True for the embedded localstripe (the app starts it and registers its
            webhook, ``travelsim.stripe_local``).
    """

    api_base: str
    js_url: str
    secret_key: str
    publishable_key: str
    webhook_secret: str
    webhook_tolerance_seconds: int
    local: bool

    def __repr__(self) -> str:  # the keys stay out of logs and tracebacks
        return (
            f"StripeConfig(api_base={self.api_base!r}, js_url={self.js_url!r}, local={self.local})"
        )


def local_webhook_secret(settings: Settings) -> str:
    """The webhook secret of the embedded localstripe: ``whsec_`` + hex HMAC-SHA256 of a
    fixed purpose under ``SECRET_KEY`` (or, in demo/test, ``DATA_DIR/signing.key``,
    generated on first use). Raises ``RuntimeError`` in production without ``SECRET_KEY``."""
    from travelsim.keys import build_signing_key

    return "whsec_" + build_signing_key(settings, "localstripe-webhook").hex()


def _js_url(s: Settings, fake_base: str | None) -> str:
    """``STRIPE_JS_URL`` when set; else a fake Stripe server's own Stripe.js at
    ``fake_base`` (localstripe serves it there); else the setting's default (real Stripe)."""
    if fake_base and "stripe_js_url" not in s.model_fields_set:
        return fake_base + LOCAL_JS_PATH
    return s.stripe_js_url


def stripe_config(settings: Settings | None = None) -> StripeConfig:
    """The Stripe configuration of ``settings`` (default: the process settings).

    Raises :class:`StripeConfigError` when ``STRIPE_SECRET_KEY`` is set without
    ``STRIPE_PUBLISHABLE_KEY`` or ``STRIPE_WEBHOOK_SECRET``, and in production or staging
    without ``STRIPE_SECRET_KEY`` (neither ever starts the embedded localstripe)."""
    s = settings or get_settings()
    tolerance = s.stripe_webhook_tolerance_seconds
    override = s.stripe_api_base.strip().rstrip("/") if s.stripe_api_base else None
    if s.stripe_secret_key is not None and s.stripe_secret_key.get_secret_value().strip():
        if not s.stripe_publishable_key or s.stripe_webhook_secret is None:
            raise StripeConfigError(
                "STRIPE_SECRET_KEY is set: STRIPE_PUBLISHABLE_KEY and STRIPE_WEBHOOK_SECRET "
                "are needed too"
            )
        return StripeConfig(
            api_base=override or STRIPE_API_BASE,
            # An API override is a localstripe (staging's rehearsal, tests).
            js_url=_js_url(s, override),
            secret_key=s.stripe_secret_key.get_secret_value().strip(),
            publishable_key=s.stripe_publishable_key.strip(),
            webhook_secret=s.stripe_webhook_secret.get_secret_value().strip(),
            webhook_tolerance_seconds=tolerance,
            local=False,
        )
    if s.production_like:
        raise StripeConfigError(
            "STRIPE_SECRET_KEY is unset: production takes payments through a real Stripe account"
        )
    api_base = override or f"http://127.0.0.1:{s.stripe_local_port}"
    js_url = _js_url(s, api_base)
    webhook_secret = (
        s.stripe_webhook_secret.get_secret_value()
        if s.stripe_webhook_secret is not None
        else local_webhook_secret(s)
    )
    return StripeConfig(
        api_base=api_base,
        js_url=js_url,
        secret_key=LOCAL_SECRET_KEY,
        publishable_key=LOCAL_PUBLISHABLE_KEY,
        webhook_secret=webhook_secret,
        webhook_tolerance_seconds=tolerance,
        local=override is None,
    )

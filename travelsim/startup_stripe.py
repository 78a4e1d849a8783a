"""Start-up rules for the Stripe settings, and the staging mode's loopback rule
(docs/architecture.md#security-modes-and-start-up-checks); :mod:`travelsim.startup` applies
them with the rest.

* ``production``: a real Stripe account in live mode (:func:`production_stripe_problems`);
* ``demo``/``test``: the embedded localstripe, or Stripe test mode, never a live key
  (:func:`demo_stripe_problems`);
* ``staging``, the rehearsal of going live (docs/going-live.md#rehearse-on-one-machine):
  every production rule except the live keys, and nothing that can move real money or real
  eSIMs (:func:`staging_problems`): Stripe **test** keys only, ``STRIPE_API_BASE`` only on
  loopback (a localstripe), and ``SFT_BASE_URL`` only on loopback (the standalone SFT
  simulator): test cards against the real platform would hand out real eSIMs for nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from travelsim.settings import Settings

__all__ = [
    "LIVE_KEY_PREFIXES",
    "LIVE_SECRET_PREFIXES",
    "TEST_KEY_PREFIXES",
    "demo_stripe_problems",
    "production_stripe_problems",
    "staging_problems",
]

#: Stripe key prefixes (https://docs.stripe.com/keys): test mode, live secret, any live key.
TEST_KEY_PREFIXES = ("sk_test_", "pk_test_", "rk_test_")
LIVE_SECRET_PREFIXES = ("sk_live_", "rk_live_")
LIVE_KEY_PREFIXES = ("sk_live_", "pk_live_", "rk_live_")


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


def _keys(settings: Settings) -> tuple[str, str, str, list[str]]:
    """The three Stripe settings, stripped (``""`` when unset), and the names of the unset
    ones: ``(secret, publishable, webhook_secret, unset_names)``."""
    secret = _secret(settings.stripe_secret_key)
    publishable = (settings.stripe_publishable_key or "").strip()
    webhook = _secret(settings.stripe_webhook_secret)
    named = (
        ("STRIPE_SECRET_KEY", secret),
        ("STRIPE_PUBLISHABLE_KEY", publishable),
        ("STRIPE_WEBHOOK_SECRET", webhook),
    )
    return secret, publishable, webhook, [name for name, value in named if not value]


def production_stripe_problems(settings: Settings) -> list[str]:
    """Production takes cards through a real Stripe account in live mode
    (https://docs.stripe.com/keys): ``sk_live_``/``rk_live_`` secret key, ``pk_live_``
    publishable key, the ``whsec_`` secret of the webhook endpoint, and the real API."""
    found: list[str] = []
    secret, publishable, webhook, unset = _keys(settings)
    if unset:
        names = ", ".join(unset[:-1]) + " and " + unset[-1] if len(unset) > 1 else unset[0]
        found.append(
            f"{names} {'are' if len(unset) > 1 else 'is'} unset: production takes payments "
            "through a real Stripe account (live keys and the webhook endpoint's signing "
            "secret, docs/going-live.md#payments-stripe)"
        )
    if secret.startswith(TEST_KEY_PREFIXES):
        found.append(
            "STRIPE_SECRET_KEY is a Stripe test key: production needs the live secret key "
            "(sk_live_... or a restricted rk_live_...); test keys charge nobody"
        )
    elif secret and not secret.startswith(LIVE_SECRET_PREFIXES):
        found.append(
            "STRIPE_SECRET_KEY is not a Stripe live secret key (sk_live_... or rk_live_...)"
        )
    if publishable.startswith(TEST_KEY_PREFIXES):
        found.append(
            "STRIPE_PUBLISHABLE_KEY is a Stripe test key: production needs the live "
            "publishable key (pk_live_...)"
        )
    elif publishable and not publishable.startswith("pk_live_"):
        found.append("STRIPE_PUBLISHABLE_KEY is not a Stripe live publishable key (pk_live_...)")
    if webhook and not webhook.startswith("whsec_"):
        found.append(
            "STRIPE_WEBHOOK_SECRET is not a webhook endpoint signing secret (whsec_..., shown "
            "with the endpoint in the Stripe Dashboard)"
        )
    if settings.stripe_api_base:
        found.append(
            f"STRIPE_API_BASE={settings.stripe_api_base}: production talks to the real Stripe "
            "API only; unset it"
        )
    return found


def demo_stripe_problems(settings: Settings) -> list[str]:
    """Demo/test run on the embedded localstripe, or on Stripe test mode when
    ``STRIPE_SECRET_KEY`` is set: then with its publishable key and webhook secret, and never
    with a live key (the demo would charge real cards)."""
    found: list[str] = []
    secret = _secret(settings.stripe_secret_key)
    publishable = (settings.stripe_publishable_key or "").strip()
    mode = settings.app_env
    if secret.startswith(LIVE_KEY_PREFIXES) or publishable.startswith(LIVE_KEY_PREFIXES):
        found.append(
            f"APP_ENV={mode} refuses a Stripe live key: the demo would charge real cards; "
            "use Stripe test keys (sk_test_..., pk_test_...) or none (the embedded localstripe)"
        )
    if secret and (not publishable or not _secret(settings.stripe_webhook_secret)):
        found.append(
            "STRIPE_SECRET_KEY is set: STRIPE_PUBLISHABLE_KEY and STRIPE_WEBHOOK_SECRET are "
            "needed too (unset all three for the embedded localstripe)"
        )
    return found


def staging_problems(settings: Settings, on_loopback: Callable[[str], bool]) -> list[str]:
    """``APP_ENV=staging``: the three Stripe settings as in production but **test** keys
    (``sk_test_``/``rk_test_``, ``pk_test_``), ``STRIPE_API_BASE`` unset (Stripe's test
    mode) or on loopback (a localstripe), and ``SFT_BASE_URL`` on loopback (the standalone
    simulator, ``make simulator``); ``on_loopback(url)`` is the start-up checks' loopback
    rule. Every other production rule applies unchanged."""
    found: list[str] = []
    secret, publishable, webhook, unset = _keys(settings)
    if unset:
        found.append(
            f"{', '.join(unset)} unset: staging takes test payments through Stripe's test mode "
            "or a localstripe on loopback (sk_test_..., pk_test_..., whsec_...)"
        )
    if secret.startswith(LIVE_KEY_PREFIXES) or publishable.startswith(LIVE_KEY_PREFIXES):
        found.append(
            "APP_ENV=staging refuses a Stripe live key: the rehearsal would charge real cards; "
            "use test keys (sk_test_..., pk_test_...)"
        )
    elif (secret and not secret.startswith(TEST_KEY_PREFIXES)) or (
        publishable and not publishable.startswith("pk_test_")
    ):
        found.append(
            "APP_ENV=staging needs Stripe test keys (sk_test_... or rk_test_..., pk_test_...)"
        )
    if webhook and not webhook.startswith("whsec_"):
        found.append("STRIPE_WEBHOOK_SECRET is not a webhook signing secret (whsec_...)")
    if settings.stripe_api_base and not on_loopback(settings.stripe_api_base):
        found.append(
            f"STRIPE_API_BASE={settings.stripe_api_base}: staging accepts only a localstripe on "
            "loopback (http://127.0.0.1:PORT), or unset for Stripe's test mode"
        )
    if settings.sft_base_url and not on_loopback(settings.sft_base_url):
        found.append(
            f"SFT_BASE_URL={settings.sft_base_url}: staging takes test payments, so against the "
            "real platform test cards would hand out real eSIMs; use the standalone simulator "
            "on loopback (make simulator: http://127.0.0.1:8040)"
        )
    return found

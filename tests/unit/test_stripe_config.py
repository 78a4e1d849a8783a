"""travelsim.stripe_config: real Stripe with the environment's keys, or the embedded
localstripe in demo/test (docs/going-live.md#payments-stripe)."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from travelsim.settings import Settings
from travelsim.stripe_config import (
    LOCAL_PUBLISHABLE_KEY,
    LOCAL_SECRET_KEY,
    StripeConfigError,
    stripe_config,
)

STRONG_SECRET = "f0c1b7e2a9d84b6c8e3f5a1d2c4b6a8e9f0d1c2b"


def make(tmp_path: Path, **env: str) -> Settings:
    return Settings(_env_file=None, data_dir=str(tmp_path), **env)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["demo", "test"])
def test_demo_without_keys_is_the_embedded_localstripe_on_loopback(
    tmp_path: Path, mode: str
) -> None:
    config = stripe_config(make(tmp_path, app_env=mode, stripe_local_port="8999"))
    assert config.local is True
    assert config.api_base == "http://127.0.0.1:8999"
    assert config.js_url == "http://127.0.0.1:8999/js.stripe.com/v3/"
    assert (config.secret_key, config.publishable_key) == (LOCAL_SECRET_KEY, LOCAL_PUBLISHABLE_KEY)
    assert config.secret_key.startswith("sk_test_")
    assert config.publishable_key.startswith("pk_test_")
    assert config.webhook_tolerance_seconds == 300


def test_default_local_port_is_localstripes_own(tmp_path: Path) -> None:
    assert stripe_config(make(tmp_path, app_env="demo")).api_base == "http://127.0.0.1:8420"


def test_local_webhook_secret_is_an_hmac_of_secret_key(tmp_path: Path) -> None:
    config = stripe_config(make(tmp_path, app_env="demo", secret_key=STRONG_SECRET))
    # keys.build_signing_key: HMAC-SHA256(SECRET_KEY, "travelsim-key:" + purpose)
    expected = hmac.new(
        STRONG_SECRET.encode(), b"travelsim-key:localstripe-webhook", hashlib.sha256
    ).hexdigest()
    assert config.webhook_secret == "whsec_" + expected
    other = stripe_config(make(tmp_path, app_env="demo", secret_key="x" * 40))
    assert other.webhook_secret != config.webhook_secret


def test_local_webhook_secret_without_secret_key_comes_from_the_data_dir_key(
    tmp_path: Path,
) -> None:
    first = stripe_config(make(tmp_path / "a", app_env="demo")).webhook_secret
    again = stripe_config(make(tmp_path / "a", app_env="demo")).webhook_secret
    elsewhere = stripe_config(make(tmp_path / "b", app_env="demo")).webhook_secret
    assert first == again != elsewhere
    assert (tmp_path / "a" / "signing.key").is_file()  # generated once, shared by workers


def test_local_webhook_secret_may_be_given(tmp_path: Path) -> None:
    config = stripe_config(make(tmp_path, app_env="test", stripe_webhook_secret="whsec_given"))
    assert config.webhook_secret == "whsec_given" and config.local


def test_real_stripe_keys_from_the_environment(tmp_path: Path) -> None:
    config = stripe_config(
        make(
            tmp_path,
            app_env="production",
            stripe_secret_key="sk_live_abc",
            stripe_publishable_key="pk_live_abc",
            stripe_webhook_secret="whsec_abc",
            stripe_webhook_tolerance_seconds="120",
        )
    )
    assert config.local is False
    assert config.api_base == "https://api.stripe.com"
    assert config.js_url == "https://js.stripe.com/v3/"
    assert (config.secret_key, config.publishable_key, config.webhook_secret) == (
        "sk_live_abc",
        "pk_live_abc",
        "whsec_abc",
    )
    assert config.webhook_tolerance_seconds == 120


def test_demo_with_stripe_test_keys_uses_real_stripe(tmp_path: Path) -> None:
    config = stripe_config(
        make(
            tmp_path,
            app_env="demo",
            stripe_secret_key="sk_test_abc",
            stripe_publishable_key="pk_test_abc",
            stripe_webhook_secret="whsec_abc",
        )
    )
    assert not config.local and config.api_base == "https://api.stripe.com"


def test_api_base_override_is_not_the_embedded_one(tmp_path: Path) -> None:
    config = stripe_config(make(tmp_path, app_env="test", stripe_api_base="http://127.0.0.1:9/"))
    assert config.api_base == "http://127.0.0.1:9"
    assert config.js_url == "http://127.0.0.1:9/js.stripe.com/v3/"
    assert config.local is False  # someone else runs it: the app starts nothing


def test_explicit_js_url_wins_even_locally(tmp_path: Path) -> None:
    config = stripe_config(make(tmp_path, app_env="demo", stripe_js_url="http://127.0.0.1:7/s.js"))
    assert config.js_url == "http://127.0.0.1:7/s.js"


def test_production_without_keys_raises(tmp_path: Path) -> None:
    with pytest.raises(StripeConfigError, match="STRIPE_SECRET_KEY is unset"):
        stripe_config(make(tmp_path, app_env="production", secret_key=STRONG_SECRET))


def test_secret_key_without_the_others_raises(tmp_path: Path) -> None:
    with pytest.raises(StripeConfigError, match="STRIPE_PUBLISHABLE_KEY and STRIPE_WEBHOOK"):
        stripe_config(make(tmp_path, app_env="demo", stripe_secret_key="sk_test_abc"))


def test_repr_shows_no_key(tmp_path: Path) -> None:
    config = stripe_config(make(tmp_path, app_env="demo", secret_key=STRONG_SECRET))
    assert config.webhook_secret not in repr(config)
    assert config.secret_key not in repr(config)

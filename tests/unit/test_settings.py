from pathlib import Path

import pytest

from travelsim.settings import Settings


def make(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[arg-type]


def test_default_database_is_sqlite_file_under_data_dir(tmp_path: Path) -> None:
    s = make(data_dir=str(tmp_path))
    assert s.sync_database_url == f"sqlite+pysqlite:///{tmp_path}/travelsim.db"
    assert s.async_database_url == f"sqlite+aiosqlite:///{tmp_path}/travelsim.db"
    assert s.is_sqlite


@pytest.mark.parametrize(
    "given",
    [
        "postgres://u:p%40ss@db.example:5433/portal",
        "postgresql://u:p%40ss@db.example:5433/portal",
        "postgresql+psycopg2://u:p%40ss@db.example:5433/portal",
    ],
)
def test_postgres_urls_derived_consistently(given: str) -> None:
    s = make(database_url=given)
    assert s.sync_database_url == "postgresql+psycopg://u:p%40ss@db.example:5433/portal"
    assert s.async_database_url == "postgresql+asyncpg://u:p%40ss@db.example:5433/portal"
    assert not s.is_sqlite


def test_unsupported_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database backend"):
        _ = make(database_url="mysql://root@localhost/x").sync_database_url


def test_simulator_is_default_and_real_url_switches_it_off(tmp_path: Path) -> None:
    s = make(data_dir=str(tmp_path))
    assert s.uses_simulator
    assert s.simulator_db_path == tmp_path / "sft_simulator.db"
    assert not make(sft_base_url="https://sft.bics.com").uses_simulator


def test_rate_limit_default_stays_below_the_published_two_tps() -> None:
    # "Default 2 TPS" per account, shared by all its users (docs/sft-platform.md#rate-limit):
    # the portal leaves room for the account's other tools.
    assert make().sft_rate_limit_tps == 1.5


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    names = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in example.splitlines()
        if "=" in line and line.lstrip("# ").split("=", 1)[0].strip().isupper()
    }
    expected = {name.upper() for name in Settings.model_fields}
    assert expected <= names, f"missing from .env.example: {sorted(expected - names)}"


# --- fail closed: docs/architecture.md#security-modes-and-start-up-checks

FERNET_KEY = "q3Xk0pC4o1m3b2vJ8m2yqfS6rV0N6b3ZlYH8cPq2e0A="
STRONG_SECRET = "f0c1b7e2a9d84b6c8e3f5a1d2c4b6a8e9f0d1c2b"
#: Live-looking Stripe keys (https://docs.stripe.com/keys): what production accepts.
LIVE_STRIPE = {
    "stripe_secret_key": "sk_live_51Hxxxxxxxxxxxxxxxxxxxxxxxx",
    "stripe_publishable_key": "pk_live_51Hxxxxxxxxxxxxxxxxxxxxxxxx",
    "stripe_webhook_secret": "whsec_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
}
STRIPE_UNSET_LINE = (
    "STRIPE_SECRET_KEY, STRIPE_PUBLISHABLE_KEY and STRIPE_WEBHOOK_SECRET are unset: "
    "production takes payments through a real Stripe account"
)


def production(tmp_path: Path, **overrides: str | None) -> Settings:
    """Production settings that are right in everything the portal checks (live Stripe keys
    included), with ``overrides`` (``None`` leaves a setting unset)."""
    env: dict[str, str | None] = {
        "app_env": "production",
        "data_dir": str(tmp_path),
        "sft_base_url": "https://sft.bics.com",
        "sft_username": "reseller-api",
        "sft_password": "platform-password-of-the-seller",
        "secret_key": STRONG_SECRET,
        "encryption_key": FERNET_KEY,
        "public_url": "https://www.travelsim.example",
        **LIVE_STRIPE,
    }
    env.update(overrides)
    return make(**{name: value for name, value in env.items() if value is not None})


def test_probe_unset_app_env_means_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_ENV", raising=False)
    assert make().app_env == "production"


@pytest.mark.parametrize("mode", ["demo", "test", "production"])
def test_probe_cookies_secure_whenever_public_url_is_https(mode: str) -> None:
    assert make(app_env=mode, public_url="https://www.travelsim.example").secure_cookies
    assert make(app_env=mode, public_url="HTTPS://www.travelsim.example").secure_cookies
    local = make(app_env=mode, public_url="http://localhost:3000")
    assert local.secure_cookies is (mode == "production")  # browsers keep Secure on localhost


def test_probe_production_with_everything_right_and_live_stripe_keys_starts(
    tmp_path: Path,
) -> None:
    from travelsim import startup

    assert startup.problems(production(tmp_path)) == []
    restricted = production(tmp_path, stripe_secret_key="rk_live_51Hxxxxxxxxxxxxxxxxxxxx")
    assert startup.problems(restricted) == []  # a restricted live key is a live key


def test_probe_production_without_any_stripe_key_is_refused_once(tmp_path: Path) -> None:
    from travelsim import startup

    unset = {name: None for name in LIVE_STRIPE}
    [line] = startup.problems(production(tmp_path, **unset))
    assert line.startswith(STRIPE_UNSET_LINE), line


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"sft_base_url": ""}, "SFT_BASE_URL is unset: production refuses the built-in SFT"),
        ({"sft_username": "demo", "sft_password": "demo"}, "SFT_USERNAME and SFT_PASSWORD still"),
        ({"sft_password": "demo"}, "SFT_PASSWORD still the demo value"),
        ({"secret_key": ""}, "SECRET_KEY is 0 characters long"),
        ({"secret_key": "short-key"}, "SECRET_KEY is 9 characters long: at least 32"),
        ({"secret_key": "changeme"}, "SECRET_KEY is a published placeholder"),
        ({"encryption_key": "not-a-fernet-key"}, "ENCRYPTION_KEY holds a value that is not"),
        ({"encryption_key": " , "}, "ENCRYPTION_KEY is empty"),
        ({"public_url": "http://www.travelsim.example"}, "PUBLIC_URL http://www.travelsim"),
        ({"public_url": "http://192.168.1.20"}, "PUBLIC_URL http://192.168.1.20 is not https"),
        ({"sft_callback_token": ""}, "SFT_CALLBACK_TOKEN is set but 0 characters long"),
        ({"sft_callback_token": "x" * 31}, "SFT_CALLBACK_TOKEN is set but 31 characters long"),
        ({"stripe_secret_key": None}, "STRIPE_SECRET_KEY is unset: production takes payments"),
        ({"stripe_secret_key": ""}, "STRIPE_SECRET_KEY is unset: production takes payments"),
        ({"stripe_publishable_key": None}, "STRIPE_PUBLISHABLE_KEY is unset: production"),
        ({"stripe_webhook_secret": None}, "STRIPE_WEBHOOK_SECRET is unset: production"),
        ({"stripe_secret_key": "sk_test_51Hxxxx"}, "STRIPE_SECRET_KEY is a Stripe test key"),
        ({"stripe_secret_key": "rk_test_51Hxxxx"}, "STRIPE_SECRET_KEY is a Stripe test key"),
        ({"stripe_secret_key": "pk_live_51Hxxxx"}, "STRIPE_SECRET_KEY is not a Stripe live"),
        ({"stripe_secret_key": "sk_localstripe"}, "STRIPE_SECRET_KEY is not a Stripe live"),
        ({"stripe_publishable_key": "pk_test_51Hx"}, "STRIPE_PUBLISHABLE_KEY is a Stripe test"),
        ({"stripe_publishable_key": "sk_live_51Hx"}, "STRIPE_PUBLISHABLE_KEY is not a Stripe"),
        ({"stripe_webhook_secret": "secret"}, "STRIPE_WEBHOOK_SECRET is not a webhook endpoint"),
        (
            {"stripe_api_base": "http://127.0.0.1:8420"},
            "STRIPE_API_BASE=http://127.0.0.1:8420: production talks to the real Stripe API",
        ),
    ],
)
def test_probe_each_production_refusal(
    tmp_path: Path, overrides: dict[str, str | None], line: str
) -> None:
    from travelsim import startup

    found = startup.problems(production(tmp_path, **overrides))
    assert len(found) == 1 and found[0].startswith(line), found


def test_probe_production_with_every_stripe_test_key_says_each(tmp_path: Path) -> None:
    from travelsim import startup

    found = startup.problems(
        production(
            tmp_path, stripe_secret_key="sk_test_51Hx", stripe_publishable_key="pk_test_51Hx"
        )
    )
    assert [line.split(":")[0] for line in found] == [
        "STRIPE_SECRET_KEY is a Stripe test key",
        "STRIPE_PUBLISHABLE_KEY is a Stripe test key",
    ], found


@pytest.mark.parametrize("mode", ["demo", "test"])
def test_demo_without_stripe_keys_starts_on_the_embedded_localstripe(mode: str) -> None:
    from travelsim import startup

    assert startup.problems(make(app_env=mode)) == []


@pytest.mark.parametrize("mode", ["demo", "test"])
def test_demo_with_complete_stripe_test_keys_starts(mode: str) -> None:
    from travelsim import startup

    keys = {
        "stripe_secret_key": "sk_test_51Hx",
        "stripe_publishable_key": "pk_test_51Hx",
        "stripe_webhook_secret": "whsec_x",
    }
    assert startup.problems(make(app_env=mode, **keys)) == []


@pytest.mark.parametrize("mode", ["demo", "test"])
@pytest.mark.parametrize(
    ("keys", "line"),
    [
        (LIVE_STRIPE, "APP_ENV={mode} refuses a Stripe live key: the demo would charge real"),
        (
            {"stripe_secret_key": "sk_test_51Hx"},
            "STRIPE_SECRET_KEY is set: STRIPE_PUBLISHABLE_KEY and STRIPE_WEBHOOK_SECRET are",
        ),
    ],
)
def test_probe_demo_refuses_live_stripe_keys_and_half_a_test_account(
    mode: str, keys: dict[str, str], line: str
) -> None:
    from travelsim import startup

    found = startup.problems(make(app_env=mode, **keys))
    assert len(found) == 1 and found[0].startswith(line.format(mode=mode)), found


def test_probe_production_refuses_unset_keys_and_generated_key_files(tmp_path: Path) -> None:
    from travelsim import startup
    from travelsim.crypto import load_or_create_key

    unset = production(tmp_path, secret_key=None, encryption_key=None)
    lines = startup.problems(unset)
    assert any(p.startswith("SECRET_KEY is unset") for p in lines), lines
    assert any(p.startswith("ENCRYPTION_KEY is unset") for p in lines), lines

    # A key generated by the demo into DATA_DIR, copied into the environment: refused.
    generated = load_or_create_key(tmp_path / "encryption.key")
    (tmp_path / "signing.key").write_text("g" * 44)
    copied = production(tmp_path, encryption_key=generated, secret_key="g" * 44)
    lines = startup.problems(copied)
    assert any("ENCRYPTION_KEY is the demo key generated" in p for p in lines), lines
    assert any("SECRET_KEY is the demo key generated" in p for p in lines), lines


def test_probe_production_lists_every_refusal_at_once(tmp_path: Path) -> None:
    from travelsim import startup

    lines = startup.problems(make(app_env="production", data_dir=str(tmp_path)))
    starts = [
        "SFT_BASE_URL is unset",
        "SFT_USERNAME and SFT_PASSWORD still the demo value",
        "SECRET_KEY is unset",
        "ENCRYPTION_KEY is unset",
        STRIPE_UNSET_LINE,
    ]
    assert [line.split(":")[0] for line in lines] == [s.split(":")[0] for s in starts], lines


@pytest.mark.parametrize("mode", ["demo", "test", "production"])
def test_probe_short_callback_token_refused_in_every_mode(tmp_path: Path, mode: str) -> None:
    from travelsim import startup

    local = {} if mode == "production" else {"public_url": "http://localhost:3000"}
    for token in ("", "t", "x" * 31):
        lines = startup.problems(
            production(tmp_path, app_env=mode, sft_callback_token=token, **local)
        )
        assert any(p.startswith("SFT_CALLBACK_TOKEN is set but") for p in lines), (mode, lines)
    ok = production(tmp_path, app_env=mode, sft_callback_token="x" * 32, **local)
    assert not any("SFT_CALLBACK_TOKEN" in p for p in startup.problems(ok))


@pytest.mark.parametrize(
    "url",
    ["http://localhost:3000", "http://127.0.0.1:3100", "http://[::1]:3000", "http://app.localhost"],
)
def test_demo_on_loopback_starts_without_warning(url: str) -> None:
    from travelsim import startup

    settings = make(app_env="demo", public_url=url)
    assert startup.problems(settings) == []
    assert startup.warnings(settings) == []


@pytest.mark.parametrize("mode", ["demo", "test"])
@pytest.mark.parametrize(
    "url", ["http://203.0.113.5", "https://travelsim.example", "http://192.168.1.20:3000"]
)
def test_probe_demo_refuses_a_public_url_that_is_not_loopback(mode: str, url: str) -> None:
    from travelsim import startup

    lines = startup.problems(make(app_env=mode, public_url=url))
    assert len(lines) == 1 and lines[0].startswith(f"APP_ENV={mode} refuses PUBLIC_URL"), lines


@pytest.mark.parametrize(
    "url", ["http://203.0.113.5", "http://8.8.8.8:3000", "http://100.64.0.1", "http://phone.lan"]
)
def test_probe_demo_allow_lan_still_refuses_addresses_outside_private_ranges(url: str) -> None:
    from travelsim import startup

    lines = startup.problems(make(app_env="demo", public_url=url, demo_allow_lan="1"))
    assert len(lines) == 1 and "DEMO_ALLOW_LAN=1 accepts only a private LAN address" in lines[0]


@pytest.mark.parametrize(
    "url", ["http://192.168.1.20:3000", "http://10.0.0.7:3000", "http://[fd00::20]:3000"]
)
def test_probe_demo_allow_lan_accepts_a_private_address_and_warns(url: str) -> None:
    from travelsim import startup

    settings = make(app_env="demo", public_url=url, demo_allow_lan="1")
    assert startup.problems(settings) == []
    [warning] = startup.warnings(settings)
    assert warning.startswith("WARNING: DEMO_ALLOW_LAN=1") and "/demo/mailbox" in warning


def test_probe_lan_demo_start_warns_on_console_and_in_the_log(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from travelsim import startup

    settings = make(app_env="demo", public_url="http://192.168.1.20:3000", demo_allow_lan="1")
    with caplog.at_level("WARNING", logger="travelsim.startup"):
        startup.enforce(settings, process="app")  # allowed: returns
    err = capsys.readouterr().err
    assert "WARNING: DEMO_ALLOW_LAN=1: the demo at http://192.168.1.20:3000" in err
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "/demo/mailbox" in caplog.records[0].getMessage()
    assert startup.listen_host(settings) == "0.0.0.0"  # reachable on the LAN
    assert startup.listen_host(make(app_env="demo")) == "127.0.0.1"
    assert startup.listen_host(make(app_env="test")) == "127.0.0.1"


def test_probe_refused_start_prints_every_line_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from travelsim import startup

    with pytest.raises(SystemExit) as exited:
        startup.enforce(production(tmp_path, sft_base_url=""), process="scheduler")
    assert exited.value.code == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "TravelSIM refuses to start (scheduler, APP_ENV=production):"
    refused = [line.strip() for line in err if line.strip().startswith("refused:")]
    assert refused == [
        "refused: SFT_BASE_URL is unset: production refuses the built-in SFT simulator (set "
        "the platform's URL, e.g. https://sft.bics.com)",
    ]

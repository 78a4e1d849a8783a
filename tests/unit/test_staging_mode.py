"""APP_ENV=staging, the rehearsal of going live: production's start-up rules, but only Stripe
test keys and only loopback SFT and Stripe servers, so a rehearsal can move neither real money
nor real eSIMs (docs/architecture.md#security-modes-and-start-up-checks)."""

from pathlib import Path

import pytest

from tests.unit.test_settings import FERNET_KEY, STRONG_SECRET, make
from travelsim import startup
from travelsim.settings import Settings
from travelsim.stripe_config import LOCAL_JS_PATH, stripe_config

TEST_STRIPE = {
    "stripe_secret_key": "sk_test_rehearsal",
    "stripe_publishable_key": "pk_test_rehearsal",
    "stripe_webhook_secret": "whsec_rehearsal0123456789abcdef",
}


def staging(tmp_path: Path, **overrides: str | None) -> Settings:
    """Staging settings right in everything (the standalone simulator and a localstripe on
    loopback), with ``overrides`` (``None`` leaves a setting unset)."""
    env: dict[str, str | None] = {
        "app_env": "staging",
        "data_dir": str(tmp_path),
        "sft_base_url": "http://127.0.0.1:8040",
        "sft_username": "rehearsal-api",
        "sft_password": "rehearsal-password",
        "secret_key": STRONG_SECRET,
        "encryption_key": FERNET_KEY,
        "public_url": "http://localhost:3000",
        "stripe_api_base": "http://127.0.0.1:8420",
        **TEST_STRIPE,
    }
    env.update(overrides)
    return make(**{name: value for name, value in env.items() if value is not None})


def test_staging_with_the_simulator_and_localstripe_on_loopback_starts(tmp_path: Path) -> None:
    assert startup.problems(staging(tmp_path)) == []
    test_mode = staging(tmp_path, stripe_api_base=None)  # Stripe's own test mode
    assert startup.problems(test_mode) == []


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"sft_base_url": "https://sft.bics.com"}, "SFT_BASE_URL=https://sft.bics.com: staging"),
        ({"sft_base_url": ""}, "SFT_BASE_URL is unset: staging talks to an SFT platform"),
        ({"sft_username": "demo", "sft_password": "demo"}, "SFT_USERNAME and SFT_PASSWORD still"),
        ({"stripe_secret_key": "sk_live_51Hxxxx"}, "APP_ENV=staging refuses a Stripe live key"),
        ({"stripe_publishable_key": "pk_live_51Hx"}, "APP_ENV=staging refuses a Stripe live key"),
        ({"stripe_secret_key": "sk_localstripe"}, "APP_ENV=staging needs Stripe test keys"),
        ({"stripe_secret_key": None}, "STRIPE_SECRET_KEY unset: staging takes test payments"),
        ({"stripe_webhook_secret": "secret"}, "STRIPE_WEBHOOK_SECRET is not a webhook signing"),
        (
            {"stripe_api_base": "https://stripe.example"},
            "STRIPE_API_BASE=https://stripe.example: staging accepts only a localstripe",
        ),
        ({"secret_key": None}, "SECRET_KEY is unset: production needs its own signing key"),
        ({"encryption_key": None}, "ENCRYPTION_KEY is unset"),
        ({"public_url": "http://www.travelsim.example"}, "PUBLIC_URL http://www.travelsim"),
    ],
)
def test_probe_each_staging_refusal(
    tmp_path: Path, overrides: dict[str, str | None], line: str
) -> None:
    found = startup.problems(staging(tmp_path, **overrides))
    assert len(found) == 1 and found[0].startswith(line), found


def test_probe_staging_never_reads_the_demo_key_files(tmp_path: Path) -> None:
    from travelsim.keys import build_secret_box, build_signing_key

    bare = staging(tmp_path, secret_key=None, encryption_key=None)
    with pytest.raises(RuntimeError):
        build_secret_box(bare)
    with pytest.raises(RuntimeError):
        build_signing_key(bare, "oidc-session")
    assert not (tmp_path / "encryption.key").exists() and not (tmp_path / "signing.key").exists()


def test_staging_cookies_are_secure_and_stripe_js_comes_from_the_localstripe(
    tmp_path: Path,
) -> None:
    settings = staging(tmp_path)
    assert settings.secure_cookies and settings.production_like
    config = stripe_config(settings)
    assert config.api_base == "http://127.0.0.1:8420" and not config.local
    assert config.js_url == "http://127.0.0.1:8420" + LOCAL_JS_PATH
    assert config.secret_key == "sk_test_rehearsal"
    chosen = stripe_config(staging(tmp_path, stripe_js_url="https://js.stripe.com/v3/"))
    assert chosen.js_url == "https://js.stripe.com/v3/"


def test_make_serve_in_staging_may_use_loopback_http_only(tmp_path: Path) -> None:
    served = staging(
        tmp_path,
        database_url="postgresql://postgres@127.0.0.1:5432/travelsim",
        redis_url="redis://127.0.0.1:6379/0",
        trusted_proxy_hops="1",
    )
    assert startup.serve_problems(served, "2") == []
    lan = staging(
        tmp_path,
        public_url="http://192.168.1.20:3000",
        database_url="postgresql://postgres@127.0.0.1:5432/travelsim",
        redis_url="redis://127.0.0.1:6379/0",
        trusted_proxy_hops="1",
    )
    assert [p[:28] for p in startup.serve_problems(lan, "2")] == ["PUBLIC_URL http://192.168.1."]
    production = served.model_copy(update={"app_env": "production"})
    assert any(p.startswith("PUBLIC_URL") for p in startup.serve_problems(production, "2"))


def test_granian_workers_written_in_dotenv_only_says_where_it_belongs(tmp_path: Path) -> None:
    """Granian reads ``GRANIAN_WORKERS`` from the process environment, never from the
    portal's ``.env`` (which only the settings read): written there alone, the refusal says
    so instead of "unset" (docs/going-live.md#2-settings)."""
    served = staging(
        tmp_path,
        database_url="postgresql://postgres@127.0.0.1:5432/travelsim",
        redis_url="redis://127.0.0.1:6379/0",
        trusted_proxy_hops="1",
    )
    dotenv = tmp_path / ".env"
    dotenv.write_text('APP_ENV=staging\ngranian_workers="2"\n')
    (line,) = startup.serve_problems(served, None, dotenv)
    assert line.startswith(f"GRANIAN_WORKERS is set in {dotenv} only: Granian reads it from")
    assert "GRANIAN_WORKERS=4 make serve" in line
    assert startup.serve_problems(served, "2", dotenv) == []
    missing = startup.serve_problems(served, None, tmp_path / "absent.env")
    assert [p[:26] for p in missing] == ["GRANIAN_WORKERS is unset: "]


def test_staging_in_dotenv_overridden_by_make_serve_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``make serve`` puts ``APP_ENV=production`` in the environment, which wins over the
    ``APP_ENV=staging`` of ``.env``: the refusals (test keys, loopback URLs) then say why
    the mode is production and how to rehearse (docs/going-live.md#rehearse-on-one-machine)."""
    (tmp_path / ".env").write_text("APP_ENV=staging\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APP_ENV", "production")
    production = staging(tmp_path).model_copy(update={"app_env": "production"})
    with pytest.raises(SystemExit):
        startup.enforce(production, process="cli")
    said = capsys.readouterr().err
    assert "refused: STRIPE_SECRET_KEY is a Stripe test key" in said
    assert (
        "(.env says APP_ENV=staging, but the environment's APP_ENV=production wins "
        "(make serve sets production); for the rehearsal: make serve APP_ENV=staging"
    ) in said
    # The same mode in both, or none in .env: no such line.
    (tmp_path / ".env").write_text("APP_ENV=production\n")
    with pytest.raises(SystemExit):
        startup.enforce(production, process="cli")
    assert ".env says" not in capsys.readouterr().err

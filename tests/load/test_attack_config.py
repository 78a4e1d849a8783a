"""Attack: the portal started with no settings, or with weak ones, must fail closed.

docs/architecture.md#security-modes-and-start-up-checks. The attacker of these probes is
whoever reaches a portal somebody started carelessly:

* with no settings at all (no ``APP_ENV``): ``/demo/mailbox`` (every traveler's reset and
  verification links and install QR codes) answers 404, ``cli seed`` creates no staff account
  with the published password (it refuses to run), and neither the CLI nor the scheduler
  process starts;
* in production, each weak setting (the built-in simulator, demo SFT credentials, missing or
  short keys, plain-HTTP public URL, short callback token, missing or test Stripe keys) is a
  refusal line and a non-zero exit of the real entry points (``python -m travelsim.cli
  check``, ``python -m travelsim.scheduler``, ``make serve``), started as subprocesses;
* the demo on a public address is refused; on a private LAN address with ``DEMO_ALLOW_LAN=1``
  it starts and warns;
* an empty ``SFT_CALLBACK_TOKEN`` is refused at start, and the receiver, built anyway, never
  accepts a POST with an empty token;
* a sign-in over an ``https://`` public URL sets a ``Secure`` session cookie, whatever the mode.

Every subprocess runs in an empty working folder (no ``.env``) with every portal setting
removed from its environment, then only the settings of the case.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from test_auth_routes import (
    PASSWORD,
    _NoCookies,
    app,
    session_cookie,
    signed_up_and_verified,
    signin,
)

from tests.harness import ROOT
from travelsim import db
from travelsim.routes.app import build_routes_app
from travelsim.settings import Settings, get_settings

FERNET_KEY = "q3Xk0pC4o1m3b2vJ8m2yqfS6rV0N6b3ZlYH8cPq2e0A="
#: Production settings right in everything the portal checks (live-looking Stripe keys).
PRODUCTION = {
    "APP_ENV": "production",
    "SFT_BASE_URL": "https://sft.bics.com",
    "SFT_USERNAME": "reseller-api",
    "SFT_PASSWORD": "platform-password-of-the-seller",
    "SECRET_KEY": "f0c1b7e2a9d84b6c8e3f5a1d2c4b6a8e9f0d1c2b",
    "ENCRYPTION_KEY": FERNET_KEY,
    "PUBLIC_URL": "https://www.travelsim.example",
    "STRIPE_SECRET_KEY": "sk_live_51Hxxxxxxxxxxxxxxxxxxxxxxxx",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_51Hxxxxxxxxxxxxxxxxxxxxxxxx",
    "STRIPE_WEBHOOK_SECRET": "whsec_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
}


def bare_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """This process' environment without any portal setting, ``DATA_DIR`` at ``data_dir``
    (never the developer's ``.data``), then ``settings``."""
    names = {name.upper() for name in Settings.model_fields} | {"GRANIAN_WORKERS"}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(PYTHONPATH=str(ROOT), DATA_DIR=str(data_dir), **settings)
    return env


def run(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``args`` in ``cwd``; a process that is still running after ``timeout`` seconds (it
    started instead of refusing) fails the probe."""
    try:
        return subprocess.run(
            args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{args} started instead of refusing (still running after {timeout} s): {exc}")


def refused_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    lines = [line.strip() for line in result.stderr.splitlines()]
    return [line for line in lines if line.startswith("refused:")]


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "travelsim.cli", *args], env, cwd)


# --- no settings at all --------------------------------------------------------------------------


async def test_probe_no_settings_demo_mailbox_is_not_found(
    sqlite_db: Settings, monkeypatch: pytest.MonkeyPatch, dispose_engines: None
) -> None:
    from travelsim.models import OutboxEmail

    async with db.session() as s:
        s.add(
            OutboxEmail(
                to_address="victim@example.com",
                subject="Reset your password",
                body_text="https://portal.test/password/reset?token=victims-reset-token",
                kind="reset",
            )
        )
        await s.commit()
    monkeypatch.delenv("APP_ENV", raising=False)
    get_settings.cache_clear()
    transport = httpx.ASGITransport(app=build_routes_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:3000") as c:
        response = await c.get("/demo/mailbox")
    assert response.status_code == 404, response.status_code
    assert "victims-reset-token" not in response.text


async def test_probe_no_settings_simulator_controls_are_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loopback client (as the developer's own browser would be) gets no simulator controls
    from a portal started with no settings: nothing to reset, no clock to move."""
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("SFT_BASE_URL", raising=False)
    monkeypatch.setenv("SFT_SIM_DB_PATH", str(tmp_path / "sim.db"))
    get_settings.cache_clear()
    transport = httpx.ASGITransport(app=build_routes_app(), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:3000") as c:
        state = await c.get("/_sim/state")
        advance = await c.post("/_sim/clock/advance", json={"seconds": 3600})
    get_settings.cache_clear()
    assert (state.status_code, advance.status_code) == (404, 404), (state.text, advance.text)


def test_probe_no_settings_seed_refuses_and_creates_no_staff(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = cli(bare_env(data), tmp_path, "seed")
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "TravelSIM refuses to start (cli, APP_ENV=production)" in result.stderr
    assert "refused: SFT_BASE_URL is unset" in result.stderr
    database = data / "travelsim.db"
    if database.exists():
        with sqlite3.connect(database) as conn:
            tables = {r[0] for r in conn.execute("select name from sqlite_master")}
            staff = (
                conn.execute("select email from app_user where is_staff").fetchall()
                if "app_user" in tables
                else []
            )
        assert staff == []


def test_probe_no_settings_scheduler_process_refuses(tmp_path: Path) -> None:
    result = run([sys.executable, "-m", "travelsim.scheduler"], bare_env(tmp_path), tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    lines = refused_lines(result)
    assert [line.split(":")[1].strip() for line in lines] == [
        "SFT_BASE_URL is unset",
        "SFT_USERNAME and SFT_PASSWORD still the demo value",
        "SECRET_KEY is unset",
        "ENCRYPTION_KEY is unset",
        "STRIPE_SECRET_KEY, STRIPE_PUBLISHABLE_KEY and STRIPE_WEBHOOK_SECRET are unset",
    ], lines


# --- production refusals, one by one -------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"SFT_BASE_URL": ""}, "refused: SFT_BASE_URL is unset: production refuses the built-in"),
        ({"SFT_USERNAME": "demo", "SFT_PASSWORD": "demo"}, "refused: SFT_USERNAME and SFT_PASS"),
        ({"SECRET_KEY": "short"}, "refused: SECRET_KEY is 5 characters long: at least 32"),
        ({"ENCRYPTION_KEY": "not-a-key"}, "refused: ENCRYPTION_KEY holds a value that is not"),
        (
            {"PUBLIC_URL": "http://www.travelsim.example"},
            "refused: PUBLIC_URL http://www.travelsim",
        ),
        ({"SFT_CALLBACK_TOKEN": "short-token"}, "refused: SFT_CALLBACK_TOKEN is set but 11"),
        ({"STRIPE_SECRET_KEY": ""}, "refused: STRIPE_SECRET_KEY is unset: production takes"),
        ({"STRIPE_SECRET_KEY": "sk_test_51Hx"}, "refused: STRIPE_SECRET_KEY is a Stripe test key"),
        ({"STRIPE_PUBLISHABLE_KEY": "pk_test_1"}, "refused: STRIPE_PUBLISHABLE_KEY is a Stripe"),
        ({"STRIPE_WEBHOOK_SECRET": ""}, "refused: STRIPE_WEBHOOK_SECRET is unset"),
        ({"STRIPE_API_BASE": "http://127.0.0.1:8420"}, "refused: STRIPE_API_BASE=http://127.0"),
    ],
)
def test_probe_production_refuses_each_weak_setting(
    tmp_path: Path, overrides: dict[str, str], line: str
) -> None:
    result = cli(bare_env(tmp_path, **(PRODUCTION | overrides)), tmp_path, "check")
    assert result.returncode == 1, result.stderr[-2000:]
    lines = refused_lines(result)
    assert len(lines) == 1 and lines[0].startswith(line), lines


def test_probe_production_with_everything_right_is_allowed(tmp_path: Path) -> None:
    result = cli(bare_env(tmp_path, **PRODUCTION), tmp_path, "check")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "start allowed (APP_ENV=production)" in result.stdout


def test_probe_demo_refuses_a_stripe_live_key(tmp_path: Path) -> None:
    live = {k: v for k, v in PRODUCTION.items() if k.startswith("STRIPE_")}
    result = cli(bare_env(tmp_path, APP_ENV="demo", **live), tmp_path, "check")
    assert result.returncode == 1
    [line] = refused_lines(result)
    assert line.startswith("refused: APP_ENV=demo refuses a Stripe live key"), line


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"APP_ENV": "prod"},
            "refused: APP_ENV: Input should be 'demo', 'test', 'staging' or 'production'",
        ),
        (
            {"STRIPE_LOCAL_PORT": "stripe"},
            "refused: STRIPE_LOCAL_PORT: Input should be a valid integer, unable to parse "
            "string as an integer",
        ),
    ],
)
def test_probe_a_setting_that_does_not_parse_is_one_refusal_line(
    tmp_path: Path, overrides: dict[str, str], line: str
) -> None:
    result = cli(bare_env(tmp_path, **(PRODUCTION | overrides)), tmp_path, "check")
    assert result.returncode == 1
    assert refused_lines(result) == [line], result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_probe_production_refuses_keys_left_to_the_demo_files(tmp_path: Path) -> None:
    env = bare_env(tmp_path, **PRODUCTION)
    del env["SECRET_KEY"], env["ENCRYPTION_KEY"]
    result = cli(env, tmp_path, "check")
    assert result.returncode == 1
    lines = refused_lines(result)
    assert any(x.startswith("refused: SECRET_KEY is unset") for x in lines), lines
    assert any(x.startswith("refused: ENCRYPTION_KEY is unset") for x in lines), lines
    assert not (tmp_path / "encryption.key").exists()  # nothing generated in production


def test_probe_production_scheduler_with_the_simulator_refuses(tmp_path: Path) -> None:
    env = bare_env(tmp_path, **(PRODUCTION | {"SFT_BASE_URL": ""}))
    result = run([sys.executable, "-m", "travelsim.scheduler"], env, tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert refused_lines(result)[0].startswith("refused: SFT_BASE_URL is unset")


def test_probe_make_serve_with_live_stripe_keys_passes_the_checks(tmp_path: Path) -> None:
    """With every setting right (live-looking Stripe keys included) ``make serve`` gets past
    its checks to the migrations, which fail here on the unreachable database on purpose."""
    env = bare_env(
        tmp_path,
        **PRODUCTION,
        DATABASE_URL="postgresql://travelsim@127.0.0.1:9/travelsim",
        REDIS_URL="redis://127.0.0.1:9/0",
        GRANIAN_WORKERS="2",
        TRUSTED_PROXY_HOPS="1",
    )
    result = run(["make", "-s", "-C", str(ROOT), "serve"], env, tmp_path, timeout=120)
    assert result.returncode != 0, result.stdout[-2000:]
    assert refused_lines(result) == [], result.stderr[-2000:]
    assert "start allowed (APP_ENV=production)" in result.stdout, result.stdout[-2000:]
    assert 'server at "127.0.0.1", port 9 failed' in result.stderr, result.stderr[-2000:]


def test_probe_make_serve_requires_workers_redis_postgres_and_a_proxy(tmp_path: Path) -> None:
    env = bare_env(tmp_path, **PRODUCTION)
    result = run(["make", "-s", "-C", str(ROOT), "serve"], env, tmp_path, timeout=120)
    assert result.returncode != 0
    lines = refused_lines(result)
    assert [x.split(":")[1].strip() for x in lines] == [
        "GRANIAN_WORKERS is unset",
        "REDIS_URL is unset",
        "DATABASE_URL is unset",
        "TRUSTED_PROXY_HOPS=0",
    ], lines


# --- demo on the network -------------------------------------------------------------------------


def test_probe_demo_on_a_public_address_is_refused(tmp_path: Path) -> None:
    env = bare_env(tmp_path, APP_ENV="demo", PUBLIC_URL="http://203.0.113.5")
    result = cli(env, tmp_path, "check")
    assert result.returncode == 1
    assert refused_lines(result) == [
        "refused: APP_ENV=demo refuses PUBLIC_URL http://203.0.113.5: demo mode serves every "
        "traveler's emails (/demo/mailbox) and a seeded staff account, so it answers on "
        "loopback only (http://localhost:PORT); to try it on a phone on your own network "
        "set DEMO_ALLOW_LAN=1 with a private LAN address (e.g. http://192.168.1.20:3000)"
    ]
    lan = cli(env | {"DEMO_ALLOW_LAN": "1"}, tmp_path, "check")
    assert lan.returncode == 1  # 203.0.113.0/24 is not a LAN range, even if is_private says so
    assert "DEMO_ALLOW_LAN=1 accepts only a private LAN address" in lan.stderr


def test_probe_make_demo_is_demo_mode_and_refuses_a_public_address(tmp_path: Path) -> None:
    """``make demo`` sets ``APP_ENV=demo`` itself (whatever the shell says) and the demo's
    first step (``cli seed``) refuses a public address before any demo account exists."""
    env = bare_env(tmp_path, APP_ENV="production", PUBLIC_URL="http://203.0.113.5")
    result = run(["make", "-s", "-C", str(ROOT), "demo", "PORT=3997"], env, tmp_path, 120)
    assert result.returncode != 0
    lines = refused_lines(result)
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("refused: APP_ENV=demo refuses PUBLIC_URL http://203.0.113.5")
    with sqlite3.connect(tmp_path / "travelsim.db") as conn:  # migrated, nobody seeded
        assert conn.execute("select count(*) from app_user").fetchone() == (0,)


def test_probe_demo_on_a_lan_address_starts_with_a_loud_warning(tmp_path: Path) -> None:
    env = bare_env(
        tmp_path, APP_ENV="demo", PUBLIC_URL="http://192.168.1.20:3000", DEMO_ALLOW_LAN="1"
    )
    result = cli(env, tmp_path, "check")
    assert result.returncode == 0, result.stderr[-2000:]
    assert refused_lines(result) == []
    assert "WARNING: DEMO_ALLOW_LAN=1: the demo at http://192.168.1.20:3000 is reachable" in (
        result.stderr
    )
    assert "start allowed" in result.stdout


# --- the callback token --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["demo", "test", "production"])
def test_probe_empty_callback_token_refused_at_start(tmp_path: Path, mode: str) -> None:
    settings = PRODUCTION if mode == "production" else {"APP_ENV": mode}
    env = bare_env(tmp_path, **(settings | {"SFT_CALLBACK_TOKEN": ""}))
    result = cli(env, tmp_path, "check")
    assert result.returncode == 1
    assert any(
        x.startswith("refused: SFT_CALLBACK_TOKEN is set but 0 characters long")
        for x in refused_lines(result)
    ), result.stderr


@pytest.mark.parametrize("header", [None, "", "Bearer ", "Bearer x"])
async def test_probe_empty_callback_token_never_accepts_a_post(
    sqlite_db: Settings,
    monkeypatch: pytest.MonkeyPatch,
    dispose_engines: None,
    header: str | None,
) -> None:
    monkeypatch.setenv("SFT_CALLBACK_TOKEN", "")
    get_settings.cache_clear()
    body = {"Request": {"notification": []}}
    headers = {} if header is None else {"X-Authorization": header}
    transport = httpx.ASGITransport(app=build_routes_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:3000") as c:
        response = await c.post("/callbacks/sft", json=body, headers=headers)
    assert response.status_code in (401, 404), (response.status_code, response.text)


# --- Secure cookies over https -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["demo", "test"])
async def test_probe_signin_cookie_is_secure_over_https(
    sqlite_db: Settings, monkeypatch: pytest.MonkeyPatch, dispose_engines: None, mode: str
) -> None:
    from http.cookiejar import CookieJar

    monkeypatch.setenv("APP_ENV", mode)
    monkeypatch.setenv("PUBLIC_URL", "https://portal.test")
    get_settings.cache_clear()
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(
        transport=transport, base_url="https://portal.test", cookies=CookieJar(policy=_NoCookies())
    ) as c:
        await signed_up_and_verified(c)
        response = await signin(c, "ana@example.com", PASSWORD)
    token, attrs = session_cookie(response)
    assert token and attrs.get("secure") is True, response.headers.get_list("set-cookie")

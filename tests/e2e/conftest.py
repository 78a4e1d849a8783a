"""End-to-end fixtures: the real app (``reflex run --env prod``) driven by headless Chromium.

The app runs once per session, started by the shared harness (``tests/harness.py``): a free
port, its own DATA_DIR (fresh SQLite files and simulator state), ``python -m travelsim.cli
seed`` exactly as ``make demo`` does, ready when ``/healthz`` and ``/`` answer. When a test
failed, the DATA_DIR (with ``app.log``) is kept and its path printed. Chromium is Debian's
``/usr/bin/chromium`` (never ``playwright install``). Screenshots go to
``tests/e2e/screenshots/`` (git-ignored).

The app's built-in simulator is driven only through its controls on the app's own port
(``/_sim/...``, loopback only, demo/test mode only): fixture :func:`app_sim`. No test opens a
second simulator on its file (that one would hold its own clock offset, faults and settings).
After every test module the simulator is put back to its seeded state with its clock at the
real time when the module moved the clock or left faults (:func:`_simulator_back_to_seed`),
so no module depends on the ones that ran before it.

Every browser context starts as a traveler who chose euros (the ``travelsim_currency=EUR``
cookie, :class:`EuroBrowser`): Chromium sends ``Accept-Language: en-US`` unless a test names
a locale, which defaults to US dollars (docs/i18n.md#currencies), and the tests check the
seed's euro prices. ``test_currency.py`` changes the currency with the header's menu.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    ROOT,
    SIMULATOR_DB,
    AppServer,
    AppSimulator,
    app_environment,
    free_port,
    seed,
    start_app,
)
from tests.oidc_provider import ProviderServer, start_provider

__all__ = ["DESKTOP", "PHONE", "ROOT", "AppSimulator", "shot"]

SCREENSHOTS = ROOT / "tests" / "e2e" / "screenshots"
#: The callback token of the e2e app (at least 32 characters, as start-up requires).
E2E_CALLBACK_TOKEN = "e2e-callback-token-0123456789abcdef"
_free_port = free_port  # the name tests/load/test_attack_browser.py imports
_RUNNING: list[AppServer] = []  # the session's app once started (for the module reset)


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[ProviderServer]:
    """The test OpenID Connect provider (``tests/oidc_provider.py``) on loopback, started
    before the app so the app's settings can name it (``OIDC_*`` in :func:`app_env`)."""
    server = start_provider(redirect_uris=[])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app_env(oidc_provider: ProviderServer) -> dict[str, str]:
    env = app_environment(
        "e2e",
        app_env="test",  # explicit: an unset APP_ENV means production, which refuses to start
        extra={
            "SFT_SIM_RATE_LIMIT_TPS": "50",
            "SFT_RATE_LIMIT_TPS": "40",
            "OIDC_ISSUER_URL": oidc_provider.issuer,
            "OIDC_CLIENT_ID": oidc_provider.provider.client_id,
            "OIDC_CLIENT_SECRET": oidc_provider.provider.client_secret,
            "OIDC_DISPLAY_NAME": "Test IdP",
            "SUPPORT_EMAIL": "help@travelsim-e2e.test",
            "SUPPORT_URL": "https://help.travelsim-e2e.test/esim",
            # Platform callbacks on (docs/sft-platform.md#callbacks): the staff walk posts one.
            "SFT_CALLBACK_TOKEN": E2E_CALLBACK_TOKEN,
        },
    )
    oidc_provider.provider.redirect_uris.append(f"{env['PUBLIC_URL']}/auth/oidc/callback")
    return env


@pytest.fixture(scope="session")
def app_url(app_env: dict[str, str], request: pytest.FixtureRequest) -> Iterator[str]:
    """Seed and start the app once per session; its base URL (``http://localhost:<port>``).
    Stopped (its process group) at the end; its DATA_DIR and log kept when a test failed.
    (``tests/load/test_attack_browser.py`` imports this fixture with an ``app_env`` of its
    own.)"""
    seed(app_env)
    app = start_app(app_env)
    _RUNNING.append(app)
    try:
        yield app.url
    finally:
        _RUNNING.remove(app)
        app.stop(keep_data=request.session.testsfailed > 0)


@pytest.fixture(scope="session")
def app_server(app_url: str) -> AppServer:
    """The running app (:class:`tests.harness.AppServer`): URL, environment, log."""
    return next(app for app in _RUNNING if app.url == app_url)


@pytest.fixture(scope="session")
def app_sim(app_server: AppServer) -> AppSimulator:
    """The app's own simulator (the one its SFT client talks to), driven over HTTP."""
    return AppSimulator(app_server.loopback_url, app_server.data_dir / SIMULATOR_DB)


@pytest.fixture(autouse=True, scope="module")
def _simulator_back_to_seed() -> Iterator[None]:
    """After a module whose tests moved the app's simulator clock or left a fault, reset
    the simulator (seeded inventory, clock offset 0, no faults, ``AppSimulator.reset``):
    the clock cannot be moved back otherwise, and the next module must see a simulator
    clock that runs with the real one. Costs two control requests per module."""
    yield
    for app in _RUNNING:
        if app.proc.poll() is None:
            sim = AppSimulator(app.loopback_url, app.data_dir / SIMULATOR_DB)
            if sim.clock_offset() != 0 or sim.state()["faults"]:
                sim.reset()


class EuroBrowser:
    """The session's Chromium whose new contexts hold the ``travelsim_currency=EUR`` cookie
    for the app's hosts (as after choosing EUR in the currency menu); everything else is the
    real :class:`~playwright.sync_api.Browser`."""

    def __init__(self, inner: Browser) -> None:
        self.inner = inner

    def new_context(self, **kwargs: Any) -> BrowserContext:
        ctx = self.inner.new_context(**kwargs)
        ctx.add_cookies(
            [
                {"name": "travelsim_currency", "value": "EUR", "domain": host, "path": "/"}
                for host in ("localhost", "127.0.0.1")
            ]
        )
        return ctx

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield cast(Browser, EuroBrowser(b))  # a Browser to the tests
        b.close()


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    ctx = browser.new_context(viewport=DESKTOP, color_scheme="light")
    page = ctx.new_page()
    yield page
    ctx.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    ctx = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        color_scheme="light",
        user_agent=(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
        ),
    )
    page = ctx.new_page()
    yield page
    ctx.close()


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under tests/e2e/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

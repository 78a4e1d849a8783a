"""End-to-end harness: the real app (``reflex run --env prod``) driven by headless Chromium.

The app runs once per session on a free port, with its own DATA_DIR (fresh SQLite files
and simulator state), after ``python -m travelsim.cli seed`` exactly as ``make demo``
does. Chromium is Debian's ``/usr/bin/chromium`` (never ``playwright install``).
Screenshots go to ``tests/e2e/screenshots/`` (git-ignored).

The app's built-in simulator is driven through its controls on the app's own port
(``/_sim/...``, loopback only, demo/test mode only): fixture :func:`app_sim`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.oidc_provider import ProviderServer, start_provider

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "e2e" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[ProviderServer]:
    """The test OpenID Connect provider (``tests/oidc_provider.py``) on loopback, started
    before the app so the app's settings can name it (``OIDC_*`` in :func:`app_env`)."""
    server = start_provider(redirect_uris=[])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app_env(oidc_provider: ProviderServer) -> dict[str, str]:
    port = _free_port()
    oidc_provider.provider.redirect_uris.append(f"http://localhost:{port}/auth/oidc/callback")
    data_dir = Path(tempfile.mkdtemp(prefix="travelsim-e2e-"))
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        PATH=f"{bin_dir}:{env.get('PATH', '')}",
        REFLEX_USE_NPM="1",
        APP_ENV="test",
        DATA_DIR=str(data_dir),
        FRONTEND_PORT=str(port),
        BACKEND_PORT=str(port),
        PUBLIC_URL=f"http://localhost:{port}",
        SFT_SIM_RATE_LIMIT_TPS="50",
        SFT_RATE_LIMIT_TPS="40",
        PYTHONUNBUFFERED="1",
        OIDC_ISSUER_URL=oidc_provider.issuer,
        OIDC_CLIENT_ID=oidc_provider.provider.client_id,
        OIDC_CLIENT_SECRET=oidc_provider.provider.client_secret,
        OIDC_DISPLAY_NAME="Test IdP",
        SUPPORT_EMAIL="help@travelsim-e2e.test",
        SUPPORT_URL="https://help.travelsim-e2e.test/esim",
    )
    env.pop("DATABASE_URL", None)
    env.pop("SFT_BASE_URL", None)
    return env


@pytest.fixture(scope="session")
def app_url(app_env: dict[str, str]) -> Iterator[str]:
    """Start the real app on a free port and yield its base URL."""
    port = app_env["FRONTEND_PORT"]
    subprocess.run(
        [sys.executable, "-m", "travelsim.cli", "seed"], cwd=ROOT, env=app_env, check=True
    )
    log_path = Path(app_env["DATA_DIR"]) / "app.log"
    log = log_path.open("w")
    reflex = str(Path(sys.executable).parent / "reflex")
    proc = subprocess.Popen(
        [reflex, "run", "--env", "prod", "--frontend-port", port, "--backend-port", port],
        cwd=ROOT,
        env=app_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 600
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited early:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    if httpx.get(url, timeout=5).status_code == 200:
                        break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"app did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(app_env["DATA_DIR"], ignore_errors=True)


@dataclass
class AppSimulator:
    """The running app's in-process SFT simulator, over HTTP on the app's port
    (``/_sim/<path>``, the controls of ``docs/simulator.md``)."""

    base_url: str

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """One control request; the response as is (status not checked)."""
        return httpx.request(method, f"{self.base_url}/_sim/{path}", json=body, timeout=30)

    def ctl(self, method: str, path: str, body: Any = None) -> Any:
        """One control request that must succeed; its JSON answer."""
        r = self.call(method, path, body)
        assert r.status_code == 200, f"{method} /_sim/{path}: {r.status_code} {r.text}"
        return r.json()

    def consume(self, endpoint_id: str, nbytes: int) -> dict[str, Any]:
        """Data used on ``endpoint_id`` (bytes), billed by the simulator's rules."""
        out: dict[str, Any] = self.ctl(
            "POST", "consume", {"endPointId": endpoint_id, "bytes": nbytes}
        )
        return out

    def profile_status(self, endpoint_id: str, status: str) -> dict[str, Any]:
        out: dict[str, Any] = self.ctl(
            "POST", "profile-status", {"endPointId": endpoint_id, "status": status}
        )
        return out

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = self.ctl("GET", "state")
        return out


@pytest.fixture
def app_sim(app_url: str) -> AppSimulator:
    """The app's own simulator (the one its SFT client talks to), driven over HTTP."""
    return AppSimulator(app_url.replace("localhost", "127.0.0.1"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
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

"""Attack over HTTP and the websocket handshake: foreign origins (CORS), cross-origin posts.

Two travelers each own a delivered eSIM (the world of ``test_attack.py``: in-process
simulator, a real SQLite file, real session cookies). The attacker runs a page on another
origin (``https://evil.example``) that the victim opens while signed in:

* **CORS** (the stack Reflex serves: ``rxconfig.py``'s ``cors_allowed_origins`` applied by
  Reflex's own ``App._add_cors`` to the routes app, as ``reflex/app.py`` does at start-up):
  ``GET /esims/{id}/qr.png`` and ``GET /account/export.json`` with the victim's cookie and
  ``Origin: https://evil.example`` answer without ``Access-Control-Allow-Origin`` for that
  origin (the page cannot read the QR or the export), while ``Origin: <PUBLIC_URL>`` is
  granted; a foreign preflight ``OPTIONS`` is not granted.
* **Cross-origin posts**: every route of ``build_routes_app()`` (walked programmatically,
  mounts included), every unsafe method it accepts, with the victim's cookie and (a) a
  foreign ``Origin``, (b) ``Origin: null``, (c) a foreign ``Referer`` and no ``Origin``:
  403 with the ``csrf`` message and the database file's rows unchanged, except the
  documented server-to-server allow-list (``travelsim.routes.http.SERVER_TO_SERVER``). A
  route added without any check of its own is refused the same way (the guard is the
  app's, not the route's). (d) a request with neither header is not refused by the guard
  (non-browser clients; docs/architecture.md#security-origins-csrf-and-event-arguments).
* **Websocket**: the real app (``uvicorn --factory travelsim.travelsim:app`` on a free
  loopback port, the Reflex ASGI app exactly as ``reflex run`` builds it) refuses a
  socket.io handshake on ``/_event/`` whose ``Origin`` is foreign and accepts the public
  origin's; its own HTTP answers do not grant the foreign origin either.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from reflex.app import App
from reflex_base.config import reload_config
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route

from tests.harness import app_environment, stop_group, wait_http
from tests.load.test_attack import World, world  # noqa: F401 - the two travelers' fixture
from travelsim import db
from travelsim.models import Esim
from travelsim.routes.app import build_routes_app
from travelsim.services.auth import sessions
from travelsim.services.auth.errors import message_for
from travelsim.settings import get_settings

EVIL = "https://evil.example"
PUBLIC = "https://localhost:8443"  # test mode answers on loopback only (travelsim.startup)
UNSAFE = ("POST", "PUT", "DELETE", "PATCH")
UVICORN = [sys.executable, "-m", "uvicorn", "--factory", "travelsim.travelsim:app"]
#: A form that would do something on every route that reads one (sign-out, delete, reset...).
FORM = {
    "email": "victim@example.com",
    "password": "correct horse battery",
    "confirm_email": "victim@example.com",
    "confirm": "yes",
    "code": "123456",
    "next": "/account",
}


@pytest.fixture
def public_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Test mode with an https public URL, loaded by ``rxconfig.py`` as at start-up."""
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("PUBLIC_URL", PUBLIC)
    get_settings.cache_clear()
    reload_config()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()
    reload_config()


@pytest.fixture
async def site(public_env: None, world: World) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    """The routes app as Reflex serves it (its CORS middleware added by Reflex itself)."""
    app = build_routes_app()
    App._add_cors(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as http:
        yield http


def cookie(token: str) -> dict[str, str]:
    return {"cookie": f"{sessions.COOKIE_NAME}={token}"}


def database_rows(world: World) -> list[str]:  # noqa: F811
    """Every row of the portal's SQLite file, as SQL text (what a change would show in)."""
    path = world.settings.sync_database_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


# --- CORS -----------------------------------------------------------------------------------
async def test_probe_cors_foreign_origin_cannot_read_qr_or_export(
    site: httpx.AsyncClient,
    world: World,  # noqa: F811
) -> None:
    v = world.victim
    for path in (f"/esims/{v.esim_id}/qr.png", "/account/export.json"):
        foreign = await site.get(path, headers={**cookie(v.token), "origin": EVIL})
        assert foreign.status_code == 200  # the route answers; the browser must not share it
        granted = foreign.headers.get("access-control-allow-origin")
        assert granted not in (EVIL, "*"), f"{path}: {EVIL} may read it ({granted})"
        own = await site.get(path, headers={**cookie(v.token), "origin": PUBLIC})
        assert own.status_code == 200
        assert own.headers.get("access-control-allow-origin") == PUBLIC
        assert own.headers.get("access-control-allow-credentials") == "true"
    assert foreign.content.startswith(b"{") or foreign.content.startswith(b"\x89PNG")


async def test_probe_cors_foreign_preflight_not_granted(site: httpx.AsyncClient) -> None:
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    foreign = await site.options("/account/delete", headers={"origin": EVIL, **preflight})
    assert foreign.headers.get("access-control-allow-origin") not in (EVIL, "*")
    assert foreign.status_code >= 400, foreign.status_code
    own = await site.options("/account/delete", headers={"origin": PUBLIC, **preflight})
    assert own.status_code == 200
    assert own.headers.get("access-control-allow-origin") == PUBLIC


# --- cross-origin posts ---------------------------------------------------------------------
def unsafe_requests(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, str]]:
    """(method, path) for every unsafe method of every route, mounts walked, path
    parameters filled (``{esim_id}`` → 1, ``{path:path}`` → ``clock``)."""
    found: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, Mount):
            found += unsafe_requests(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            path = prefix + route.path.replace("{path:path}", "clock")
            path = path.replace("{esim_id}", "1")
            methods = route.methods or set(UNSAFE)
            found += [(m, path) for m in UNSAFE if m in methods]
    return found


async def test_probe_cross_origin_posts_refused_on_every_route(
    public_env: None,
    world: World,  # noqa: F811
) -> None:
    from travelsim.routes.http import SERVER_TO_SERVER

    app = build_routes_app()
    forgot: list[str] = []

    async def new_route(request: Request) -> PlainTextResponse:  # a route with no check
        async with db.session() as s:  # renames the victim's eSIM
            esim = await s.get(Esim, world.victim.esim_id)
            assert esim is not None
            esim.nickname = "renamed by a cross-site form"
            await s.commit()
        forgot.append(request.method)
        return PlainTextResponse("done")

    app.router.routes.insert(0, Route("/new/form", new_route, methods=["POST"]))
    App._add_cors(app)
    requests = unsafe_requests(app.routes)
    guarded = [(m, p) for m, p in requests if not p.startswith(SERVER_TO_SERVER)]
    assert len(guarded) >= 12 and ("POST", "/new/form") in guarded, guarded
    assert {p for _, p in requests} - {p for _, p in guarded} == set(SERVER_TO_SERVER)
    attacks = {
        "foreign Origin": {"origin": EVIL},
        "Origin: null": {"origin": "null"},
        "foreign Referer": {"referer": f"{EVIL}/page"},
        "Sec-Fetch-Site: cross-site": {"sec-fetch-site": "cross-site"},
    }
    before = database_rows(world)
    refused_text = message_for("csrf")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as http:
        for method, path in guarded:
            for label, headers in attacks.items():
                r = await http.request(
                    method, path, data=FORM, headers={**cookie(world.victim.token), **headers}
                )
                assert (r.status_code, r.text) == (403, refused_text), (
                    f"{method} {path} with {label}: {r.status_code} {r.text[:80]!r}"
                )
        assert database_rows(world) == before and forgot == []
        # (d) neither header: a non-browser client, not refused by the guard.
        plain = await http.post("/new/form", data={}, headers=cookie(world.victim.token))
        assert (plain.status_code, forgot) == (200, ["POST"])
    print(f"\n{len(guarded)} method/route pairs x {len(attacks)} attacks refused")


# --- the websocket handshake, on the real app ------------------------------------------------
@pytest.fixture(scope="module")
def real_app() -> Iterator[str]:
    """The Reflex ASGI app as ``reflex run`` builds it, served by uvicorn on a free
    loopback port (migrated database, test mode): its base URL."""
    env = app_environment("origins", app_env="test")
    port = env["BACKEND_PORT"]
    subprocess.run(
        [sys.executable, "-m", "travelsim.cli", "seed"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log_path = Path(env["DATA_DIR"]) / "app.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [*UVICORN, "--host", "127.0.0.1", "--port", port],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, log_path, 180, poll=0.5)
        yield env["PUBLIC_URL"]
    finally:
        stop_group(proc)


async def handshake(base: str, origin: str) -> str:
    """Open the socket.io websocket with ``origin``; the engine.io open packet, or
    ``refused: <why>``."""
    url = base.replace("http://", "ws://").replace("localhost", "127.0.0.1")
    try:
        async with websockets.connect(
            f"{url}/_event/?EIO=4&transport=websocket", origin=origin, open_timeout=10
        ) as ws:
            first = await asyncio.wait_for(ws.recv(), timeout=10)
            return first if isinstance(first, str) else first.decode()
    except websockets.InvalidStatus as exc:
        return f"refused: HTTP {exc.response.status_code}"
    except websockets.ConnectionClosed as exc:
        return f"refused: closed {exc.rcvd}"


async def test_probe_websocket_refuses_a_foreign_origin(real_app: str) -> None:
    foreign = await handshake(real_app, EVIL)
    assert foreign.startswith("refused"), f"{EVIL} opened the event websocket: {foreign[:80]}"
    own = await handshake(real_app, real_app)
    assert own.startswith('0{"sid":'), own
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=real_app.replace("localhost", "127.0.0.1")) as http:
        for path in ("/healthz", "/ping"):
            r = await http.get(path, headers={"origin": EVIL, "cookie": "travelsim_session=x"})
            assert r.headers.get("access-control-allow-origin") not in (EVIL, "*"), path
            r = await http.get(path, headers={"origin": real_app})
            assert r.headers.get("access-control-allow-origin") == real_app, path
        # Reflex's own endpoints sit behind the same cross-origin guard.
        forged = await http.post("/ping", headers={"origin": EVIL})
        assert (forged.status_code, forged.text) == (403, message_for("csrf"))
    assert time.monotonic() - started < 30

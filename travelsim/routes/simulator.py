"""``/_sim/...`` on the portal's port: the built-in simulator's operator controls.

``make demo`` runs the simulator inside the portal process (no port of its own), so its
controls (consume data, set a profile status, advance the clock, faults, reset, ...;
``docs/simulator.md``) are served here, on the same paths as on a standalone simulator.
Only when all of these hold, else the answer is 404 (not configured) or 403 (refused):

* ``APP_ENV`` is ``demo`` or ``test`` (never ``production``) and ``SFT_BASE_URL`` is unset
  (the built-in simulator is the platform): else 404;
* the TCP peer (the ASGI ``client``) is a loopback address: else 403. Forwarding headers
  (``X-Forwarded-For``, ``Forwarded``, ``X-Real-IP``) never make a client local; a request
  carrying one came through a proxy and is refused, whatever the peer;
* the ``Host`` is a loopback name (``localhost``, ``127.x.x.x``, ``[::1]``) and there is no
  ``Origin`` header: a web page open in the developer's browser (which would be a loopback
  client) cannot reach the controls, directly or by DNS rebinding: else 403.

Only the controls are passed on (:attr:`Simulator.controls_app`); the SFT API (``/api/...``)
of the simulator is never reachable through the portal
(docs/architecture.md#simulator-controls-on-the-app-port).
"""

from __future__ import annotations

import ipaddress
import logging

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from travelsim.settings import get_settings

log = logging.getLogger(__name__)

#: Headers a proxy adds; their presence means the peer is not the client.
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host")
CONTROL_ENVS = ("demo", "test")


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_host(host_header: str) -> bool:
    """``Host`` without its port is ``localhost`` or a loopback address."""
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:3000
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host == "localhost" or _is_loopback_ip(host)


def refusal(scope: Scope) -> tuple[int, str] | None:
    """Why this request may not use the controls, as ``(HTTP status, reason)``; ``None``
    when it may (rules in the module docstring)."""
    settings = get_settings()
    if settings.app_env not in CONTROL_ENVS or not settings.uses_simulator:
        return 404, "not found"
    client = scope.get("client")
    if not client or not _is_loopback_ip(str(client[0])):
        return 403, "simulator controls answer loopback clients only"
    headers = Headers(scope=scope)
    if any(name in headers for name in PROXY_HEADERS):
        return 403, "simulator controls answer direct loopback clients only (no proxy)"
    if "origin" in headers:
        return 403, "simulator controls are not for web pages"
    if not is_loopback_host(headers.get("host", "")):
        return 403, "simulator controls answer on a loopback host name only"
    return None


class SimulatorControls:
    """ASGI endpoint for ``/_sim/{path}``: checks :func:`refusal`, then hands the request
    unchanged to the in-process simulator's controls app."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = refusal(scope)
        if refused is not None:
            status, reason = refused
            if status == 403:
                client = scope.get("client")
                log.warning(
                    "simulator control refused: %s (%s)", reason, client[0] if client else "-"
                )
            body = {"error": reason} if status == 403 else {"error": "not found"}
            await JSONResponse(body, status_code=status)(scope, receive, send)
            return
        from travelsim.sft.factory import simulator_app
        from travelsim.sft_simulator import Simulator

        simulator = getattr(simulator_app(get_settings()), "state", None)
        sim = getattr(simulator, "simulator", None)
        if not isinstance(sim, Simulator):  # pragma: no cover - the factory builds one
            await JSONResponse({"error": "no simulator"}, status_code=404)(scope, receive, send)
            return
        await sim.controls_app(scope, receive, send)

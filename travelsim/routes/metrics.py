"""``GET /metrics``: the Prometheus exposition (``services.monitoring``; docs/monitoring.md).

The figures say how much the seller sells and where it fails, so they are not public:

* ``METRICS_TOKEN`` set: only a request with ``Authorization: Bearer <METRICS_TOKEN>``
  (compared in constant time) gets them; any other gets 401 with no body;
* unset: 404, except in ``demo``/``test`` mode for a loopback client (the local demo's own
  Prometheus, or ``curl``).

Answers ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hmac
import ipaddress

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from travelsim import db
from travelsim.services import monitoring
from travelsim.settings import get_settings

NO_STORE = {"Cache-Control": "no-store"}


def _peer_is_loopback(request: Request) -> bool:
    """The TCP peer (never a forwarding header) is a loopback address."""
    if request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def _allowed(request: Request) -> int | None:
    """``None`` when the request may read the metrics, else the status to answer."""
    settings = get_settings()
    if settings.metrics_token is None:
        if settings.app_env in ("demo", "test") and _peer_is_loopback(request):
            return None
        return 404
    expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
    given = request.headers.get("authorization", "").encode()
    return None if hmac.compare_digest(given, expected) else 401


async def metrics(request: Request) -> Response:
    refused = _allowed(request)
    if refused is not None:
        headers = dict(NO_STORE)
        if refused == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return Response(status_code=refused, headers=headers)
    async with db.session() as s:
        families = await monitoring.database_metrics(s, get_settings())
    return Response(
        monitoring.exposition(families), media_type=CONTENT_TYPE_LATEST, headers=NO_STORE
    )

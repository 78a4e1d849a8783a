"""``GET /healthz``: liveness and database reachability, as JSON."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from travelsim import db

log = logging.getLogger(__name__)


async def healthz(_request: Request) -> JSONResponse:
    """200 ``{"status": "ok", "database": "ok"}`` when the database answers ``SELECT 1``;
    503 with ``"database": "unreachable"`` (and the error class, never the URL) otherwise."""
    try:
        await db.ping()
    except Exception as exc:  # any driver error means unreachable
        log.warning("healthz: database unreachable (%s)", type(exc).__name__)
        return JSONResponse(
            {"status": "degraded", "database": "unreachable", "error": type(exc).__name__},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok"})

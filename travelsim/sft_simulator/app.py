"""The simulator's HTTP surface: SFT API under ``/api/`` and operator controls under ``/_sim/``.

:class:`Simulator` is assembled from :mod:`.envelope` (request parsing, ``Response`` envelope,
rate limit, faults, tokens), :mod:`.operations` (the SFT operations) and :mod:`.controls` (the
``/_sim/`` controls).
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .callbacks import CallbackEmitter
from .config import SimulatorConfig
from .controls import ControlOps
from .envelope import (
    HTML_BODY,
    MALFORMED_BODY,
    ApiCall,
    BadInput,
    Handler,
    Operation,
    TokenBucket,
    stringify,
)
from .faults import FaultBook
from .operations import ApiOperations
from .store import Store

__all__ = [
    "ALL_METHODS",
    "HTML_BODY",
    "MALFORMED_BODY",
    "ApiCall",
    "BadInput",
    "Handler",
    "Operation",
    "Simulator",
    "TokenBucket",
    "create_app",
    "stringify",
]

ALL_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


class Simulator(ApiOperations, ControlOps):
    """One simulated SFT account: store, rate limiter, faults, call log and the ASGI app."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.store = Store(config.db_path, seed_esims=config.seed_esims, seed=config.seed)
        self.rate_limit_tps = config.rate_limit_tps
        self.rating_delay = config.rating_delay_seconds
        self.expiry_shape = config.expiry_shape
        #: "documented" or "legacy" (config.Shapes); changeable at run time through settings.
        self.shapes = config.shapes
        self.bucket = TokenBucket(config.rate_limit_tps, config.bucket_capacity)
        self.faults = FaultBook()
        self.calls: collections.deque[dict[str, Any]] = collections.deque(maxlen=5000)
        self.call_counts: collections.Counter[str] = collections.Counter()
        self._seq = 0
        self.callbacks = CallbackEmitter(
            self.store, lambda: self.rating_delay, config.account_id, lambda: self.shapes
        )
        if config.callback_url:
            self.callbacks.configure(
                config.callback_url,
                token=config.callback_token,
                interval_seconds=config.callback_interval_seconds,
                max_events=config.callback_max_events,
            )
        self.ops = self.operation_table()

        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            yield
            self.callbacks.stop()
            self.store.close()

        self.app = Starlette(
            routes=[Route("/{path:path}", self.dispatch, methods=ALL_METHODS)],
            lifespan=lifespan,
        )
        self.app.state.simulator = self
        #: The operator controls alone (``/_sim/...``; every other path, the SFT API
        #: included, answers 404): what a host application may expose on its own port.
        self.controls_app = Starlette(
            routes=[Route("/{path:path}", self.dispatch_controls, methods=ALL_METHODS)]
        )
        self.controls_app.state.simulator = self

    async def dispatch(self, request: Request) -> Response:
        """Route ``/api/...`` to the SFT operations and ``/_sim/...`` to the controls (paths
        case-insensitive); anything else is 404. Every answer has ``X-Rate-Limit-TPS``."""
        low = request.url.path.lower().rstrip("/")
        if low.startswith("/api/"):
            response = await self._api(request, low[5:])
        elif low.startswith("/_sim/"):
            response = await self._control(request, low[6:])
        else:
            response = JSONResponse({"error": "not found"}, status_code=404)
        response.headers["X-Rate-Limit-TPS"] = self.tps_header()
        return response

    async def dispatch_controls(self, request: Request) -> Response:
        """Like :meth:`dispatch`, for ``/_sim/`` paths only (404 for anything else)."""
        low = request.url.path.lower().rstrip("/")
        if low.startswith("/_sim/") and "/api/" not in f"{low}/":
            response = await self._control(request, low[6:])
        else:
            response = JSONResponse({"error": "not found"}, status_code=404)
        response.headers["X-Rate-Limit-TPS"] = self.tps_header()
        return response


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """Build the simulator's ASGI app; the database is opened (and seeded) right here.

    Works without lifespan events (e.g. ``httpx.ASGITransport``). The :class:`Simulator`
    instance is reachable as ``app.state.simulator``.
    """
    return Simulator(config or SimulatorConfig()).app

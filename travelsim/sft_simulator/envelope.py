"""The wire around every SFT operation: request parsing (case-insensitive fields, string or
number scalars), the ``Response`` envelope, the rate limiter, fault injection and token checks.

Rules: ``docs/simulator.md#wire-format`` and ``docs/sft-platform.md#conventions``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .callbacks import CallbackEmitter
from .config import SimulatorConfig
from .faults import FaultBook
from .store import INVALID, OpResult, Store, fmt_ts


class BadInput(Exception):
    """A request field is missing or has the wrong type (answered with resultParam 1001)."""

    def __init__(self, name: str, problem: str = "missing or invalid") -> None:
        super().__init__(f"Invalid parameter {name}: {problem}")
        self.name = name


def stringify(value: Any) -> Any:
    """Every scalar becomes a string (``True`` -> ``"true"``, ``None`` -> ``"-"``)."""
    if isinstance(value, dict):
        return {k: stringify(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "-"
    return str(value)


def lookup(d: Any, name: str) -> Any:
    """Case-insensitive key lookup in a dict (None if absent or ``d`` is not a dict)."""
    if not isinstance(d, dict):
        return None
    if name in d:
        return d[name]
    low = name.lower()
    for k, v in d.items():
        if isinstance(k, str) and k.lower() == low:
            return v
    return None


def scalar(value: Any, name: str, *, required: bool = True) -> str | None:
    """Accept a string or a number; reject other types."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadInput(name, "missing")
        return None
    if isinstance(value, bool):
        raise BadInput(name, "wrong type")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        raise BadInput(name, "wrong type")
    if isinstance(value, str):
        return value.strip()
    raise BadInput(name, "wrong type")


def int_param(value: Any, name: str, default: int | None = None) -> int | None:
    s = scalar(value, name, required=default is None and value is not None)
    if s is None:
        return default
    try:
        return int(s)
    except ValueError:
        raise BadInput(name, "not an integer") from None


def id_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    out: list[str] = []
    for v in value:
        s = scalar(v, name)
        assert s is not None
        out.extend(x.strip() for x in s.split(",") if x.strip())
    return out


@dataclass
class ApiCall:
    """A parsed API request handed to an operation handler."""

    op: str
    query: dict[str, str]
    body: dict[str, Any]
    token: str | None

    @property
    def req(self) -> dict[str, Any]:
        r = lookup(self.body, "Request")
        return r if isinstance(r, dict) else {}

    @property
    def req_param(self) -> dict[str, Any]:
        r = lookup(self.req, "requestParam")
        return r if isinstance(r, dict) else {}

    def q(self, name: str) -> str | None:
        v = self.query.get(name.lower())
        return v if v not in (None, "") else None

    def endpoint_id(self) -> str:
        v = lookup(self.req, "endPointId")
        if v is None:
            v = lookup(self.req_param, "endPointId")
        s = scalar(v, "endPointId")
        assert s is not None
        return s


Handler = Callable[[ApiCall], Response]


@dataclass(frozen=True)
class Operation:
    """One ``/api/<name>`` operation: allowed HTTP methods, handler, whether it needs a token."""

    methods: frozenset[str]
    handler: Handler
    auth: bool = True


class TokenBucket:
    """Per-account token bucket (wall clock)."""

    def __init__(self, rate: float, capacity: float) -> None:
        self._lock = threading.Lock()
        self.configure(rate, capacity)

    def configure(self, rate: float, capacity: float) -> None:
        with self._lock:
            self.rate = rate
            self.capacity = capacity
            self.tokens = capacity
            self.stamp = time.monotonic()

    def try_acquire(self) -> bool:
        if self.rate <= 0:
            return True
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False


MALFORMED_BODY = '{"Response": {"resultCode": "0", "resultParam": {"resultCode": "0", "resul'
HTML_BODY = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


class SimulatorState:
    """The attributes of a :class:`~travelsim.sft_simulator.app.Simulator` that its mixins
    (envelope, operations, controls) share; set in ``Simulator.__init__``."""

    config: SimulatorConfig
    store: Store
    rate_limit_tps: float
    rating_delay: float
    expiry_shape: str
    bucket: TokenBucket
    faults: FaultBook
    calls: collections.deque[dict[str, Any]]
    call_counts: collections.Counter[str]
    _seq: int
    callbacks: CallbackEmitter
    ops: dict[str, Operation]


class ApiEnvelope(SimulatorState):
    """Envelope building and the gate every ``/api/`` call goes through (rate limit, faults,
    JSON body, token) before its operation handler runs."""

    def _timestamp(self) -> str:
        return fmt_ts(self.store.now())

    def envelope(
        self,
        ok: bool,
        code: str,
        description: str,
        param: dict[str, Any] | None = None,
        top: dict[str, Any] | None = None,
        status: int = 200,
    ) -> JSONResponse:
        body: dict[str, Any] = {
            "resultCode": "0" if ok else "1",
            "resultParam": {"resultCode": code, "resultDescription": description},
        }
        if param is not None:
            body["responseParam"] = param
        if top:
            body.update(top)
        body["responseId"] = uuid.uuid4().hex[:20]
        body["responseTimestamp"] = self._timestamp()
        return JSONResponse(stringify({"Response": body}), status_code=status)

    def result(self, r: OpResult) -> JSONResponse:
        return self.envelope(r.ok, r.code, r.description, r.param, r.top)

    def tps_header(self) -> str:
        return f"{self.rate_limit_tps:g}"

    def auth_failure(self, description: str) -> JSONResponse:
        status = 401 if self.expiry_shape == "http401" else 200
        return self.envelope(False, "401", description, status=status)

    def _log(self, op: str, method: str, response: Response, fired: list[str]) -> None:
        self._seq += 1
        code = param = None
        if isinstance(response, JSONResponse):
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                data = json.loads(bytes(response.body))
                r = data.get("Response", {})
                code = r.get("resultCode")
                param = r.get("resultParam", {}).get("resultCode")
        self.call_counts[op] += 1
        self.calls.append(
            {
                "seq": self._seq,
                "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "method": method,
                "operation": op,
                "status": response.status_code,
                "resultCode": code,
                "resultParamCode": param,
                "faults": fired,
            }
        )

    async def _api(self, request: Request, op: str) -> Response:
        operation = self.ops.get(op)
        if operation is None:
            return self.envelope(False, "404", f"Unknown API /api/{op}", status=404)
        if request.method not in operation.methods:
            return self.envelope(False, "405", "Method not allowed", status=405)
        fired_names: list[str] = []
        response = await self._api_inner(request, op, operation, fired_names)
        self._log(op, request.method, response, fired_names)
        return response

    async def _api_inner(
        self, request: Request, op: str, operation: Operation, fired_names: list[str]
    ) -> Response:
        if not self.bucket.try_acquire():
            return self.envelope(
                False, "429", "API rate limit exceeded (too many requests)", status=429
            )
        fired = self.faults.fire(op)
        fired_names.extend(f.kind for f in fired)
        after_commit: float | None = None
        for f in fired:
            if f.kind == "latency":
                await asyncio.sleep(f.latency_seconds)
        for f in fired:
            if f.kind == "token_expiry":
                self.store.expire_access_tokens()
            elif f.kind == "429_burst":
                return self.envelope(
                    False, "429", "API rate limit exceeded (too many requests)", status=429
                )
            elif f.kind == "rate_limit_body":  # HTTP 200 failure envelope naming the limit
                return self.envelope(False, "1", "Rate limit exceeded")
            elif f.kind == "http500":
                return self.envelope(
                    False,
                    "10239",
                    "Internal server error: operation failed, verify completion",
                    status=500,
                )
            elif f.kind == "malformed":
                return Response(MALFORMED_BODY, status_code=200, media_type="application/json")
            elif f.kind == "html":
                return Response(HTML_BODY, status_code=f.status or 502, media_type="text/html")
            elif f.kind == "timeout_after_commit":
                after_commit = f.latency_seconds
        body: dict[str, Any] = {}
        if request.method in ("POST", "PATCH", "PUT"):
            raw = await request.body()
            if raw.strip():
                try:
                    parsed = json.loads(raw)
                except (ValueError, UnicodeDecodeError):
                    return self.envelope(False, "400", "Malformed JSON body", status=400)
                body = parsed if isinstance(parsed, dict) else {}
        token: str | None = None
        header = request.headers.get("x-authorization", "")
        if header[:7].lower() == "bearer ":
            token = header[7:].strip() or None
        if operation.auth:
            if token is None:
                return self.auth_failure("Invalid token")
            state = self.store.check_token(token, "access")
            if state != "ok":
                return self.auth_failure("Token expired" if state == "expired" else "Invalid token")
        query = {k.lower(): v for k, v in request.query_params.items()}
        call = ApiCall(op, query, body, token)
        try:
            response = operation.handler(call)
        except BadInput as exc:
            response = self.envelope(False, INVALID, str(exc))
        if after_commit is not None:
            await asyncio.sleep(after_commit)
        return response

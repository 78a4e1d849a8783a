"""The simulator's HTTP surface: SFT API under ``/api/`` and operator controls under ``/_sim/``."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .callbacks import CallbackEmitter
from .catalogue import PLANS, PLANS_BY_ID
from .config import SimulatorConfig
from .faults import FaultBook
from .store import (
    INVALID,
    PROFILE_STATUSES,
    SIM_STATUS_BY_ID,
    OpResult,
    Store,
    fail,
    fmt_ts,
)

ALL_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


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


def _lookup(d: Any, name: str) -> Any:
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


def _scalar(value: Any, name: str, *, required: bool = True) -> str | None:
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


def _int_param(value: Any, name: str, default: int | None = None) -> int | None:
    s = _scalar(value, name, required=default is None and value is not None)
    if s is None:
        return default
    try:
        return int(s)
    except ValueError:
        raise BadInput(name, "not an integer") from None


def _id_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    out: list[str] = []
    for v in value:
        s = _scalar(v, name)
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
        r = _lookup(self.body, "Request")
        return r if isinstance(r, dict) else {}

    @property
    def req_param(self) -> dict[str, Any]:
        r = _lookup(self.req, "requestParam")
        return r if isinstance(r, dict) else {}

    def q(self, name: str) -> str | None:
        v = self.query.get(name.lower())
        return v if v not in (None, "") else None

    def endpoint_id(self) -> str:
        v = _lookup(self.req, "endPointId")
        if v is None:
            v = _lookup(self.req_param, "endPointId")
        s = _scalar(v, "endPointId")
        assert s is not None
        return s


Handler = Callable[[ApiCall], Response]


@dataclass(frozen=True)
class Operation:
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


class Simulator:
    """One simulated SFT account: store, rate limiter, faults, call log and the ASGI app."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.store = Store(config.db_path, seed_esims=config.seed_esims, seed=config.seed)
        self.rate_limit_tps = config.rate_limit_tps
        self.rating_delay = config.rating_delay_seconds
        self.expiry_shape = config.expiry_shape
        self.bucket = TokenBucket(config.rate_limit_tps, config.bucket_capacity)
        self.faults = FaultBook()
        self.calls: collections.deque[dict[str, Any]] = collections.deque(maxlen=5000)
        self.call_counts: collections.Counter[str] = collections.Counter()
        self._seq = 0
        self.callbacks = CallbackEmitter(self.store, lambda: self.rating_delay, config.account_id)
        if config.callback_url:
            self.callbacks.configure(
                config.callback_url,
                token=config.callback_token,
                interval_seconds=config.callback_interval_seconds,
                max_events=config.callback_max_events,
            )
        self.ops: dict[str, Operation] = {
            "login": Operation(frozenset({"POST"}), self.op_login, auth=False),
            "refreshtoken": Operation(frozenset({"GET", "POST"}), self.op_refresh, auth=False),
            "fetchsim": Operation(frozenset({"GET"}), self.op_fetch_sim),
            "endpointactivation": Operation(frozenset({"POST"}), self.op_activation),
            "endpointlifecyclechange": Operation(frozenset({"POST"}), self.op_life_cycle),
            "subscribeaddon": Operation(frozenset({"POST"}), self.op_subscribe_addon),
            "getendpointaddondetails": Operation(frozenset({"GET"}), self.op_addon_details),
            "getendpointaddon": Operation(frozenset({"GET"}), self.op_addon_details),
            "getendpointprofile": Operation(frozenset({"GET"}), self.op_profile),
            "getstatistics": Operation(frozenset({"GET"}), self.op_statistics),
            "queryrateplan": Operation(frozenset({"GET"}), self.op_query_rate_plan),
            "endpoint": Operation(frozenset({"PATCH"}), self.op_modify_endpoint),
            "delinksim": Operation(frozenset({"POST"}), self.op_delink),
        }

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

    # ------------------------------------------------------------------ envelopes
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

    # ------------------------------------------------------------------ dispatch
    async def dispatch(self, request: Request) -> Response:
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

    # ------------------------------------------------------------------ auth
    def _pair(self) -> JSONResponse:
        access, refresh = self.store.issue_tokens(
            self.config.access_token_ttl_seconds, self.config.refresh_token_ttl_seconds
        )
        return JSONResponse({"AccessToken": access, "RefreshToken": refresh})

    def op_login(self, call: ApiCall) -> Response:
        user = _lookup(call.body, "username")
        password = _lookup(call.body, "password")
        if (
            isinstance(user, str)
            and isinstance(password, str)
            and secrets.compare_digest(user.encode(), self.config.username.encode())
            and secrets.compare_digest(password.encode(), self.config.password.encode())
        ):
            return self._pair()
        return JSONResponse(
            {
                "Response": {
                    "resultCode": "1",
                    "resultParam": {
                        "resultCode": "401",
                        "resultDescription": "Invalid credentials",
                    },
                }
            },
            status_code=401,
        )

    def op_refresh(self, call: ApiCall) -> Response:
        if call.token is None:
            return self.auth_failure("Invalid token")
        state = self.store.check_token(call.token, "refresh")
        if state != "ok":
            return self.auth_failure("Token expired" if state == "expired" else "Invalid token")
        return self._pair()

    # ------------------------------------------------------------------ operations
    def op_fetch_sim(self, call: ApiCall) -> Response:
        page = _int_param(call.q("page"), "page", 1)
        per_page = _int_param(call.q("perPage"), "perPage", 10)
        assert page is not None and per_page is not None
        if page < 1:
            raise BadInput("page", "must be >= 1")
        if per_page < 1:
            raise BadInput("perPage", "must be >= 1")
        per_page = min(per_page, 250)
        status_id = _int_param(call.q("simStatusId"), "simStatusId", -1)
        attach_id = _int_param(call.q("simAttachStatusId"), "simAttachStatusId", -1)
        status: str | None = None
        if status_id != -1:
            status = SIM_STATUS_BY_ID.get(status_id or 0, "__no_such_status__")
        attached: bool | None = None
        if attach_id != -1:
            if attach_id not in (0, 1):
                return self.result(
                    OpResult(
                        True,
                        "0",
                        "Success",
                        {"rows": [], "totalCount": 0, "page": page, "perPage": per_page},
                    )
                )
            attached = attach_id == 1
        data = self.store.fetch_sims(
            status=status,
            attached=attached,
            iccid=call.q("iccid"),
            page=page,
            per_page=per_page,
            smdp=self.config.smdp_address,
        )
        return self.result(OpResult(True, "0", "Success", data))

    def op_activation(self, call: ApiCall) -> Response:
        return self.result(self.store.activate(call.endpoint_id()))

    def op_life_cycle(self, call: ApiCall) -> Response:
        endpoint_id = call.endpoint_id()
        life_cycle = _scalar(_lookup(call.req_param, "lifeCycle"), "lifeCycle")
        assert life_cycle is not None
        life_cycle = life_cycle.upper()
        if life_cycle not in ("A", "S", "AI"):
            raise BadInput("lifeCycle", "expected A or S")
        reason = _scalar(_lookup(call.req_param, "reason"), "reason", required=False) or "1"
        if reason not in ("1", "2", "3"):
            raise BadInput("reason", "expected 1, 2 or 3")
        return self.result(self.store.life_cycle_change(endpoint_id, life_cycle, reason))

    def op_delink(self, call: ApiCall) -> Response:
        return self.result(self.store.delink(call.endpoint_id()))

    def op_subscribe_addon(self, call: ApiCall) -> Response:
        endpoint_id = call.endpoint_id()
        action = (
            _scalar(
                _lookup(call.req_param, "action") or _lookup(call.req, "action"),
                "action",
                required=False,
            )
            or "ADD"
        ).upper()
        if action == "REMOVE":
            uid = _scalar(
                _lookup(call.req_param, "uniqueId") or _lookup(call.req, "uniqueId"), "uniqueId"
            )
            assert uid is not None
            r = self.store.modify_addons(endpoint_id, [], [uid], self.rating_delay)
            if not r.ok:
                return self.result(r)
            return self.result(
                OpResult(
                    True,
                    "0",
                    "Addon removed successfully",
                    {
                        "addonDetails": {
                            "uniqueId": uid,
                            "endPointId": endpoint_id,
                            "status": "Deactivated",
                        }
                    },
                )
            )
        if action != "ADD":
            raise BadInput("action", "expected ADD or REMOVE")
        plan_id = _scalar(
            _lookup(call.req_param, "planId") or _lookup(call.req, "planId"), "planId"
        )
        assert plan_id is not None
        r = self.store.modify_addons(endpoint_id, [plan_id], [], self.rating_delay)
        if not r.ok or r.param is None:
            return self.result(r)
        added = r.param["added"][0]
        st = added["state"]
        plan = PLANS_BY_ID[plan_id]
        uid = added["uniqueId"]
        return self.result(
            OpResult(
                True,
                "0",
                "Addon subscribed successfully",
                {
                    "addonDetails": {
                        "uniqueId": uid,
                        "planId": plan_id,
                        "planName": plan.name,
                        "endPointId": endpoint_id,
                        "status": st.status,
                        "activatedBy": plan.activated_by,
                        "activatedByName": plan.activated_by_name,
                        "subscriptionDate": fmt_ts(st.instance.subscribed_at),
                        "startDate": fmt_ts(st.started_at),
                        "expiryDate": fmt_ts(st.expires_at),
                    },
                    "promotionalPlan": {
                        "uniqueId": uid,
                        "planId": plan_id,
                        "planName": plan.name,
                        "planServiceName": "DATA",
                        "planStartDate": fmt_ts(st.started_at),
                        "planExpiryDate": fmt_ts(st.expires_at),
                    },
                    "benefit": [
                        {
                            "name": "DATA",
                            "uniqueId": uid,
                            "startDate": fmt_ts(st.started_at),
                            "expiryDate": fmt_ts(st.expires_at),
                            "actualBalance": plan.volume_bytes,
                            "balance": st.remaining,
                        }
                    ],
                    "counter": [
                        {
                            "counterId": uid,
                            "uniqueId": uid,
                            "name": "DATA",
                            "usage": st.used,
                            "limit": plan.volume_bytes,
                            "unit": "BYTES",
                        }
                    ],
                },
            )
        )

    def op_modify_endpoint(self, call: ApiCall) -> Response:
        endpoint_id = call.endpoint_id()
        adds = _id_list(_lookup(call.req_param, "addAddonPlanIds"), "addAddonPlanIds")
        removes = _id_list(_lookup(call.req_param, "removeAddonUniqueIds"), "removeAddonUniqueIds")
        r = self.store.modify_addons(endpoint_id, adds, removes, self.rating_delay)
        if not r.ok:
            return self.result(r)
        return self.result(
            OpResult(True, "0", "Endpoint modified successfully", {"endPointId": endpoint_id})
        )

    def op_addon_details(self, call: ApiCall) -> Response:
        endpoint_id = call.q("endPointId")
        unique_id = call.q("uniqueId")
        addon_id = call.q("addonId") or call.q("planId")
        if endpoint_id is None and unique_id is None and addon_id is None:
            return self.result(
                fail("1359", "No data available: endPointId, uniqueId or addonId required")
            )
        return self.result(
            self.store.addon_details(endpoint_id, unique_id, addon_id, self.rating_delay)
        )

    def op_profile(self, call: ApiCall) -> Response:
        endpoint_id = call.q("endPointId")
        if endpoint_id is None:
            raise BadInput("endPointId", "missing")
        return self.result(self.store.profile(endpoint_id, self.rating_delay))

    def op_statistics(self, call: ApiCall) -> Response:
        endpoint_id = call.q("endPointId")
        if endpoint_id is None:
            raise BadInput("endPointId", "missing")
        days = []
        for name in ("from_date", "to_date"):
            value = call.q(name)
            if value is None:
                raise BadInput(name, "missing")
            try:
                datetime.strptime(value, "%Y%m%d")
            except ValueError:
                raise BadInput(name, "expected YYYYMMDD") from None
            days.append(value)
        return self.result(self.store.statistics(endpoint_id, days[0], days[1], self.rating_delay))

    def op_query_rate_plan(self, call: ApiCall) -> Response:
        category = (call.q("planCategory") or "ADDON").upper()
        plan_type = call.q("planType") or "0"
        plan_id = call.q("planId")
        rows = []
        if category == "ADDON" and plan_type == "0":
            for p in PLANS:
                if plan_id is not None and p.plan_id != plan_id:
                    continue
                rows.append(
                    {
                        "planId": p.plan_id,
                        "planName": p.name,
                        "planCategory": "ADDON",
                        "planType": "0",
                        "status": "Active",
                        "service": "DATA",
                        "volume": p.volume_bytes,
                        "unit": "BYTES",
                        "validity": {"validityType": "1", "validityFactor": p.validity_days},
                        "activatedBy": p.activated_by,
                        "activatedByName": p.activated_by_name,
                        "addOnPriority": p.priority,
                        "rateZone": {"id": p.zone_id, "name": p.zone_name},
                        "countries": list(p.countries),
                    }
                )
        return self.result(OpResult(True, "0", "Success", {"rows": rows, "totalCount": len(rows)}))

    # ------------------------------------------------------------------ controls
    async def _control(self, request: Request, path: str) -> Response:
        key = path.replace("-", "").replace("_", "")
        body: dict[str, Any] = {}
        if request.method in ("POST", "PATCH", "PUT"):
            raw = await request.body()
            if raw.strip():
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    return JSONResponse({"error": "malformed JSON"}, status_code=400)
                if not isinstance(parsed, dict):
                    return JSONResponse({"error": "expected a JSON object"}, status_code=400)
                body = parsed
        query = dict(request.query_params)
        if (request.method, key) == ("POST", "callbacks/flush"):
            # The POST may go to an app served by this very event loop: send from a thread.
            return JSONResponse(await asyncio.to_thread(self.callbacks.flush))
        try:
            return self._control_route(request.method, key, body, query)
        except (BadInput, ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    def _control_route(
        self, method: str, key: str, body: dict[str, Any], query: dict[str, str]
    ) -> Response:
        route = (method, key)
        if route == ("POST", "consume"):
            return self.ctl_consume(body)
        if route == ("POST", "profilestatus"):
            return self.ctl_profile_status(body)
        if route == ("POST", "clock/advance"):
            seconds = float(body.get("seconds", 0))
            if seconds < 0:
                raise ValueError("seconds must be >= 0 (the clock never goes back)")
            self.store.advance_clock(seconds)
            return self.ctl_clock()
        if route == ("GET", "clock"):
            return self.ctl_clock()
        if route == ("POST", "reset"):
            n = int(body.get("esims", self.config.seed_esims))
            if not 0 <= n <= 10_000:
                raise ValueError("esims must be within 0..10000")
            self.store.reset(n)
            self.faults.clear()
            self.calls.clear()
            self.call_counts.clear()
            return JSONResponse({"reset": True, "esims": n})
        if route == ("POST", "faults"):
            fault = self.faults.add(
                str(body.get("operation", "*")),
                str(body.get("kind", "")),
                probability=None if body.get("probability") is None else float(body["probability"]),
                count=None if body.get("count") is None else int(body["count"]),
                latency_seconds=float(
                    body.get(
                        "latency_seconds",
                        self.config.timeout_after_commit_default_seconds
                        if body.get("kind") == "timeout_after_commit"
                        else 1.0,
                    )
                ),
                status=None if body.get("status") is None else int(body["status"]),
            )
            return JSONResponse({"fault": fault.to_dict()})
        if route in (("GET", "faults"),):
            return JSONResponse({"faults": self.faults.snapshot()})
        if route in (("DELETE", "faults"), ("POST", "faults/clear")):
            return JSONResponse({"cleared": self.faults.clear()})
        if route == ("POST", "tokens/expire"):
            return JSONResponse({"expired": self.store.expire_access_tokens()})
        if route == ("GET", "settings"):
            return JSONResponse(self.settings_dict())
        if route == ("POST", "settings"):
            return self.ctl_settings(body)
        if route == ("GET", "state"):
            summary = self.store.summary(self.rating_delay)
            summary["calls"] = dict(self.call_counts)
            summary["faults"] = self.faults.snapshot()
            summary["settings"] = self.settings_dict()
            return JSONResponse(summary)
        if route == ("GET", "calls"):
            limit = int(query.get("limit", "200"))
            op = query.get("operation")
            calls = [c for c in self.calls if op is None or c["operation"] == op.lower()]
            return JSONResponse({"calls": calls[-limit:] if limit > 0 else []})
        if route == ("GET", "callbacks"):
            return JSONResponse(self.callbacks.status())
        if route == ("POST", "callbacks"):
            url = body.get("url")
            if url is not None and not (isinstance(url, str) and url.startswith("http")):
                raise ValueError("url must be an http(s) URL or null")
            self.callbacks.configure(
                url,
                token=None if body.get("token") is None else str(body["token"]),
                interval_seconds=(
                    None
                    if body.get("interval_seconds") is None
                    else float(body["interval_seconds"])
                ),
                max_events=None if body.get("max_events") is None else int(body["max_events"]),
            )
            status = self.callbacks.status()
            status.pop("history")
            return JSONResponse(status)
        if route in (("DELETE", "calls"), ("POST", "calls/clear")):
            self.calls.clear()
            self.call_counts.clear()
            return JSONResponse({"cleared": True})
        return JSONResponse({"error": f"unknown control {method} /_sim/{key}"}, status_code=404)

    def settings_dict(self) -> dict[str, Any]:
        return {
            "rate_limit_tps": self.rate_limit_tps,
            "rate_limit_burst": self.bucket.capacity,
            "rating_delay_seconds": self.rating_delay,
            "expiry_shape": self.expiry_shape,
        }

    def ctl_settings(self, body: dict[str, Any]) -> Response:
        if "expiry_shape" in body:
            shape = body["expiry_shape"]
            if shape not in ("http401", "http200"):
                raise ValueError("expiry_shape must be http401 or http200")
            self.expiry_shape = shape
        if "rating_delay_seconds" in body:
            delay = float(body["rating_delay_seconds"])
            if delay < 0:
                raise ValueError("rating_delay_seconds must be >= 0")
            self.rating_delay = delay
        if "rate_limit_tps" in body or "rate_limit_burst" in body:
            tps = float(body.get("rate_limit_tps", self.rate_limit_tps))
            if tps < 0:
                raise ValueError("rate_limit_tps must be >= 0")
            burst = body.get("rate_limit_burst")
            capacity = float(burst) if burst is not None else max(1.0, tps)
            self.rate_limit_tps = tps
            self.bucket.configure(tps, capacity)
        return JSONResponse(self.settings_dict())

    def ctl_clock(self) -> Response:
        now = self.store.now()
        return JSONResponse(
            {"now": fmt_ts(now), "epoch": now, "offsetSeconds": self.store.clock_offset}
        )

    def ctl_consume(self, body: dict[str, Any]) -> Response:
        endpoint_id = _scalar(body.get("endPointId"), "endPointId", required=False)
        if endpoint_id is None:
            iccid = _scalar(body.get("iccid"), "iccid", required=False)
            if iccid is None:
                raise BadInput("endPointId", "endPointId or iccid required")
            endpoint_id = self.store.endpoint_of_iccid(iccid)
            if endpoint_id is None:
                return JSONResponse(
                    {"error": f"SIM {iccid} not found or not linked"}, status_code=404
                )
        nbytes = body.get("bytes")
        if isinstance(nbytes, bool) or not isinstance(nbytes, int | str):
            raise BadInput("bytes", "expected a non-negative integer")
        n = int(nbytes)
        if n < 0:
            raise BadInput("bytes", "expected a non-negative integer")
        day = body.get("date")
        if day is not None:
            day = str(day).replace("-", "")
            datetime.strptime(day, "%Y%m%d")
        out = self.store.consume(endpoint_id, n, day, self.rating_delay)
        if out is None:
            return JSONResponse({"error": f"endpoint {endpoint_id} not found"}, status_code=404)
        return JSONResponse(out)

    def ctl_profile_status(self, body: dict[str, Any]) -> Response:
        status = str(body.get("status", "")).lower()
        if status not in PROFILE_STATUSES:
            raise ValueError(f"status must be one of {PROFILE_STATUSES}")
        iccid = _scalar(body.get("iccid"), "iccid", required=False)
        endpoint_id = _scalar(body.get("endPointId"), "endPointId", required=False)
        if iccid is None and endpoint_id is None:
            raise BadInput("iccid", "iccid or endPointId required")
        out = self.store.set_profile_status(iccid, endpoint_id, status)
        if out is None:
            return JSONResponse({"error": "SIM not found"}, status_code=404)
        return JSONResponse(out)


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    """Build the simulator's ASGI app; the database is opened (and seeded) right here.

    Works without lifespan events (e.g. ``httpx.ASGITransport``). The :class:`Simulator`
    instance is reachable as ``app.state.simulator``.
    """
    return Simulator(config or SimulatorConfig()).app

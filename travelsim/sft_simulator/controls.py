"""The operator controls under ``/_sim/`` (no SFT auth, no rate limit, JSON in and out, bad
input -> HTTP 400). The list: ``docs/simulator.md#controls-_sim-no-auth-no-rate-limit``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .envelope import BadInput, SimulatorState, scalar
from .store import PROFILE_STATUSES, fmt_ts

#: A control handler: ``(JSON body, query parameters) -> response``.
ControlHandler = Callable[[dict[str, Any], dict[str, str]], Response]


class ControlOps(SimulatorState):
    """Routing and handlers of the ``/_sim/`` controls."""

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
        """Answer ``method /_sim/<key>`` (``key`` lower case without ``-``/``_``); 404 if no
        such control. Raises :class:`BadInput`, ``ValueError`` or ``TypeError`` on bad input."""
        handler = self._control_table().get((method, key))
        if handler is None:
            return JSONResponse({"error": f"unknown control {method} /_sim/{key}"}, status_code=404)
        return handler(body, query)

    def _control_table(self) -> dict[tuple[str, str], ControlHandler]:
        """``(method, key)`` -> handler ``(body, query) -> Response``."""
        return {
            ("POST", "consume"): lambda body, _q: self.ctl_consume(body),
            ("POST", "profilestatus"): lambda body, _q: self.ctl_profile_status(body),
            ("POST", "clock/advance"): lambda body, _q: self.ctl_advance_clock(body),
            ("GET", "clock"): lambda _b, _q: self.ctl_clock(),
            ("POST", "reset"): lambda body, _q: self.ctl_reset(body),
            ("POST", "faults"): lambda body, _q: self.ctl_add_fault(body),
            ("GET", "faults"): lambda _b, _q: JSONResponse({"faults": self.faults.snapshot()}),
            ("DELETE", "faults"): lambda _b, _q: self.ctl_clear_faults(),
            ("POST", "faults/clear"): lambda _b, _q: self.ctl_clear_faults(),
            ("POST", "tokens/expire"): lambda _b, _q: JSONResponse(
                {"expired": self.store.expire_access_tokens()}
            ),
            ("GET", "settings"): lambda _b, _q: JSONResponse(self.settings_dict()),
            ("POST", "settings"): lambda body, _q: self.ctl_settings(body),
            ("GET", "state"): lambda _b, _q: self.ctl_state(),
            ("GET", "calls"): lambda _b, query: self.ctl_calls(query),
            ("DELETE", "calls"): lambda _b, _q: self.ctl_clear_calls(),
            ("POST", "calls/clear"): lambda _b, _q: self.ctl_clear_calls(),
            ("GET", "callbacks"): lambda _b, _q: JSONResponse(self.callbacks.status()),
            ("POST", "callbacks"): lambda body, _q: self.ctl_configure_callbacks(body),
        }

    def ctl_advance_clock(self, body: dict[str, Any]) -> Response:
        """``POST clock/advance {seconds}``: forward only (ValueError if negative)."""
        seconds = float(body.get("seconds", 0))
        if seconds < 0:
            raise ValueError("seconds must be >= 0 (the clock never goes back)")
        self.store.advance_clock(seconds)
        return self.ctl_clock()

    def ctl_reset(self, body: dict[str, Any]) -> Response:
        """``POST reset {esims?}``: re-seed (0..10000 eSIMs), clear faults and the call log."""
        n = int(body.get("esims", self.config.seed_esims))
        if not 0 <= n <= 10_000:
            raise ValueError("esims must be within 0..10000")
        self.store.reset(n)
        self.faults.clear()
        self.calls.clear()
        self.call_counts.clear()
        return JSONResponse({"reset": True, "esims": n})

    def ctl_add_fault(self, body: dict[str, Any]) -> Response:
        """``POST faults {operation, kind, probability? | count?, latency_seconds?, status?}``."""
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

    def ctl_clear_faults(self) -> Response:
        return JSONResponse({"cleared": self.faults.clear()})

    def ctl_state(self) -> Response:
        """``GET state``: the store summary plus call counts, faults and settings."""
        summary = self.store.summary(self.rating_delay)
        summary["calls"] = dict(self.call_counts)
        summary["faults"] = self.faults.snapshot()
        summary["settings"] = self.settings_dict()
        return JSONResponse(summary)

    def ctl_calls(self, query: dict[str, str]) -> Response:
        """``GET calls?limit=&operation=``: the last ``limit`` (200) logged API calls."""
        limit = int(query.get("limit", "200"))
        op = query.get("operation")
        calls = [c for c in self.calls if op is None or c["operation"] == op.lower()]
        return JSONResponse({"calls": calls[-limit:] if limit > 0 else []})

    def ctl_clear_calls(self) -> Response:
        self.calls.clear()
        self.call_counts.clear()
        return JSONResponse({"cleared": True})

    def ctl_configure_callbacks(self, body: dict[str, Any]) -> Response:
        """``POST callbacks {url|null, token?, interval_seconds?, max_events?}``."""
        url = body.get("url")
        if url is not None and not (isinstance(url, str) and url.startswith("http")):
            raise ValueError("url must be an http(s) URL or null")
        self.callbacks.configure(
            url,
            token=None if body.get("token") is None else str(body["token"]),
            interval_seconds=(
                None if body.get("interval_seconds") is None else float(body["interval_seconds"])
            ),
            max_events=None if body.get("max_events") is None else int(body["max_events"]),
        )
        status = self.callbacks.status()
        status.pop("history")
        return JSONResponse(status)

    def settings_dict(self) -> dict[str, Any]:
        return {
            "rate_limit_tps": self.rate_limit_tps,
            "rate_limit_burst": self.bucket.capacity,
            "rating_delay_seconds": self.rating_delay,
            "expiry_shape": self.expiry_shape,
            "shapes": self.shapes,
        }

    def ctl_settings(self, body: dict[str, Any]) -> Response:
        if "expiry_shape" in body:
            shape = body["expiry_shape"]
            if shape not in ("http401", "http200"):
                raise ValueError("expiry_shape must be http401 or http200")
            self.expiry_shape = shape
        if "shapes" in body:
            shapes = body["shapes"]
            if shapes not in ("documented", "legacy"):
                raise ValueError("shapes must be documented or legacy")
            self.shapes = shapes
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
        endpoint_id = scalar(body.get("endPointId"), "endPointId", required=False)
        if endpoint_id is None:
            iccid = scalar(body.get("iccid"), "iccid", required=False)
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
        iccid = scalar(body.get("iccid"), "iccid", required=False)
        endpoint_id = scalar(body.get("endPointId"), "endPointId", required=False)
        if iccid is None and endpoint_id is None:
            raise BadInput("iccid", "iccid or endPointId required")
        out = self.store.set_profile_status(iccid, endpoint_id, status)
        if out is None:
            return JSONResponse({"error": "SIM not found"}, status_code=404)
        return JSONResponse(out)

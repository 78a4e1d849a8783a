"""The SFT API operations (``/api/<name>``): each parses its fields, calls the store and
answers with the ``Response`` envelope.

Rules: ``docs/simulator.md#decisions-the-platform-leaves-open`` (the simulator's choices) and
``docs/sft-platform.md#operations`` (the platform's operations).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse, Response

from . import addons as am
from .catalogue import PLANS, PLANS_BY_ID, AddonPlan
from .envelope import ApiCall, ApiEnvelope, BadInput, Operation, id_list, int_param, lookup, scalar
from .store import SIM_STATUS_BY_ID, OpResult, fail, fmt_ts

#: The eSIM profile status key: published spelling (documented) and the portal's older guess.
PROFILE_STATUS_KEY = {"documented": "eSimProfileStatus", "legacy": "esimProfileStatus"}
_STORE_PROFILE_STATUS_KEY = "esimProfileStatus"


def _profile_status_key(row: dict[str, Any], shapes: str) -> dict[str, Any]:
    """``row`` with its profile status under the key of ``shapes`` (a new dict, same order)."""
    key = PROFILE_STATUS_KEY.get(shapes, PROFILE_STATUS_KEY["documented"])
    return {(key if k == _STORE_PROFILE_STATUS_KEY else k): v for k, v in row.items()}


class ApiOperations(ApiEnvelope):
    """Handlers of the SFT operations; :meth:`operation_table` maps lower-case names to them.

    ``shapes`` ("documented" | "legacy", docs/simulator.md#answer-shapes) picks the answer
    shapes; ``addon_details_served = False`` makes Get Endpoint Add-on Details answer like an
    unknown path (HTTP 404), as a platform without that operation would.
    """

    shapes: str
    addon_details_served: bool = True

    def operation_table(self) -> dict[str, Operation]:
        """``/api/<name>`` (lower case) -> :class:`Operation`."""
        return {
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

    # ------------------------------------------------------------------ auth
    def _pair(self) -> JSONResponse:
        access, refresh = self.store.issue_tokens(
            self.config.access_token_ttl_seconds, self.config.refresh_token_ttl_seconds
        )
        return JSONResponse({"AccessToken": access, "RefreshToken": refresh})

    def op_login(self, call: ApiCall) -> Response:
        user = lookup(call.body, "username")
        password = lookup(call.body, "password")
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
        page = int_param(call.q("page"), "page", 1)
        per_page = int_param(call.q("perPage"), "perPage", 10)
        assert page is not None and per_page is not None
        if page < 1:
            raise BadInput("page", "must be >= 1")
        if per_page < 1:
            raise BadInput("perPage", "must be >= 1")
        per_page = min(per_page, 250)
        status_id = int_param(call.q("simStatusId"), "simStatusId", -1)
        attach_id = int_param(call.q("simAttachStatusId"), "simAttachStatusId", -1)
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
        data["rows"] = [_profile_status_key(r, self.shapes) for r in data["rows"]]
        return self.result(OpResult(True, "0", "Success", data))

    def op_activation(self, call: ApiCall) -> Response:
        return self.result(self.store.activate(call.endpoint_id()))

    def op_life_cycle(self, call: ApiCall) -> Response:
        endpoint_id = call.endpoint_id()
        life_cycle = scalar(lookup(call.req_param, "lifeCycle"), "lifeCycle")
        assert life_cycle is not None
        life_cycle = life_cycle.upper()
        if life_cycle not in ("A", "S", "AI"):
            raise BadInput("lifeCycle", "expected A or S")
        reason = scalar(lookup(call.req_param, "reason"), "reason", required=False) or "1"
        if reason not in ("1", "2", "3"):
            raise BadInput("reason", "expected 1, 2 or 3")
        return self.result(self.store.life_cycle_change(endpoint_id, life_cycle, reason))

    def op_delink(self, call: ApiCall) -> Response:
        return self.result(self.store.delink(call.endpoint_id()))

    def op_subscribe_addon(self, call: ApiCall) -> Response:
        endpoint_id = call.endpoint_id()
        action = (
            scalar(
                lookup(call.req_param, "action") or lookup(call.req, "action"),
                "action",
                required=False,
            )
            or "ADD"
        ).upper()
        if action == "REMOVE":
            return self._remove_addon(call, endpoint_id)
        if action != "ADD":
            raise BadInput("action", "expected ADD or REMOVE")
        plan_id = scalar(lookup(call.req_param, "planId") or lookup(call.req, "planId"), "planId")
        assert plan_id is not None
        r = self.store.modify_addons(endpoint_id, [plan_id], [], self.rating_delay)
        if not r.ok or r.param is None:
            return self.result(r)
        added = r.param["added"][0]
        return self.result(
            OpResult(
                True,
                "0",
                "Addon subscribed successfully",
                subscribed_param(endpoint_id, plan_id, added["uniqueId"], added["state"]),
            )
        )

    def _remove_addon(self, call: ApiCall, endpoint_id: str) -> Response:
        """SubscribeAddon with ``action`` REMOVE: deactivate the live instance ``uniqueId``."""
        uid = scalar(lookup(call.req_param, "uniqueId") or lookup(call.req, "uniqueId"), "uniqueId")
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

    def op_modify_endpoint(self, call: ApiCall) -> Response:
        endpoint_id = call.endpoint_id()
        adds = id_list(lookup(call.req_param, "addAddonPlanIds"), "addAddonPlanIds")
        removes = id_list(lookup(call.req_param, "removeAddonUniqueIds"), "removeAddonUniqueIds")
        r = self.store.modify_addons(endpoint_id, adds, removes, self.rating_delay)
        if not r.ok:
            return self.result(r)
        return self.result(
            OpResult(True, "0", "Endpoint modified successfully", {"endPointId": endpoint_id})
        )

    def op_addon_details(self, call: ApiCall) -> Response:
        if not self.addon_details_served:
            return self.envelope(False, "404", f"Unknown API /api/{call.op}", status=404)
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
        r = self.store.profile(endpoint_id, self.rating_delay)
        info = r.top.get("info") if r.ok else None
        if isinstance(info, dict) and isinstance(info.get("basicInfo"), dict):
            info["basicInfo"] = _profile_status_key(info["basicInfo"], self.shapes)
        return self.result(r)

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
                rows.append(rate_plan_row(p, self.shapes))
        return self.result(OpResult(True, "0", "Success", {"rows": rows, "totalCount": len(rows)}))


def rate_plan_row(p: AddonPlan, shapes: str) -> dict[str, Any]:
    """One QueryRatePlan row. ``documented``: the nested add-on plan of the 4.13 release
    (``basicInfo``, ``benefit[]`` with the volume in bytes as ``value``, ``subscription`` One-Time
    with ``activatedBy``, ``validity`` in days; docs/sft-platform.md#queryrateplan), plus
    ``countries`` (a simulator extra, inferred: nothing published gives coverage here).
    ``legacy``: the portal's older flat guess."""
    if shapes == "legacy":
        return {
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
    return {
        "basicInfo": {
            "planId": p.plan_id,
            "planName": p.name,
            "planType": "0",
            "planCategory": "ADDON",
            "planStatus": "Active",
            "addOnPriority": p.priority,
        },
        "benefit": [{"benefitId": "1", "value": p.volume_bytes, "rateZone": p.zone_id}],
        "subscription": {
            "reSubscription": "false",
            "occurrences": "1",
            "activatedBy": p.activated_by,
        },
        "validity": {"validityType": "1", "validityFactor": p.validity_days},
        "countries": list(p.countries),
    }


def subscribed_param(
    endpoint_id: str, plan_id: str, uid: int, st: am.InstanceState
) -> dict[str, Any]:
    """SubscribeAddon's ``responseParam{addonDetails, promotionalPlan, benefit[], counter[]}``
    for the new instance ``uid`` (volumes in bytes, dates simulator-clock UTC or ``"-"``)."""
    plan = PLANS_BY_ID[plan_id]
    return {
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
    }

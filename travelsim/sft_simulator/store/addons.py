"""Add-on instances on an endpoint: subscribe/remove, add-on details and the endpoint profile."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from .. import addons as am
from ..catalogue import PLANS_BY_ID, AddonPlan
from .core import StoreCore
from .schema import (
    FIRST_UNIQUE_ID,
    OpResult,
    endpoint_not_found,
    fail,
    fmt_ts,
    sim_addons,
)


def addon_row(st: am.InstanceState, endpoint_id: str) -> dict[str, Any]:
    """One Get Endpoint Add-on Details row of an instance (volumes in bytes, dates
    ``dd/mm/yyyy HH:MM:SS`` simulator-clock UTC or ``"-"``)."""
    inst = st.instance
    plan = PLANS_BY_ID.get(inst.plan_id)
    return {
        "uniqueId": inst.unique_id,
        "addonId": inst.plan_id,
        "planId": inst.plan_id,
        "planName": inst.plan_name,
        "endPointId": endpoint_id,
        "service": "DATA",
        "status": st.status,
        "activatedBy": inst.activated_by,
        "activatedByName": "Immediate" if inst.activated_by == "1" else "On Usage",
        "priority": inst.priority,
        "subscriptionDate": fmt_ts(inst.subscribed_at),
        "startDate": fmt_ts(st.started_at),
        "expiryDate": fmt_ts(st.expires_at),
        "deactivationDate": fmt_ts(inst.removed_at),
        "validity": inst.validity_days,
        "initialVolume": inst.volume,
        "remainingVolume": st.remaining,
        "usedVolume": st.used,
        "unit": "BYTES",
        "rateZone": {"id": plan.zone_id, "name": plan.zone_name} if plan else {},
    }


def _int_or(value: str, default: int) -> int:
    try:
        return int(value)
    except ValueError:
        return default


class AddonOps(StoreCore):
    """SubscribeAddon / PATCH endpoint, Get Endpoint Add-on Details, GetEndPointProfile."""

    def _next_unique_id(self, conn: Connection) -> int:
        uid = int(self._meta(conn, "next_unique_id") or FIRST_UNIQUE_ID)
        self._set_meta(conn, "next_unique_id", str(uid + 1))
        return uid

    def modify_addons(
        self,
        endpoint_id: str,
        add_plan_ids: list[str],
        remove_unique_ids: list[str],
        rating_delay: float,
    ) -> OpResult:
        """Add and/or remove add-on instances atomically (all or nothing).

        Returns the new instances under ``param["added"]`` as dicts (used by SubscribeAddon).
        """
        with self.tx() as conn:
            ep = self._endpoint(conn, endpoint_id)
            if ep is None:
                return endpoint_not_found(endpoint_id)
            if ep.sim_id is None:
                return fail("6420", "SIM not attached to endpoint (Hold): add-ons refused")
            plans: list[AddonPlan] = []
            for pid in add_plan_ids:
                plan = PLANS_BY_ID.get(pid)
                if plan is None:
                    return fail("9011", f"Invalid add-on plan {pid}")
                plans.append(plan)
            now = self.now()
            result = self._states(conn, ep, now, rating_delay)
            by_uid = {str(s.instance.unique_id): s for s in result.states}
            for uid in remove_unique_ids:
                st = by_uid.get(uid)
                if st is None or st.status not in am.LIVE_STATUSES:
                    return fail("9012", f"Add-on {uid} not found or not active on endpoint")
            live = result.live_count() - len(set(remove_unique_ids))
            if live + len(plans) > am.MAX_LIVE_ADDONS:
                return fail("9010", f"max {am.MAX_LIVE_ADDONS} active addons per endpoint")
            for uid in set(remove_unique_ids):
                conn.execute(
                    update(sim_addons)
                    .where(sim_addons.c.unique_id == int(uid))
                    .values(removed_at=now)
                )
            added: list[dict[str, Any]] = []
            for plan in plans:
                uid_int = self._next_unique_id(conn)
                conn.execute(
                    insert(sim_addons).values(
                        unique_id=uid_int,
                        endpoint_id=endpoint_id,
                        plan_id=plan.plan_id,
                        plan_name=plan.name,
                        volume=plan.volume_bytes,
                        validity_days=plan.validity_days,
                        activated_by=plan.activated_by,
                        priority=plan.priority,
                        subscribed_at=now,
                        removed_at=None,
                    )
                )
                added.append({"uniqueId": uid_int, "planId": plan.plan_id})
            # Re-read the added instances' state (an Immediate add-on starts right away).
            if added:
                ep = self._endpoint(conn, endpoint_id)
                after = {
                    s.instance.unique_id: s
                    for s in self._states(conn, ep, now, rating_delay).states
                }
                for a in added:
                    a["state"] = after[a["uniqueId"]]
        return OpResult(True, "0", "Endpoint modified successfully", {"added": added})

    addon_row = staticmethod(addon_row)

    def addon_details(
        self,
        endpoint_id: str | None,
        unique_id: str | None,
        addon_id: str | None,
        rating_delay: float,
    ) -> OpResult:
        with self.tx() as conn:
            now = self.now()
            if endpoint_id is not None:
                ep = self._endpoint(conn, endpoint_id)
                if ep is None:
                    return endpoint_not_found(endpoint_id)
                endpoint_ids = [endpoint_id]
            else:
                q = select(sim_addons.c.endpoint_id).distinct()
                if unique_id is not None:
                    q = q.where(sim_addons.c.unique_id == _int_or(unique_id, -1))
                if addon_id is not None:
                    q = q.where(sim_addons.c.plan_id == addon_id)
                endpoint_ids = list(conn.execute(q).scalars())
            rows: list[dict[str, Any]] = []
            for eid in endpoint_ids:
                ep = self._endpoint(conn, eid)
                if ep is None:
                    continue
                for st in self._states(conn, ep, now, rating_delay).states:
                    if unique_id is not None and str(st.instance.unique_id) != unique_id:
                        continue
                    if addon_id is not None and st.instance.plan_id != addon_id:
                        continue
                    rows.append(self.addon_row(st, eid))
        rows.sort(key=lambda r: r["uniqueId"])
        return OpResult(True, "0", "Success", {"rows": rows, "totalCount": len(rows)})

    # ------------------------------------------------------------------ profile
    def profile(self, endpoint_id: str, rating_delay: float) -> OpResult:
        with self.tx() as conn:
            ep = self._endpoint(conn, endpoint_id)
            if ep is None:
                return endpoint_not_found(endpoint_id)
            sim = self._sim_of(conn, ep.sim_id)
            states = self._states(conn, ep, self.now(), rating_delay).states
        live = [s for s in states if s.status in am.LIVE_STATUSES]
        info = {
            "basicInfo": {
                "endPointId": ep.endpoint_id,
                "name": ep.name,
                "status": ep.status,
                "lifeCycleReason": ep.life_cycle_reason or "-",
                "iccid": sim.iccid if sim else "-",
                "eid": sim.eid if sim else "-",
                "msisdn": sim.msisdn if sim else "-",
                "imsi": sim.imsi if sim else "-",
                "imeiLockStatus": "false",
                "esimProfileStatus": sim.profile_status if sim else "-",
            },
            "promotionalPlans": {
                "plan": [
                    {
                        "uniqueId": s.instance.unique_id,
                        "planId": s.instance.plan_id,
                        "planName": s.instance.plan_name,
                        "planServiceName": "DATA",
                        "planStartDate": fmt_ts(s.started_at),
                        "planExpiryDate": fmt_ts(s.expires_at),
                        "status": s.status,
                    }
                    for s in live
                ]
            },
            "benefitInfo": {
                "benefit": [
                    {
                        "name": "DATA",
                        "uniqueId": s.instance.unique_id,
                        "startDate": fmt_ts(s.started_at),
                        "expiryDate": fmt_ts(s.expires_at),
                        "actualBalance": s.instance.volume,
                        "balance": s.remaining,
                    }
                    for s in live
                ]
            },
        }
        return OpResult(True, "0", "Success", None, {"info": info})

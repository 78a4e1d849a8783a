"""SIM inventory (fetchSIM) and the endpoint lifecycle: activation, A/S changes, de-link.

Transitions and result codes: ``docs/simulator.md#decisions-the-platform-leaves-open``; the
states themselves: ``docs/esim.md#endpoint-states``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, select, update

from .core import StoreCore
from .schema import SIM_PRODUCT, OpResult, endpoint_not_found, fail, sim_endpoints, sim_sims


class LifecycleOps(StoreCore):
    """fetchSIM, EndPointActivation, EndPointLifeCycleChange and DeLinkSim."""

    def fetch_sims(
        self,
        *,
        status: str | None,
        attached: bool | None,
        iccid: str | None,
        page: int,
        per_page: int,
        smdp: str,
    ) -> dict[str, Any]:
        conds: list[Any] = []
        if status is not None:
            conds.append(sim_sims.c.status == status)
        if attached is not None:
            conds.append(sim_sims.c.attached == attached)
        if iccid is not None:
            conds.append(sim_sims.c.iccid == iccid)
        with self.tx() as conn:
            total = conn.execute(select(func.count()).select_from(sim_sims).where(*conds)).scalar()
            rows = conn.execute(
                select(sim_sims)
                .where(*conds)
                .order_by(sim_sims.c.sim_id)
                .limit(per_page)
                .offset((page - 1) * per_page)
            ).all()
        out = []
        for r in rows:
            out.append(
                {
                    "simId": r.sim_id,
                    "iccid": r.iccid,
                    "eid": r.eid,
                    "endPointId": r.endpoint_id or "-",
                    "simStatus": r.status,
                    "simAttachStatus": "ATTACHED" if r.attached else "NOT ATTACHED",
                    "simProduct": SIM_PRODUCT,
                    "msisdn": r.msisdn,
                    "imsi": r.imsi,
                    "iMSIList": [
                        {"supplierIMSIList": [{"supplierName": "BICS", "supplierIMSI": r.imsi}]}
                    ],
                    "activationCode": {
                        "textQrCode": f"LPA:1${smdp}${r.matching_id}",
                        "smDpPlusAdress": smdp,
                        "matchingId": r.matching_id,
                    },
                    "esimProfileStatus": r.profile_status,
                }
            )
        return {"rows": out, "totalCount": total or 0, "page": page, "perPage": per_page}

    # ------------------------------------------------------------------ lifecycle
    def _set_status(self, conn: Connection, ep: Any, status: str, now: float) -> None:
        values: dict[str, Any] = {"status": status}
        if status == "Active" and ep.activated_at is None:
            values["activated_at"] = now
        conn.execute(
            update(sim_endpoints)
            .where(sim_endpoints.c.endpoint_id == ep.endpoint_id)
            .values(**values)
        )
        if ep.sim_id is not None:
            conn.execute(
                update(sim_sims).where(sim_sims.c.sim_id == ep.sim_id).values(status=status)
            )

    def activate(self, endpoint_id: str) -> OpResult:
        with self.tx() as conn:
            ep = self._endpoint(conn, endpoint_id)
            if ep is None:
                return endpoint_not_found(endpoint_id)
            if ep.sim_id is None:
                return fail("6420", "SIM not attached to endpoint")
            if ep.status == "Active":
                return fail("2507", "Endpoint already active", {"currentStatus": "Active"})
            if ep.status != "Pre-Active":
                return fail("9005", "Invalid lifecycle transition", {"currentStatus": ep.status})
            self._set_status(conn, ep, "Active", self.now())
        return OpResult(
            True,
            "5014",
            "Endpoint activated successfully",
            {"endPointId": endpoint_id, "currentStatus": "Active", "previousStatus": "Pre-Active"},
        )

    _TRANSITIONS: Mapping[tuple[str, str], str] = {
        ("Pre-Active", "A"): "Active",
        ("Active", "S"): "Suspended",
        ("Suspended", "A"): "Active",
    }

    def life_cycle_change(self, endpoint_id: str, life_cycle: str, reason: str) -> OpResult:
        with self.tx() as conn:
            ep = self._endpoint(conn, endpoint_id)
            if ep is None:
                return endpoint_not_found(endpoint_id)
            target = self._TRANSITIONS.get((ep.status, life_cycle))
            if target is None or ep.sim_id is None:
                return fail("9005", "Invalid lifecycle transition", {"currentStatus": ep.status})
            self._set_status(conn, ep, target, self.now())
            if target == "Suspended":
                conn.execute(
                    update(sim_endpoints)
                    .where(sim_endpoints.c.endpoint_id == endpoint_id)
                    .values(life_cycle_reason=reason)
                )
        return OpResult(
            True,
            "5017",
            "Endpoint lifecycle changed successfully",
            {
                "endPointId": endpoint_id,
                "currentStatus": target,
                "previousStatus": ep.status,
                "reason": reason,
            },
        )

    def delink(self, endpoint_id: str) -> OpResult:
        with self.tx() as conn:
            ep = self._endpoint(conn, endpoint_id)
            if ep is None:
                return endpoint_not_found(endpoint_id)
            if ep.sim_id is None:
                return fail("6420", "SIM not attached to endpoint")
            conn.execute(
                update(sim_sims)
                .where(sim_sims.c.sim_id == ep.sim_id)
                .values(status="Ready To Activate", attached=False, endpoint_id=None)
            )
            conn.execute(
                update(sim_endpoints)
                .where(sim_endpoints.c.endpoint_id == endpoint_id)
                .values(status="Hold", sim_id=None)
            )
        return OpResult(
            True,
            "6413",
            "SIM de-linked successfully",
            {"endPointId": endpoint_id, "currentStatus": "Hold", "previousStatus": ep.status},
        )

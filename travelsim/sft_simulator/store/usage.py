"""Usage (the consume control and GetStatistics), eSIM profile status, the callback
snapshot and the ``/_sim/state`` summary.

Billing and the profile walk to ``enabled``: ``docs/simulator.md#add-on-life-model``.
"""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from .. import addons as am
from .addons import addon_row
from .core import StoreCore
from .schema import (
    PROFILE_PATH_TO_ENABLED,
    OpResult,
    endpoint_not_found,
    fmt_day,
    fmt_mb,
    fmt_ts,
    sim_addons,
    sim_endpoints,
    sim_sims,
    sim_usage,
)


class UsageOps(StoreCore):
    """Traffic, statistics, profile status changes and the account summary."""

    def consume(
        self, endpoint_id: str, nbytes: int, day: str | None, rating_delay: float
    ) -> dict[str, Any] | None:
        """Record traffic now; returns the billing outcome, or None for an unknown endpoint.

        Refused (nothing billed) unless the endpoint is Active; otherwise the bytes are drawn
        from the add-ons (all recorded usage, rated or not, is taken into account) and any
        part that no add-on can carry is recorded as unbilled.
        """
        with self.tx() as conn:
            ep = self._endpoint(conn, endpoint_id)
            if ep is None:
                return None
            now = self.now()
            reason = ""
            billed = 0
            if ep.status != "Active":
                reason = f"endpoint is {ep.status}"
            else:
                res = self._states(conn, ep, now, None, am.UsageEvent(now, nbytes))
                billed = res.billed[-1]
                if billed < nbytes:
                    reason = "no usable add-on balance"
            if billed > 0:
                self._enable_profile_for_traffic(conn, endpoint_id)
            uplink = billed // 10
            conn.execute(
                insert(sim_usage).values(
                    endpoint_id=endpoint_id,
                    at=now,
                    day=day or fmt_day(now),
                    requested=nbytes,
                    billed=billed,
                    uplink=uplink,
                    downlink=billed - uplink,
                )
            )
        return {
            "endPointId": endpoint_id,
            "accepted": billed > 0,
            "requestedBytes": nbytes,
            "billedBytes": billed,
            "unbilledBytes": nbytes - billed,
            "reason": reason or None,
            "recordedAt": fmt_ts(now),
            "visibleAt": fmt_ts(now + rating_delay),
        }

    def statistics(
        self, endpoint_id: str, from_day: str, to_day: str, rating_delay: float
    ) -> OpResult:
        with self.tx() as conn:
            if self._endpoint(conn, endpoint_id) is None:
                return endpoint_not_found(endpoint_id)
            now = self.now()
            rows = conn.execute(
                select(
                    sim_usage.c.day,
                    func.sum(sim_usage.c.uplink),
                    func.sum(sim_usage.c.downlink),
                )
                .where(
                    sim_usage.c.endpoint_id == endpoint_id,
                    sim_usage.c.billed > 0,
                    sim_usage.c.at + rating_delay <= now,
                    sim_usage.c.day >= from_day,
                    sim_usage.c.day <= to_day,
                )
                .group_by(sim_usage.c.day)
                .order_by(sim_usage.c.day)
            ).all()
        usage = []
        tot_up = tot_down = 0
        for day, up, down in rows:
            up, down = int(up or 0), int(down or 0)
            tot_up += up
            tot_down += down
            usage.append(
                {
                    "date": day,
                    "uplink": fmt_mb(up),
                    "downlink": fmt_mb(down),
                    "totalVolume": fmt_mb(up + down),
                }
            )
        return OpResult(
            True,
            "0",
            "Success",
            {
                "dataUsage": usage,
                "dataTotalUsage": {
                    "uplink": fmt_mb(tot_up),
                    "downlink": fmt_mb(tot_down),
                    "totalVolume": fmt_mb(tot_up + tot_down),
                },
                "unit": "MB",
                "simulated": "true",
            },
        )

    # ------------------------------------------------------------------ callbacks
    def callback_snapshot(
        self, rating_delay: float
    ) -> tuple[dict[int, dict[str, Any]], dict[str, dict[str, Any]]]:
        """Visible state for the callback emitter: every add-on instance as an add-on details
        row (plus ``iccid``), keyed by uniqueId, and every SIM's ``{iccid, endPointId,
        esimProfileStatus}`` keyed by ICCID. Same visibility rules as add-on details."""
        addons: dict[int, dict[str, Any]] = {}
        with self.tx() as conn:
            now = self.now()
            sims = {
                r.iccid: {
                    "iccid": r.iccid,
                    "endPointId": r.endpoint_id or "-",
                    "esimProfileStatus": r.profile_status,
                }
                for r in conn.execute(select(sim_sims))
            }
            iccid_of = {v["endPointId"]: k for k, v in sims.items()}
            endpoint_ids = list(conn.execute(select(sim_addons.c.endpoint_id).distinct()).scalars())
            for endpoint_id in endpoint_ids:
                ep = self._endpoint(conn, endpoint_id)
                if ep is None:
                    continue
                for st in self._states(conn, ep, now, rating_delay).states:
                    row = addon_row(st, endpoint_id)
                    row["iccid"] = iccid_of.get(endpoint_id, "-")
                    addons[st.instance.unique_id] = row
        return addons, sims

    def _record_profile_change(self, iccid: str, previous: str, status: str) -> None:
        self._profile_seq += 1
        self.profile_changes.append(
            {
                "seq": self._profile_seq,
                "iccid": iccid,
                "previousStatus": previous,
                "esimProfileStatus": status,
            }
        )

    def profile_changes_since(self, seq: int) -> list[dict[str, Any]]:
        """Profile status changes recorded after ``seq`` (see :attr:`profile_changes`)."""
        with self.lock:
            return [c for c in self.profile_changes if c["seq"] > seq]

    @property
    def profile_seq(self) -> int:
        """The ``seq`` of the last recorded profile status change (0: none yet)."""
        return self._profile_seq

    def _enable_profile_for_traffic(self, conn: Connection, endpoint_id: str) -> None:
        """Billed traffic on ``endpoint_id``: its SIM's profile is on a phone and enabled.
        ``released``/``downloaded``/``installed`` walk the rest of
        :data:`PROFILE_PATH_TO_ENABLED`; ``disabled`` goes back to ``enabled``; ``enabled``,
        ``deleted`` and ``error`` (set by the operator's control) are left as they are."""
        sim = conn.execute(select(sim_sims).where(sim_sims.c.endpoint_id == endpoint_id)).first()
        if sim is None:
            return
        current = sim.profile_status
        if current in PROFILE_PATH_TO_ENABLED[:-1]:
            steps = PROFILE_PATH_TO_ENABLED[PROFILE_PATH_TO_ENABLED.index(current) :]
        elif current == "disabled":
            steps = ("disabled", "enabled")
        else:
            return
        conn.execute(
            update(sim_sims).where(sim_sims.c.sim_id == sim.sim_id).values(profile_status="enabled")
        )
        for previous, status in itertools.pairwise(steps):
            self._record_profile_change(sim.iccid, previous, status)

    def endpoint_of_iccid(self, iccid: str) -> str | None:
        """The endpoint the SIM ``iccid`` is linked to; ``None`` if unknown or unlinked."""
        with self.tx() as conn:
            value = conn.execute(
                select(sim_sims.c.endpoint_id).where(sim_sims.c.iccid == iccid)
            ).scalar()
        return str(value) if value else None

    # ------------------------------------------------------------------ controls
    def set_profile_status(
        self, iccid: str | None, endpoint_id: str | None, status: str
    ) -> dict[str, Any] | None:
        with self.tx() as conn:
            q = select(sim_sims)
            if iccid is not None:
                q = q.where(sim_sims.c.iccid == iccid)
            else:
                q = q.where(sim_sims.c.endpoint_id == endpoint_id)
            sim = conn.execute(q).first()
            if sim is None:
                return None
            conn.execute(
                update(sim_sims)
                .where(sim_sims.c.sim_id == sim.sim_id)
                .values(profile_status=status)
            )
            if sim.profile_status != status:
                self._record_profile_change(sim.iccid, sim.profile_status, status)
        return {
            "iccid": sim.iccid,
            "endPointId": sim.endpoint_id or "-",
            "previousStatus": sim.profile_status,
            "esimProfileStatus": status,
        }

    def summary(self, rating_delay: float) -> dict[str, Any]:
        with self.tx() as conn:
            now = self.now()
            sims: dict[str, int] = dict(
                conn.execute(
                    select(sim_sims.c.status, func.count()).group_by(sim_sims.c.status)
                ).all()
            )
            eps: dict[str, int] = dict(
                conn.execute(
                    select(sim_endpoints.c.status, func.count()).group_by(sim_endpoints.c.status)
                ).all()
            )
            profiles: dict[str, int] = dict(
                conn.execute(
                    select(sim_sims.c.profile_status, func.count()).group_by(
                        sim_sims.c.profile_status
                    )
                ).all()
            )
            attached = conn.execute(
                select(func.count()).select_from(sim_sims).where(sim_sims.c.attached.is_(True))
            ).scalar()
            subs: dict[str, int] = dict(
                conn.execute(
                    select(sim_addons.c.endpoint_id, func.count()).group_by(
                        sim_addons.c.endpoint_id
                    )
                ).all()
            )
            per_plan: dict[str, dict[str, int]] = {}
            for ep_id, plan_id, n in conn.execute(
                select(sim_addons.c.endpoint_id, sim_addons.c.plan_id, func.count()).group_by(
                    sim_addons.c.endpoint_id, sim_addons.c.plan_id
                )
            ):
                per_plan.setdefault(ep_id, {})[plan_id] = n
            by_status: dict[str, int] = {}
            for ep_id in subs:
                ep = self._endpoint(conn, ep_id)
                for st in self._states(conn, ep, now, rating_delay).states:
                    by_status[st.status] = by_status.get(st.status, 0) + 1
            usage = conn.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(sim_usage.c.billed), 0),
                    func.coalesce(func.sum(sim_usage.c.requested - sim_usage.c.billed), 0),
                )
            ).first()
        assert usage is not None
        return {
            "clock": fmt_ts(now),
            "clockEpoch": now,
            "clockOffsetSeconds": self._offset,
            "sims": {"total": sum(sims.values()), "attached": attached, "byStatus": sims},
            "endpoints": {"total": sum(eps.values()), "byStatus": eps},
            "esimProfileStatus": profiles,
            "addons": {"total": sum(subs.values()), "byStatus": by_status},
            "subscriptionsPerEndpoint": subs,
            "subscriptionsPerEndpointPlan": per_plan,
            "usage": {
                "events": usage[0],
                "billedBytes": int(usage[1]),
                "unbilledBytes": int(usage[2]),
            },
        }

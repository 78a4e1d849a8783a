"""Persistence and business rules of the simulated SFT account (SQLAlchemy Core + SQLite).

All public methods are synchronous, short (a few ms) and serialized by one lock; each runs in
one transaction. Times are simulator-clock epoch seconds (floats, UTC).
"""

from __future__ import annotations

import collections
import itertools
import random
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)

from . import addons as am
from .catalogue import PLANS_BY_ID, AddonPlan
from .ids import make_eid, make_iccid, make_matching_id

metadata = MetaData()

sim_meta = Table(
    "sim_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)
sim_sims = Table(
    "sim_sims",
    metadata,
    Column("sim_id", Integer, primary_key=True, autoincrement=False),
    Column("iccid", String(22), nullable=False, unique=True),
    Column("eid", String(32), nullable=False),
    Column("msisdn", String(20), nullable=False),
    Column("imsi", String(15), nullable=False),
    Column("matching_id", String(64), nullable=False, unique=True),
    Column("status", String(32), nullable=False),
    Column("attached", Boolean, nullable=False),
    Column("endpoint_id", String(20), nullable=True, index=True),
    Column("profile_status", String(16), nullable=False),
)
sim_endpoints = Table(
    "sim_endpoints",
    metadata,
    Column("endpoint_id", String(20), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("sim_id", Integer, nullable=True),
    Column("life_cycle_reason", String(4), nullable=True),
    Column("activated_at", Float, nullable=True),
)
sim_addons = Table(
    "sim_addons",
    metadata,
    Column("unique_id", BigInteger, primary_key=True, autoincrement=False),
    Column("endpoint_id", String(20), nullable=False, index=True),
    Column("plan_id", String(20), nullable=False),
    Column("plan_name", String(128), nullable=False),
    Column("volume", BigInteger, nullable=False),
    Column("validity_days", Integer, nullable=False),
    Column("activated_by", String(1), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("subscribed_at", Float, nullable=False),
    Column("removed_at", Float, nullable=True),
)
sim_usage = Table(
    "sim_usage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("endpoint_id", String(20), nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("day", String(8), nullable=False),
    Column("requested", BigInteger, nullable=False),
    Column("billed", BigInteger, nullable=False),
    Column("uplink", BigInteger, nullable=False),
    Column("downlink", BigInteger, nullable=False),
)
sim_tokens = Table(
    "sim_tokens",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),  # access | refresh
    Column("expires_at", Float, nullable=False),  # wall-clock epoch seconds
)

# SIM status ids of fetchSIM (12 documented; the others are the simulator's choice).
SIM_STATUS_BY_ID = {10: "Ready To Activate", 12: "Pre-Active", 13: "Active", 14: "Suspended"}
PROFILE_STATUSES = (
    "released",
    "downloaded",
    "installed",
    "enabled",
    "disabled",
    "deleted",
    "error",
)
#: The order in which a phone takes a profile: download from the SM-DP+, install, enable.
#: Data used on a SIM whose profile is earlier in this chain (or ``disabled``) moves the
#: profile along it to ``enabled`` first: no traffic without an enabled profile.
PROFILE_PATH_TO_ENABLED = ("released", "downloaded", "installed", "enabled")
FIRST_UNIQUE_ID = 7_000_001
SIM_PRODUCT = "IPP Consumer eUICC"


def fmt_ts(epoch: float | None) -> str:
    """``dd/mm/yyyy HH:MM:SS`` in UTC, or ``"-"``."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%d/%m/%Y %H:%M:%S")


def fmt_day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y%m%d")


def fmt_mb(n: int) -> str:
    """Bytes as MB (1 MB = 1,048,576 bytes) with 3 decimals."""
    return f"{n / 1_048_576:.3f}"


@dataclass
class OpResult:
    """Outcome of a business operation; ``code``/``description`` go to ``resultParam``."""

    ok: bool
    code: str
    description: str
    param: dict[str, Any] | None = None
    top: dict[str, Any] = field(default_factory=dict)  # extra keys directly under Response


def fail(code: str, description: str, param: dict[str, Any] | None = None) -> OpResult:
    return OpResult(False, code, description, param)


NOT_FOUND = "1359"
INVALID = "1001"


def _endpoint_not_found(endpoint_id: str) -> OpResult:
    return fail(NOT_FOUND, f"No data available: endpoint {endpoint_id} not found")


class Store:
    """The simulated account's state in its own SQLite file (tables prefixed ``sim_``)."""

    def __init__(self, db_path: Path, *, seed_esims: int, seed: int) -> None:
        db_path = Path(db_path)
        if str(db_path) != ":memory:":
            db_path.parent.mkdir(parents=True, exist_ok=True)
        self.db_path = db_path
        self.seed = seed
        self.engine: Engine = create_engine(
            f"sqlite:///{db_path}", connect_args={"check_same_thread": False}
        )

        @event.listens_for(self.engine, "connect")
        def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        self.lock = threading.RLock()
        #: Every profile status change made by this process, oldest first, as
        #: ``{"seq", "iccid", "previousStatus", "esimProfileStatus"}`` (the callback emitter
        #: reports each step; changes made by another process on the same file are seen
        #: only as the difference between two snapshots).
        self.profile_changes: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)
        self._profile_seq = 0
        metadata.create_all(self.engine)
        with self.tx() as conn:
            self._offset = float(self._meta(conn, "clock_offset") or 0.0)
            if self._meta(conn, "seeded") is None:
                self._seed(conn, seed_esims)

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def tx(self) -> Iterator[Connection]:
        with self.lock, self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    @staticmethod
    def _meta(conn: Connection, key: str) -> str | None:
        return conn.execute(select(sim_meta.c.value).where(sim_meta.c.key == key)).scalar()

    @staticmethod
    def _set_meta(conn: Connection, key: str, value: str) -> None:
        if conn.execute(update(sim_meta).where(sim_meta.c.key == key).values(value=value)).rowcount:
            return
        conn.execute(insert(sim_meta).values(key=key, value=value))

    # ------------------------------------------------------------------ clock
    def now(self) -> float:
        """Simulator clock: real UTC now + persisted offset (epoch seconds)."""
        return time.time() + self._offset

    @property
    def clock_offset(self) -> float:
        return self._offset

    def advance_clock(self, seconds: float) -> float:
        with self.tx() as conn:
            self._offset += seconds
            self._set_meta(conn, "clock_offset", repr(self._offset))
        return self.now()

    # ------------------------------------------------------------------ seed / reset
    def _seed(self, conn: Connection, n: int) -> None:
        rng = random.Random(self.seed)
        sims: list[dict[str, Any]] = []
        eps: list[dict[str, Any]] = []
        seen: set[str] = set()
        for i in range(n):
            eid = make_eid(rng)
            matching = make_matching_id(rng)
            while matching in seen:
                matching = make_matching_id(rng)
            seen.add(matching)
            sim_id = 100_001 + i
            endpoint_id = str(50_000_001 + i)
            sims.append(
                {
                    "sim_id": sim_id,
                    "iccid": make_iccid(510_000_000_001 + i),
                    "eid": eid,
                    "msisdn": f"32470{100_000 + i:06d}",
                    "imsi": f"20601{5_000_000_001 + i:010d}",
                    "matching_id": matching,
                    "status": "Pre-Active",
                    "attached": True,
                    "endpoint_id": endpoint_id,
                    "profile_status": "released",
                }
            )
            eps.append(
                {
                    "endpoint_id": endpoint_id,
                    "name": f"TravelSIM-{i + 1:05d}",
                    "status": "Pre-Active",
                    "sim_id": sim_id,
                    "life_cycle_reason": None,
                    "activated_at": None,
                }
            )
        if sims:
            conn.execute(insert(sim_sims), sims)
            conn.execute(insert(sim_endpoints), eps)
        self._set_meta(conn, "seeded", str(n))
        if self._meta(conn, "next_unique_id") is None:
            self._set_meta(conn, "next_unique_id", str(FIRST_UNIQUE_ID))

    def reset(self, esims: int) -> None:
        """Delete inventory, add-ons and usage, zero the clock offset and re-seed.

        Tokens and the uniqueId counter survive (uniqueIds stay unique per account).
        """
        with self.tx() as conn:
            for table in (sim_usage, sim_addons, sim_endpoints, sim_sims):
                conn.execute(delete(table))
            self._offset = 0.0
            self._set_meta(conn, "clock_offset", "0.0")
            self._seed(conn, esims)

    # ------------------------------------------------------------------ tokens
    def issue_tokens(self, access_ttl: float, refresh_ttl: float) -> tuple[str, str]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        wall = time.time()
        with self.tx() as conn:
            conn.execute(delete(sim_tokens).where(sim_tokens.c.expires_at < wall - 86_400))
            conn.execute(
                insert(sim_tokens),
                [
                    {"token": access, "kind": "access", "expires_at": wall + access_ttl},
                    {"token": refresh, "kind": "refresh", "expires_at": wall + refresh_ttl},
                ],
            )
        return access, refresh

    def check_token(self, token: str, kind: str) -> str:
        """Return "ok", "expired" or "invalid" (wall clock, not the simulator clock)."""
        with self.tx() as conn:
            row = conn.execute(
                select(sim_tokens.c.kind, sim_tokens.c.expires_at).where(
                    sim_tokens.c.token == token
                )
            ).first()
        if row is None or row.kind != kind:
            return "invalid"
        return "ok" if time.time() < row.expires_at else "expired"

    def expire_access_tokens(self) -> int:
        wall = time.time()
        with self.tx() as conn:
            return conn.execute(
                update(sim_tokens)
                .where(sim_tokens.c.kind == "access", sim_tokens.c.expires_at > wall)
                .values(expires_at=wall)
            ).rowcount

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _endpoint(conn: Connection, endpoint_id: str) -> Any:
        return conn.execute(
            select(sim_endpoints).where(sim_endpoints.c.endpoint_id == endpoint_id)
        ).first()

    @staticmethod
    def _sim_of(conn: Connection, sim_id: int | None) -> Any:
        if sim_id is None:
            return None
        return conn.execute(select(sim_sims).where(sim_sims.c.sim_id == sim_id)).first()

    @staticmethod
    def _instances(conn: Connection, endpoint_id: str) -> list[am.Instance]:
        rows = conn.execute(
            select(sim_addons)
            .where(sim_addons.c.endpoint_id == endpoint_id)
            .order_by(sim_addons.c.unique_id)
        ).all()
        return [
            am.Instance(
                unique_id=r.unique_id,
                plan_id=r.plan_id,
                plan_name=r.plan_name,
                volume=r.volume,
                validity_days=r.validity_days,
                activated_by=r.activated_by,
                priority=r.priority,
                subscribed_at=r.subscribed_at,
                removed_at=r.removed_at,
            )
            for r in rows
        ]

    def _states(
        self,
        conn: Connection,
        ep: Any,
        now: float,
        rating_delay: float | None,
        extra: am.UsageEvent | None = None,
    ) -> am.ReplayResult:
        """Replay the endpoint's usage; ``rating_delay=None`` means all recorded usage."""
        q = select(sim_usage.c.at, sim_usage.c.billed).where(
            sim_usage.c.endpoint_id == ep.endpoint_id, sim_usage.c.billed > 0
        )
        if rating_delay is not None:
            q = q.where(sim_usage.c.at + rating_delay <= now)
        events = [
            am.UsageEvent(r.at, r.billed)
            for r in conn.execute(q.order_by(sim_usage.c.at, sim_usage.c.id))
        ]
        if extra is not None:
            events.append(extra)
        return am.replay(self._instances(conn, ep.endpoint_id), events, ep.activated_at, now)

    # ------------------------------------------------------------------ fetchSIM
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
                return _endpoint_not_found(endpoint_id)
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
                return _endpoint_not_found(endpoint_id)
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
                return _endpoint_not_found(endpoint_id)
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

    # ------------------------------------------------------------------ add-ons
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
                return _endpoint_not_found(endpoint_id)
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

    @staticmethod
    def addon_row(st: am.InstanceState, endpoint_id: str) -> dict[str, Any]:
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
                    return _endpoint_not_found(endpoint_id)
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
                return _endpoint_not_found(endpoint_id)
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

    # ------------------------------------------------------------------ usage
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
                return _endpoint_not_found(endpoint_id)
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
                    row = self.addon_row(st, endpoint_id)
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


def _int_or(value: str, default: int) -> int:
    try:
        return int(value)
    except ValueError:
        return default

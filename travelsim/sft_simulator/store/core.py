"""The store's core: the SQLite engine, one lock, the simulator clock, seeding and the reads
every operation shares (endpoint, SIM, add-on instances, replayed add-on states).

The seeded inventory: ``docs/simulator.md#seed-inventory``.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, delete, event, insert, select, update

from .. import addons as am
from ..ids import make_eid, make_iccid, make_matching_id
from .schema import (
    FIRST_UNIQUE_ID,
    metadata,
    sim_addons,
    sim_endpoints,
    sim_meta,
    sim_sims,
    sim_usage,
)


class StoreCore:
    """The simulated account's state in its own SQLite file (tables prefixed ``sim_``).

    The operations live in the mixins of :class:`~travelsim.sft_simulator.store.Store`.
    """

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

    # ------------------------------------------------------------------ reads
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

"""Pure add-on life model: replay subscriptions and rated usage at a given simulator time.

No I/O here: :func:`replay` is a deterministic function of the add-on instances, the usage
events, the endpoint's first activation time and "now". The rules are documented in
``docs/simulator.md#add-on-life-model`` and restated on each function.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .catalogue import IMMEDIATE, ON_USAGE

DAY = 86_400.0

SUBSCRIBED = "Subscribed"  # waiting: not started yet
ACTIVE = "Active"
EXHAUSTED = "Exhausted"
EXPIRED = "Expired"
DEACTIVATED = "Deactivated"
LIVE_STATUSES = frozenset({SUBSCRIBED, ACTIVE})
MAX_LIVE_ADDONS = 15


@dataclass(frozen=True)
class Instance:
    """One subscribed add-on instance (its own volume and validity, copied from the plan)."""

    unique_id: int
    plan_id: str
    plan_name: str
    volume: int  # bytes
    validity_days: int
    activated_by: str  # "0" On Usage, "1" Immediate
    priority: int
    subscribed_at: float  # simulator epoch seconds
    removed_at: float | None = None

    @property
    def order_key(self) -> tuple[int, float, int]:
        """Draw order: priority ascending, then oldest subscription, then uniqueId."""
        return (self.priority, self.subscribed_at, self.unique_id)

    def exists_at(self, t: float) -> bool:
        return self.subscribed_at <= t and (self.removed_at is None or self.removed_at > t)


@dataclass(frozen=True)
class UsageEvent:
    """Traffic recorded at simulator time ``at`` (``billed`` bytes are drawn from add-ons)."""

    at: float
    billed: int


@dataclass
class InstanceState:
    """Computed state of an instance at the evaluation time."""

    instance: Instance
    started_at: float | None = None
    expires_at: float | None = None
    remaining: int = 0
    status: str = SUBSCRIBED

    @property
    def used(self) -> int:
        return self.instance.volume - self.remaining

    def usable_at(self, t: float) -> bool:
        return (
            self.started_at is not None
            and self.expires_at is not None
            and self.started_at <= t < self.expires_at
            and self.remaining > 0
            and self.instance.exists_at(t)
        )


@dataclass
class ReplayResult:
    states: list[InstanceState]  # ordered by uniqueId
    billed: list[int]  # bytes actually drawn for each input event (same order as input)

    def live_count(self) -> int:
        return sum(1 for s in self.states if s.status in LIVE_STATUSES)


def _immediate_start(inst: Instance, activated_at: float | None) -> float | None:
    """Immediate add-ons start at subscription, or at first activation if subscribed before."""
    if inst.activated_by != IMMEDIATE or activated_at is None:
        return None
    start = max(inst.subscribed_at, activated_at)
    if inst.removed_at is not None and inst.removed_at <= start:
        return None
    return start


def replay(
    instances: Iterable[Instance],
    events: Sequence[UsageEvent],
    activated_at: float | None,
    now: float,
) -> ReplayResult:
    """Compute every instance's state at ``now`` after drawing ``events`` (sorted by time).

    Rules:

    * Immediate instance: starts at ``max(subscribed_at, activated_at)`` once the endpoint has
      been activated (``activated_at`` = first time it became Active) and that moment is <= now.
    * On Usage instance: "Subscribed" (waiting) until traffic needs it; it starts at the time of
      the usage event that draws its first byte.
    * Expiry = start + validity days (exactly ``validity_days * 86400`` seconds).
    * A usage event at time t draws from the instances usable at t (started, t < expiry,
      remaining > 0, subscribed at or before t and not removed at or before t) in order
      (priority asc, subscription time asc, uniqueId asc), exhausting one before the next.
      When none is usable, the next waiting On Usage instance (same order, subscribed at or
      before t) starts at t. When none is left, the rest of the event is not billed.
    * Status at ``now``: Deactivated if removed; Subscribed if not started; Exhausted if
      remaining is 0 (it necessarily ran out before expiring); Expired if now >= expiry;
      otherwise Active.
    """
    insts = sorted(instances, key=lambda i: i.order_key)
    states = {i.unique_id: InstanceState(i, remaining=i.volume) for i in insts}
    ordered = [states[i.unique_id] for i in insts]
    for st in ordered:
        start = _immediate_start(st.instance, activated_at)
        if start is not None and start <= now:
            st.started_at = start
            st.expires_at = start + st.instance.validity_days * DAY

    billed: list[int] = []
    for ev in events:
        t = ev.at
        left = max(0, ev.billed)
        while left > 0:
            usable = next((s for s in ordered if s.usable_at(t)), None)
            if usable is not None:
                drawn = min(left, usable.remaining)
                usable.remaining -= drawn
                left -= drawn
                continue
            waiting = next(
                (
                    s
                    for s in ordered
                    if s.started_at is None
                    and s.instance.activated_by == ON_USAGE
                    and s.instance.exists_at(t)
                ),
                None,
            )
            if waiting is None:
                break
            waiting.started_at = t
            waiting.expires_at = t + waiting.instance.validity_days * DAY
        billed.append(max(0, ev.billed) - left)

    for st in ordered:
        inst = st.instance
        if inst.removed_at is not None and inst.removed_at <= now:
            st.status = DEACTIVATED
        elif st.started_at is None:
            st.status = SUBSCRIBED
        elif st.remaining == 0:
            st.status = EXHAUSTED
        elif st.expires_at is not None and now >= st.expires_at:
            st.status = EXPIRED
        else:
            st.status = ACTIVE
    return ReplayResult(sorted(ordered, key=lambda s: s.instance.unique_id), billed)

"""The add-on life rules, on the portal side: pure functions over stored add-on rows.

Restated from the SFT simulator's documented model (docs/simulator.md#add-on-life-model;
docs/business-rules.md#add-on-life, docs/esim.md#f11-add-on-queue,
docs/esim.md#f12-top-up-arithmetic). The portal never imports the simulator for these: the
same text is implemented here and the integration tests check that both agree.

1. Every add-on instance keeps **its own** volume and validity; subscribing a new one never
   changes the data or expiry of the others (stacked, not "later of old and new"; F12).
   Expiry = start + validity days exactly (``validity_days * 86400`` s).
2. **Immediate** add-ons start at subscription when the endpoint has already been Active once
   (else at its first activation). Their clock runs even while data is drawn from another
   add-on first.
3. **On Usage** add-ons wait ("Subscribed"/``waiting``) until traffic needs them: they start
   at the first data used when no started add-on is usable any more (all used up or expired).
   Waiting ones start one at a time, in draw order.
4. **Draw order** (:func:`draw_key`): priority ascending (``addOnPriority``; 1 when not
   reported), then oldest subscription, then ``uniqueId``. Data is drawn from the first usable
   started add-on, one exhausted before the next. A new add-on is the youngest, so it comes
   after every existing add-on of equal or better priority.
5. **Live** = waiting or active (:data:`LIVE_STATUSES`, :func:`live_count`). At most
   :data:`LIVE_ADDON_LIMIT` (15) live add-ons per endpoint
   (docs/business-rules.md#top-up-rules); used-up, expired and deactivated ones do not count.

Statuses seen by the portal are the stored ones, corrected for time only: an ``active`` row
whose ``expires_at`` has passed is ``expired`` and one with 0 bytes left is ``used_up``
(:func:`effective_status`; the platform evaluates status lazily at read time the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from travelsim.models import AddonState, EsimAddon, utcnow

__all__ = [
    "DEFAULT_PRIORITY",
    "LIVE_ADDON_LIMIT",
    "LIVE_STATUSES",
    "AddonOrder",
    "draw_key",
    "effective_status",
    "live_count",
    "order_addons",
]

#: At most this many live (waiting + active) add-ons per endpoint
#: (docs/business-rules.md#top-up-rules).
LIVE_ADDON_LIMIT = 15
#: Portal add-on statuses that count as live.
LIVE_STATUSES = frozenset({AddonState.WAITING, AddonState.ACTIVE})
#: Priority assumed when the platform does not report one (docs/sft-platform.md#queryrateplan).
DEFAULT_PRIORITY = 1
#: Add-on statuses after which an add-on no longer gives data but still tells what ran last.
_FINISHED = frozenset({AddonState.USED_UP, AddonState.EXPIRED, AddonState.UNKNOWN})

_MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def effective_status(addon: EsimAddon, now: datetime) -> str:
    """The add-on's status at ``now`` (aware UTC): the stored status, except that an
    ``active`` add-on with 0 bytes left is ``used_up`` and one whose ``expires_at`` is not
    after ``now`` is ``expired`` (the platform's precedence: used up before expired)."""
    status = addon.status
    if status == AddonState.ACTIVE:
        if addon.remaining_bytes is not None and addon.remaining_bytes <= 0:
            return AddonState.USED_UP
        if addon.expires_at is not None and now >= addon.expires_at:
            return AddonState.EXPIRED
    return status


def _uid_key(unique_id: str) -> tuple[int, int, str]:
    return (0, int(unique_id), "") if unique_id.isdigit() else (1, 0, unique_id)


def draw_key(addon: EsimAddon) -> tuple[int, datetime, tuple[int, int, str]]:
    """Draw/queue order key (rule 4): ``(priority, subscribed_at, uniqueId)`` ascending;
    a missing priority is :data:`DEFAULT_PRIORITY`, a missing subscription time sorts first,
    numeric ``uniqueId`` values compare as numbers."""
    return (
        addon.priority if addon.priority is not None else DEFAULT_PRIORITY,
        addon.subscribed_at or _MIN_TIME,
        _uid_key(addon.unique_id),
    )


def live_count(addons: Sequence[EsimAddon], now: datetime | None = None) -> int:
    """How many add-ons are live (waiting or active) at ``now`` (default: current time)."""
    at = now or utcnow()
    return sum(1 for a in addons if effective_status(a, at) in LIVE_STATUSES)


@dataclass(frozen=True)
class AddonOrder:
    """An eSIM's add-ons at one moment, in the order the rules give them.

    ``live``: running ones by draw order, then waiting ones by queue order. ``ended``: the
    others, newest subscription first. ``states``: :func:`effective_status` by ``uniqueId``.
    ``current``: the add-on data is drawn from now (the first running one, else the first
    waiting one), ``None`` when nothing is live. ``last``: when nothing is live, the finished
    add-on (used up, expired or no longer listed) that ran last by draw order, else ``None``.
    """

    live: list[EsimAddon]
    ended: list[EsimAddon]
    states: dict[str, str]
    current: EsimAddon | None
    last: EsimAddon | None


def order_addons(addons: Sequence[EsimAddon], now: datetime) -> AddonOrder:
    """Classify and order ``addons`` at ``now`` (aware UTC) by the rules above."""
    states = {a.unique_id: effective_status(a, now) for a in addons}
    running = sorted((a for a in addons if states[a.unique_id] == AddonState.ACTIVE), key=draw_key)
    waiting = sorted((a for a in addons if states[a.unique_id] == AddonState.WAITING), key=draw_key)
    ended = sorted(
        (a for a in addons if states[a.unique_id] not in LIVE_STATUSES),
        key=lambda a: (a.subscribed_at or a.updated_at, a.unique_id),
        reverse=True,
    )
    current = running[0] if running else (waiting[0] if waiting else None)
    finished = [a for a in addons if states[a.unique_id] in _FINISHED]
    last = max(finished, key=draw_key) if finished and current is None else None
    return AddonOrder(running + waiting, ended, states, current, last)

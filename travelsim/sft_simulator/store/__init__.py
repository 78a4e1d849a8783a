"""Persistence and business rules of the simulated SFT account (SQLAlchemy Core + SQLite).

All public methods are synchronous, short (a few ms) and serialized by one lock; each runs in
one transaction. Times are simulator-clock epoch seconds (floats, UTC). The rules are stated in
``docs/simulator.md#decisions-the-platform-leaves-open`` and
``docs/simulator.md#add-on-life-model``.

:class:`Store` is assembled from one mixin per topic:

* :mod:`.schema`: tables, fixed values, :class:`OpResult`, wire formats;
* :mod:`.core`: engine, lock, simulator clock, seed/reset, shared reads;
* :mod:`.tokens`: access/refresh tokens;
* :mod:`.lifecycle`: fetchSIM, activation, lifecycle changes, de-link;
* :mod:`.addons`: subscribe/remove add-ons, add-on details, endpoint profile;
* :mod:`.usage`: consume, statistics, profile status, callback snapshot, summary.
"""

from __future__ import annotations

from .addons import AddonOps, addon_row
from .core import StoreCore
from .lifecycle import LifecycleOps
from .schema import (
    FIRST_UNIQUE_ID,
    INVALID,
    NOT_FOUND,
    PROFILE_PATH_TO_ENABLED,
    PROFILE_STATUSES,
    SIM_PRODUCT,
    SIM_STATUS_BY_ID,
    OpResult,
    endpoint_not_found,
    fail,
    fmt_day,
    fmt_mb,
    fmt_ts,
    metadata,
    sim_addons,
    sim_endpoints,
    sim_meta,
    sim_sims,
    sim_tokens,
    sim_usage,
)
from .tokens import TokenOps
from .usage import UsageOps

__all__ = [
    "FIRST_UNIQUE_ID",
    "INVALID",
    "NOT_FOUND",
    "PROFILE_PATH_TO_ENABLED",
    "PROFILE_STATUSES",
    "SIM_PRODUCT",
    "SIM_STATUS_BY_ID",
    "OpResult",
    "Store",
    "StoreCore",
    "addon_row",
    "endpoint_not_found",
    "fail",
    "fmt_day",
    "fmt_mb",
    "fmt_ts",
    "metadata",
    "sim_addons",
    "sim_endpoints",
    "sim_meta",
    "sim_sims",
    "sim_tokens",
    "sim_usage",
]


class Store(TokenOps, LifecycleOps, AddonOps, UsageOps):
    """The simulated account's state in its own SQLite file (tables prefixed ``sim_``).

    ``Store(db_path, seed_esims=N, seed=S)`` opens the file and seeds an empty one (see
    :class:`StoreCore`); the operations come from the topic mixins.
    """

"""The simulator's SQLite schema (tables ``sim_*``), its fixed values and the shapes shared
by every store operation: :class:`OpResult` and the date/volume formats of the wire."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Float, Integer, MetaData, String, Table

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


def endpoint_not_found(endpoint_id: str) -> OpResult:
    """resultParam ``1359`` for an unknown ``endPointId``."""
    return fail(NOT_FOUND, f"No data available: endpoint {endpoint_id} not found")

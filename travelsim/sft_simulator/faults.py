"""Fault injection rules (in memory; cleared on restart and by ``/_sim/reset``).

What each kind does: ``docs/simulator.md#fault-kinds``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

FAULT_KINDS = (
    "latency",
    "http500",
    "timeout_after_commit",
    "429_burst",
    "malformed",
    "html",
    "token_expiry",
    "rate_limit_body",
)


@dataclass
class Fault:
    """One rule: on calls to ``operation`` (lower-case path name or ``*``) inject ``kind``.

    ``count`` = fire on the next N matching calls then disappear; ``probability`` = fire with
    that chance on every matching call until cleared (both: random, at most ``count`` times).
    """

    id: int
    operation: str
    kind: str
    probability: float | None
    count: int | None
    latency_seconds: float
    status: int | None = None
    fired: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize_operation(op: str) -> str:
    op = op.strip().lower().strip("/")
    if op.startswith("api/"):
        op = op[4:]
    return op or "*"


class FaultBook:
    """Thread-safe list of active faults."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._next_id = 1
        self._rng = rng or random.Random()

    def add(
        self,
        operation: str,
        kind: str,
        *,
        probability: float | None,
        count: int | None,
        latency_seconds: float,
        status: int | None = None,
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if probability is not None and not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be within 0..1")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1")
        if latency_seconds < 0:
            raise ValueError("latency_seconds must be >= 0")
        if probability is None and count is None:
            count = 1
        with self._lock:
            fault = Fault(
                self._next_id,
                normalize_operation(operation),
                kind,
                probability,
                count,
                latency_seconds,
                status,
            )
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def clear(self) -> int:
        with self._lock:
            n = len(self._faults)
            self._faults.clear()
        return n

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def fire(self, operation: str) -> list[Fault]:
        """Faults that fire for this call (consumes ``count`` budgets)."""
        fired: list[Fault] = []
        with self._lock:
            for f in list(self._faults):
                if f.operation not in ("*", operation):
                    continue
                if f.probability is not None and self._rng.random() >= f.probability:
                    continue
                f.fired += 1
                fired.append(f)
                if f.count is not None:
                    f.count -= 1
                    if f.count <= 0:
                        self._faults.remove(f)
        return fired

"""Shared helpers of the benchmarks: machine description, percentiles, environment."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path


def machine() -> str:
    """One line describing where the figures were measured."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()} "
        f"({sys.implementation.name}), {platform.system()} {platform.release()}"
    )


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by linear interpolation (``statistics.quantiles``)."""
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[min(98, max(0, round(p) - 1))]


def fresh_environment(prefix: str) -> Path:
    """Point the portal at a new temporary DATA_DIR (call BEFORE importing travelsim)."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"travelsim-bench-{prefix}-"))
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ["APP_ENV"] = "test"  # explicit: unset means production (fails closed)
    for name in ("SFT_BASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    return data_dir

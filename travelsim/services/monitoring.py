"""What ``GET /metrics`` answers (docs/monitoring.md): the Prometheus text exposition of the
in-process metrics (:mod:`travelsim.metrics`) and of figures read from the database at scrape
time, the same from whichever worker answers:

* ``travelsim_orders{status}``: orders per state (``paid``, ``provisioning``, ``delivered``,
  ``needs_attention``);
* ``travelsim_payments_flagged``: payments a human must look at (failed void or capture,
  dispute);
* ``travelsim_free_esims``: eSIMs left to sell;
* ``travelsim_outbox_emails{status}``: emails queued, sent, failed;
* ``travelsim_callbacks{status}``: stored platform callbacks per processing state;
* ``travelsim_usage_oldest_figure_age_seconds``: age of the oldest usage figure of a sold
  eSIM (now minus the oldest ``EsimSync.synced_at``; a sold eSIM never read counts from its
  sale), the sync's staleness;
* ``travelsim_job_last_run_timestamp_seconds{job}``, ``…_duration_seconds{job}``,
  ``travelsim_job_last_run_ok{job}`` (1 ok or degraded, 0 failing or stale, per
  ``jobs.metering.job_health``), ``travelsim_job_runs_total{job,ok}``;
* ``travelsim_reconciliation_open{kind}``: open discrepancies between Stripe, the books and
  SFT per kind (docs/reconciliation.md), every kind listed (0 when none).

Reads only; one short session per scrape, a handful of aggregate queries.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import (
    CallbackEvent,
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    Esim,
    EsimSync,
    InventoryState,
    JobRun,
    Order,
    OutboxEmail,
    Payment,
    PaymentStatus,
    utcnow,
)
from travelsim.services import inventory
from travelsim.services.jobs.metering import job_health, job_interval, last_runs
from travelsim.settings import Settings

__all__ = ["database_metrics", "exposition"]


async def _by(session: AsyncSession, column: Any) -> dict[str, int]:
    rows = (await session.execute(select(column, func.count()).group_by(column))).all()
    return {str(key): int(n) for key, n in rows}


def _labelled(name: str, doc: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, n in sorted(values.items()):
        family.add_metric([key], n)
    return family


async def _staleness(session: AsyncSession, now: datetime) -> float:
    """Seconds since the oldest usage figure of a sold eSIM was read (0 with none sold)."""
    oldest = (
        await session.execute(
            select(func.min(func.coalesce(col(EsimSync.synced_at), col(Esim.assigned_at))))
            .select_from(Esim)
            .outerjoin(EsimSync, col(EsimSync.esim_id) == col(Esim.id))
            .where(col(Esim.state) == InventoryState.ASSIGNED)
        )
    ).scalar_one()
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite aggregates return the stored text without its type
        from datetime import UTC

        oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())


async def _job_families(session: AsyncSession, settings: Settings, now: datetime) -> list[Metric]:
    at = GaugeMetricFamily(
        "travelsim_job_last_run_timestamp_seconds",
        "Start of each background job's last run (Unix time).",
        labels=["job"],
    )
    took = GaugeMetricFamily(
        "travelsim_job_last_run_duration_seconds", "Duration of the last run.", labels=["job"]
    )
    healthy = GaugeMetricFamily(
        "travelsim_job_last_run_ok",
        "1 when the last run is ok or degraded, 0 when it failed or the job is stale "
        "(no run for 3 intervals).",
        labels=["job"],
    )
    runs = CounterMetricFamily(
        "travelsim_job_runs", "Recorded job runs by job and outcome.", labels=["job", "ok"]
    )
    for job, ok, n in (
        await session.execute(
            select(col(JobRun.job), col(JobRun.ok), func.count()).group_by(
                col(JobRun.job), col(JobRun.ok)
            )
        )
    ).all():
        runs.add_metric([job, "true" if ok else "false"], int(n))
    for run in await last_runs(session):
        at.add_metric([run.job], run.started_at.timestamp())
        took.add_metric([run.job], (run.duration_ms or 0) / 1000)
        health = job_health(run, now, job_interval(settings, run.job))
        healthy.add_metric([run.job], 1.0 if health in ("ok", "degraded") else 0.0)
    return [at, took, healthy, runs]


async def database_metrics(
    session: AsyncSession, settings: Settings, *, now: datetime | None = None
) -> list[Metric]:
    """The scrape-time families of the module docstring, read in ``session``."""
    at = now or utcnow()
    flagged = (
        await session.execute(
            select(func.count())
            .select_from(Payment)
            .where(col(Payment.status) == PaymentStatus.FLAGGED)
        )
    ).scalar_one()
    families: list[Metric] = [
        _labelled(
            "travelsim_orders", "Orders per state.", "status", await _by(session, col(Order.status))
        ),
        GaugeMetricFamily(
            "travelsim_payments_flagged", "Payments a human must look at.", value=int(flagged)
        ),
        GaugeMetricFamily(
            "travelsim_free_esims", "eSIMs free to sell.", value=await inventory.free_count(session)
        ),
        _labelled(
            "travelsim_outbox_emails",
            "Emails per delivery state.",
            "status",
            await _by(session, col(OutboxEmail.status)),
        ),
        _labelled(
            "travelsim_callbacks",
            "Stored platform callbacks per processing state.",
            "status",
            await _by(session, col(CallbackEvent.status)),
        ),
        GaugeMetricFamily(
            "travelsim_usage_oldest_figure_age_seconds",
            "Age of the oldest usage figure of a sold eSIM (the usage sync's staleness).",
            value=await _staleness(session, at),
        ),
    ]
    open_kinds = dict.fromkeys((k.value for k in DiscrepancyKind), 0)
    for kind, n in (
        await session.execute(
            select(col(Discrepancy.kind), func.count())
            .where(col(Discrepancy.status) == DiscrepancyStatus.OPEN)
            .group_by(col(Discrepancy.kind))
        )
    ).all():
        open_kinds[str(kind)] = int(n)
    families.append(
        _labelled(
            "travelsim_reconciliation_open",
            "Open reconciliation discrepancies per kind.",
            "kind",
            open_kinds,
        )
    )
    families.extend(await _job_families(session, settings, at))
    return families


class _Fixed:
    """A collector yielding metric families computed before the scrape."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def exposition(families: Iterable[Metric]) -> bytes:
    """The text exposition (``text/plain; version=0.0.4``) of ``families`` and of the
    in-process metrics: this process's (the default registry), or every worker's summed
    when ``PROMETHEUS_MULTIPROC_DIR`` is set (:mod:`travelsim.metrics`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))  # type: ignore[arg-type]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_Fixed(REGISTRY.collect()))  # type: ignore[arg-type]
    return generate_latest(registry)

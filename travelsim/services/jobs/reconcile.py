"""The daily reconciliation job (``reconciliation`` in ``travelsim.scheduler``, every
``RECONCILIATION_INTERVAL_SECONDS``): one :func:`travelsim.services.reconciliation.reconcile`
run, recorded as a ``JobRun`` like every job (docs/reconciliation.md#the-daily-job)."""

from __future__ import annotations

from travelsim import db
from travelsim.db import SessionFactory
from travelsim.models import utcnow
from travelsim.services import reconciliation
from travelsim.services.jobs.metering import Clock, RunStats
from travelsim.settings import Settings, get_settings
from travelsim.sft.client import SFTClient

__all__ = ["run_reconciliation"]


async def run_reconciliation(
    client: SFTClient,
    stats: RunStats,
    *,
    settings: Settings | None = None,
    session_factory: SessionFactory = db.session,
    clock: Clock = utcnow,
) -> reconciliation.ReconcileReport:
    """One reconciliation run. ``stats.items`` = discrepancies found, ``stats.errors`` =
    endpoints whose add-ons could not be read; ``stats.detail``: ``new``, ``reopened``,
    ``cleared``, ``open``, ``emailed``, ``by_kind``. Raises as ``reconcile`` (a Stripe
    failure: the run is recorded failed and tried again on the next tick)."""
    report = await reconciliation.reconcile(
        client,
        settings=settings or get_settings(),
        session_factory=session_factory,
        now=clock(),
    )
    stats.items = report.found
    stats.errors = len(report.endpoints_failed)
    stats.detail.update(
        new=report.new,
        reopened=report.reopened,
        cleared=report.cleared,
        open=report.open,
        emailed=report.emailed,
        by_kind=report.by_kind,
        intents=report.intents,
        endpoints=report.endpoints,
    )
    return report

"""A traveler's "refresh now" of one eSIM: claim the eSIM's refresh slot (at most one refresh
per eSIM per cool-down, whatever the number of clicks, tabs or workers), then one usage sync
of it at the traveler's priority (:func:`travelsim.services.usage_sync.sync_esims`). No Reflex.

The cool-down protects the platform's shared rate budget
(docs/business-rules.md#usage-sync): a failed read still uses the slot. Only the eSIM's owner
may refresh it (:mod:`travelsim.services.ownership`); any other id is ``not_found``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.models import Esim, EsimSync, utcnow
from travelsim.services.ownership import is_owner
from travelsim.services.usage_sync import Clock, SessionFactory, sync_esims
from travelsim.sft.client import SFTClient
from travelsim.sft.models import Priority

__all__ = ["DEFAULT_COOLDOWN_SECONDS", "RefreshOutcome", "refresh_now"]

#: Manual refresh cool-down per eSIM (seconds).
DEFAULT_COOLDOWN_SECONDS = 60


@dataclass(frozen=True)
class RefreshOutcome:
    """Result of :func:`refresh_now`.

    Attributes:
        status: ``"refreshed"`` (figures re-read), ``"cooling_down"`` (refreshed less than
            the cool-down ago: try again in ``retry_after_seconds``), ``"failed"`` (the
            platform could not be read: ``error``), ``"not_found"`` (no such eSIM for this
            user; says nothing about other users' eSIMs).
        retry_after_seconds: whole seconds to wait (> 0 only for ``cooling_down``).
        changed_rows: rows changed by the refresh (0 = the figures were already current).
        synced_at: aware UTC time of the last successful read, if any.
        error: failure description for ``failed``.
    """

    status: Literal["refreshed", "cooling_down", "failed", "not_found"]
    retry_after_seconds: int = 0
    changed_rows: int = 0
    synced_at: datetime | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "refreshed"


async def refresh_now(
    client: SFTClient,
    *,
    user_id: int,
    esim_id: int,
    cooldown_seconds: int = DEFAULT_COOLDOWN_SECONDS,
    session_factory: SessionFactory = db.session,
    clock: Clock = utcnow,
) -> RefreshOutcome:
    """A traveler's "refresh now" for one eSIM, at ``Priority.REFRESH``.

    Only the owner may refresh (else ``not_found``). At most one accepted refresh per eSIM per
    ``cooldown_seconds``: the slot is claimed with a compare-and-set on
    ``EsimSync.refresh_requested_at`` (two clicks at once → one refresh, one ``cooling_down``).
    A failed platform read still uses the slot (protects the shared rate budget). Raises only
    database errors.
    """
    now = clock()
    async with session_factory() as s:
        esim = await s.get(Esim, esim_id)
        if not is_owner(esim, user_id):
            return RefreshOutcome("not_found")
        wait = await _claim_refresh(s, esim_id, now, cooldown_seconds)
        if wait > 0:
            sync = await s.get(EsimSync, esim_id)
            return RefreshOutcome(
                "cooling_down",
                retry_after_seconds=wait,
                synced_at=sync.synced_at if sync else None,
            )
    result = await sync_esims(
        client, [esim_id], priority=Priority.REFRESH, session_factory=session_factory, clock=clock
    )
    outcome = result.outcomes[0]
    async with session_factory() as s:
        sync = await s.get(EsimSync, esim_id)
        synced_at = sync.synced_at if sync else None
    if not outcome.ok:
        return RefreshOutcome("failed", synced_at=synced_at, error=outcome.error)
    return RefreshOutcome("refreshed", changed_rows=outcome.changed_rows, synced_at=synced_at)


async def _claim_refresh(s: AsyncSession, esim_id: int, now: datetime, cooldown: int) -> int:
    """Claim the refresh slot; returns 0 when claimed (committed), else seconds to wait."""
    threshold = now - timedelta(seconds=cooldown)
    for _ in range(2):
        result: Any = await s.execute(
            update(EsimSync)
            .where(
                col(EsimSync.esim_id) == esim_id,
                or_(
                    col(EsimSync.refresh_requested_at).is_(None),
                    col(EsimSync.refresh_requested_at) <= threshold,
                ),
            )
            .values(refresh_requested_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            await s.commit()
            return 0
        row = (
            await s.exec(
                select(EsimSync)
                .where(col(EsimSync.esim_id) == esim_id)
                .execution_options(populate_existing=True)
            )
        ).one_or_none()
        if row is not None:
            last = row.refresh_requested_at or now
            await s.rollback()
            return max(1, math.ceil(cooldown - (now - last).total_seconds()))
        s.add(EsimSync(esim_id=esim_id, refresh_requested_at=now))
        try:
            await s.commit()
            return 0
        except IntegrityError:
            await s.rollback()  # created concurrently: compare-and-set again
    return cooldown

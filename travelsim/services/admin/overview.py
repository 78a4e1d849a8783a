"""The admin home page: today's figures, background job health, callback receipt, and
whether SFT answers."""

from __future__ import annotations

import json
import time as _time
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import (
    CallbackEvent,
    CallbackStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    PurchaseKind,
    ReplacementRequest,
    ReplacementRequestStatus,
    utcnow,
)
from travelsim.services import inventory
from travelsim.services.admin.base import PRIORITY, _money, _when
from travelsim.services.admin.outbox import failed_emails
from travelsim.services.admin.staff_orders import STAFF_PROVIDER
from travelsim.services.jobs.metering import job_health, job_interval, last_runs
from travelsim.settings import Settings, get_settings
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTError


@dataclass(frozen=True)
class Overview:
    """Figures of the admin home page (see :func:`overview`)."""

    orders_today: int
    revenue_today: list[str]
    revenue_30d: list[str]
    delivered_today: int
    delivered_total: int
    free_esims: int
    low_stock_threshold: int
    needs_attention: int
    flagged_payments: int
    open_replacements: int
    #: Emails given up in the last 7 days (``outbox.failed_emails``).
    failed_emails: int
    jobs: list[dict[str, str]]
    callbacks: dict[str, str]
    unrecognised: list[dict[str, str]] = field(default_factory=list)


#: Platform events the portal did not understand shown on the home page, newest first.
UNRECOGNISED_SHOWN = 10
#: Characters of each one's body shown (the rest is cut, and the cut is said).
RAW_SHOWN_CHARS = 500


async def _count(session: AsyncSession, query: Any) -> int:
    """The value of a ``SELECT count(*) ...`` query."""
    return int((await session.execute(query)).scalar_one())


async def _revenue(session: AsyncSession, since: datetime) -> list[str]:
    """Captured payments of orders created since ``since``, one money text per currency
    (``["0"]`` when none)."""
    rows = (
        await session.execute(
            select(col(Payment.currency), func.sum(col(Payment.amount_minor)))
            .join(Order, col(Order.payment_id) == col(Payment.id))
            .where(col(Payment.status) == PaymentStatus.SUCCEEDED, col(Order.created_at) >= since)
            .group_by(col(Payment.currency))
            .order_by(col(Payment.currency))
        )
    ).all()
    return [_money(int(total or 0), cur) for cur, total in rows] or ["0"]


async def _jobs(session: AsyncSession, cfg: Settings, at: datetime) -> list[dict[str, str]]:
    """The last run of each background job (by name) with its :func:`job_health`."""
    jobs: list[dict[str, str]] = []
    for run in await last_runs(session):
        name = run.job
        interval = job_interval(cfg, name)
        age = run.oldest_figure_age_seconds
        jobs.append(
            {
                "job": name,
                "at": _when(run.started_at),
                "health": job_health(run, at, interval),
                "duration": f"{(run.duration_ms or 0) / 1000:.1f} s",
                "calls": str(run.calls),
                "rate_limited": str(run.rate_limited),
                "errors": str(run.errors),
                "items": str(run.items),
                "staleness": "" if age is None else f"{age // 60} min",
                "error": run.error or "",
            }
        )
    return jobs


async def _callbacks(session: AsyncSession, cfg: Settings, at: datetime) -> dict[str, str]:
    """Callback receipt: on/off, last event, events in the last 24 h, failed, pending."""
    last_event = (
        await session.execute(select(func.max(col(CallbackEvent.received_at))))
    ).scalar_one()
    events = select(func.count()).select_from(CallbackEvent)
    return {
        "enabled": "on" if cfg.sft_callback_token else "off",
        "last": _when(last_event) or "never",
        "day": str(
            await _count(
                session, events.where(col(CallbackEvent.received_at) >= at - timedelta(days=1))
            )
        ),
        "failed": str(
            await _count(session, events.where(col(CallbackEvent.status) == CallbackStatus.FAILED))
        ),
        "pending": str(
            await _count(session, events.where(col(CallbackEvent.status) == CallbackStatus.PENDING))
        ),
        "unrecognised": str(
            await _count(
                session, events.where(col(CallbackEvent.status) == CallbackStatus.UNRECOGNISED)
            )
        ),
    }


def _raw_text(payload: dict[str, Any]) -> tuple[str, bool]:
    """The body as received (a raw-stored body's text, else the event as JSON) and whether
    it was already cut when stored."""
    if set(payload) == {"raw", "truncated", "bytes"}:
        return str(payload["raw"]), bool(payload["truncated"])
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str), False


async def unrecognised_events(
    session: AsyncSession, limit: int = UNRECOGNISED_SHOWN
) -> list[dict[str, str]]:
    """The newest ``unrecognised`` platform events (docs/sft-platform.md#callbacks): id,
    receipt time, type as sent, why, and the body as plain text (at most
    :data:`RAW_SHOWN_CHARS` characters, ending in "… (truncated)" when cut here or when
    stored). The page renders it as text, so markup in it is shown, never run."""
    rows = (
        await session.exec(
            select(CallbackEvent)
            .where(col(CallbackEvent.status) == CallbackStatus.UNRECOGNISED)
            .order_by(col(CallbackEvent.received_at).desc(), col(CallbackEvent.id).desc())
            .limit(limit)
        )
    ).all()
    out: list[dict[str, str]] = []
    for row in rows:
        text, cut = _raw_text(row.payload)
        if len(text) > RAW_SHOWN_CHARS:
            text, cut = text[:RAW_SHOWN_CHARS], True
        out.append(
            {
                "id": str(row.id),
                "at": _when(row.received_at),
                "type": row.event_type,
                "reason": row.error or "",
                "body": text + (" … (truncated)" if cut else ""),
            }
        )
    return out


async def overview(
    session: AsyncSession, *, settings: Settings | None = None, now: datetime | None = None
) -> Overview:
    """Orders today (UTC day, staff orders excluded), revenue (captured payments of orders
    created today / in the last 30 days, per currency), eSIMs delivered (new-eSIM orders
    delivered today / ever), free pre-active eSIMs against ``LOW_STOCK_THRESHOLD``, orders
    needing attention and flagged payments, open replacement requests, emails given up in the last
    7 days, the last run of each
    background job with its health, and callback receipt (last event, last 24 h, failures,
    unrecognised ones and the newest of them: :func:`unrecognised_events`)."""
    cfg = settings or get_settings()
    at = now or utcnow()
    today = datetime.combine(at.astimezone(UTC).date(), time(), UTC)
    orders_today = await _count(
        session,
        select(func.count())
        .select_from(Order)
        .join(Payment, col(Payment.id) == col(Order.payment_id))
        .where(col(Order.created_at) >= today, col(Payment.provider) != STAFF_PROVIDER),
    )
    delivered = (
        select(func.count())
        .select_from(Order)
        .where(col(Order.kind) == PurchaseKind.NEW_ESIM, col(Order.status) == OrderStatus.DELIVERED)
    )
    jobs = await _jobs(session, cfg, at)
    return Overview(
        orders_today=orders_today,
        revenue_today=await _revenue(session, today),
        revenue_30d=await _revenue(session, at - timedelta(days=30)),
        delivered_today=await _count(session, delivered.where(col(Order.delivered_at) >= today)),
        delivered_total=await _count(session, delivered),
        free_esims=await inventory.free_count(session),
        low_stock_threshold=cfg.low_stock_threshold,
        needs_attention=await _count(
            session,
            select(func.count())
            .select_from(Order)
            .where(col(Order.status) == OrderStatus.NEEDS_ATTENTION),
        ),
        flagged_payments=await _count(
            session,
            select(func.count())
            .select_from(Payment)
            .where(col(Payment.status) == PaymentStatus.FLAGGED),
        ),
        open_replacements=await _count(
            session,
            select(func.count())
            .select_from(ReplacementRequest)
            .where(col(ReplacementRequest.status) == ReplacementRequestStatus.OPEN),
        ),
        failed_emails=await failed_emails(session, now=at),
        jobs=jobs,
        callbacks=await _callbacks(session, cfg, at),
        unrecognised=await unrecognised_events(session),
    )


async def check_sft(client: SFTClient) -> tuple[bool, str]:
    """Reachability of SFT: one ``fetchSIM`` page of one free SIM (login included when the
    token is missing). Returns ``(reachable, text)``; never raises for platform errors."""
    t0 = _time.monotonic()
    try:
        await client.fetch_sims(priority=PRIORITY, per_page=1)
    except SFTError as exc:
        return False, f"unreachable: {type(exc).__name__}"
    except Exception as exc:  # transport surprises
        return False, f"unreachable: {type(exc).__name__}"
    return True, f"reachable ({(_time.monotonic() - t0) * 1000:.0f} ms)"

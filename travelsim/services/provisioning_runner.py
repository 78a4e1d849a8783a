"""The step runner of a provisioning run: each step of a claimed order, attempt by attempt.

``provisioning.run_order`` claims the order (a :class:`Run`) and calls :func:`run_steps`. Each
attempt marks the step ``running`` (``attempts`` + 1, ``started_at``, lease heartbeat) and
commits BEFORE any SFT call, then ``done`` (with ``detail`` and ``finished_at``) or ``failed``
(``error``). A result is committed together with its step's ``done``, so a crash at any boundary
leaves either "not done" (the step runs again, and its re-reads make that safe) or "done"
(skipped on the next run). To save commits, the first attempt's ``running`` shares a transaction
with what precedes it: the claim of the order (first step), or the previous step's ``done``. A
clean new-eSIM run therefore commits six times: claim + activate running; activate done +
subscribe running; the add-on baseline; subscribe done + fetch_code running; fetch_code done +
deliver running; deliver done + order delivered + the payment's capture. A failed attempt
is retried in place (``max_attempts``, ``backoff`` seconds between attempts); refusals that
cannot improve (e.g. 9010 "15 add-ons") fail at once. What each step does is
:mod:`travelsim.services.provisioning_steps`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import metrics
from travelsim.models import Esim, Order, ProvisioningStep, StepStatus, utcnow
from travelsim.services.payment_holds import DeliveryCapture
from travelsim.services.provisioning_retry import is_transient
from travelsim.services.provisioning_steps import DETAIL_MAX, HANDLERS, StepContext, StepError
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTBusinessError, SFTError

__all__ = [
    "Attempts",
    "Failure",
    "ProgressCallback",
    "Run",
    "load_steps",
    "mark_running",
    "progress",
    "reread",
    "run_steps",
]

log = logging.getLogger(__name__)

#: ``async on_progress(step_name, status)``; see ``provisioning.run_order``.
ProgressCallback = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True)
class Failure:
    """How a step ended when it did not get done: ``error`` for ``last_error``;
    ``transient``: a later run may succeed (schedule a retry) rather than a refusal."""

    error: str
    transient: bool


@dataclass(frozen=True)
class Attempts:
    """How a run tries each step: ``max_attempts`` per step, ``backoff`` seconds between
    them (the last value repeats) waited with ``sleep``, ``public_url`` for email links,
    ``on_progress`` told of each change."""

    max_attempts: int
    backoff: Sequence[float]
    public_url: str
    sleep: Callable[[float], Awaitable[Any]]
    on_progress: ProgressCallback | None


async def progress(on_progress: ProgressCallback | None, name: str, status: str) -> None:
    """Tell ``on_progress`` (if any) that ``name`` is now ``status``; its errors are logged
    and ignored."""
    if on_progress is None:
        return
    try:
        await on_progress(name, status)
    except Exception:  # a UI callback must never break provisioning
        log.exception("provisioning progress callback failed")


async def reread(session: AsyncSession, model: Any, key: Any) -> Any:
    """The row ``model[key]`` read again from the database (``None`` if missing)."""
    return await session.get(model, key, populate_existing=True)


@dataclass
class Run:
    """The rows of one claimed run, kept loaded between steps (``expire_on_commit=False``):
    only this run writes them while it holds the lease. Reloaded after a rollback."""

    session: AsyncSession
    client: SFTClient
    order_id: str
    order: Order
    esim: Esim
    steps: dict[str, ProvisioningStep]  # by name, in ``seq`` order
    #: A step's commit beats the lease (``Order.updated_at``) only once the last beat is at
    #: least this old: a run's steps usually take seconds, a takeover needs a whole lease.
    beat_every: timedelta = timedelta(0)
    #: The payment's capture, made by the deliver step (``payment_holds``).
    capture: DeliveryCapture = field(default_factory=DeliveryCapture)

    async def reload(self) -> None:
        """Re-read the order, its eSIM and its steps (after a rollback expired them)."""
        order = await reread(self.session, Order, self.order_id)
        assert order is not None
        esim = await reread(self.session, Esim, order.esim_id)
        assert esim is not None
        self.order, self.esim = order, esim
        self.steps = await load_steps(self.session, self.order_id)


async def load_steps(session: AsyncSession, order_id: str) -> dict[str, ProvisioningStep]:
    """The order's steps, freshly read, by name in ``seq`` order."""
    rows = await session.exec(
        select(ProvisioningStep)
        .where(col(ProvisioningStep.order_id) == order_id)
        .order_by(col(ProvisioningStep.seq))
        .execution_options(populate_existing=True)
    )
    return {step.name: step for step in rows.all()}


def mark_running(
    session: AsyncSession, step: ProvisioningStep, order: Order, *, heartbeat: bool = True
) -> None:
    """Start an attempt of ``step`` (``attempts`` + 1) and, unless the same transaction
    already did (``heartbeat=False``), beat the order's lease; the caller commits."""
    now = utcnow()
    step.status = StepStatus.RUNNING
    step.attempts += 1
    step.started_at = now
    step.finished_at = None
    step.error = None
    session.add(step)
    if heartbeat:
        order.updated_at = now  # heartbeat of the lease
        session.add(order)


async def run_steps(run: Run, attempts: Attempts) -> tuple[str, Failure] | None:
    """Run the claimed order's steps not done yet, in order; stop at the first that fails.
    Returns ``(step name, failure)``, or ``None`` when every step is done."""
    # Names only: a failed attempt rolls back, which expires every loaded row.
    pending = [step.name for step in run.steps.values() if step.status != StepStatus.DONE]
    if pending:  # marked ``running`` in the claim's transaction
        await progress(attempts.on_progress, pending[0], "running")
    for i, name in enumerate(pending):
        next_name = pending[i + 1] if i + 1 < len(pending) else None
        failure = await _run_step(run, name, next_name=next_name, attempts=attempts)
        if failure is not None:
            return name, failure
    return None


async def _run_step(
    run: Run, name: str, *, next_name: str | None, attempts: Attempts
) -> Failure | None:
    """Run one step, already marked ``running`` (committed), with bounded retries.

    On success the step's ``done`` (with its results) and the start of ``next_name``'s first
    attempt are ONE commit, so the boundaries are the same states as before, fewer of them.
    Returns ``None`` when done, else the last failure (error and ``is_transient``)."""
    session = run.session
    handler = HANDLERS.get(name)
    error = f"unknown step {name!r}"
    for attempt in range(attempts.max_attempts):
        if attempt > 0:
            mark_running(session, run.steps[name], run.order)
            await session.commit()
            await progress(attempts.on_progress, name, "running")
        step = run.steps[name]
        retryable = True
        transient = False
        started = time.perf_counter()
        try:
            if handler is None:
                raise StepError(error, retryable=False)
            ctx = StepContext(
                session, run.client, run.order, run.esim, attempts.public_url, run.capture
            )
            detail = await handler(ctx, step)
        except StepError as exc:
            error, retryable, transient = str(exc), exc.retryable, is_transient(exc)
        except SFTBusinessError as exc:
            error, retryable = f"{exc.operation} refused: code {exc.result_code}", False
        except SFTError as exc:
            error, transient = _describe(exc), is_transient(exc)
        except Exception as exc:
            log.exception("provisioning step %s crashed", name, extra={"order_id": run.order_id})
            error = f"{type(exc).__name__} in step {name}"
        else:
            await _step_done(run, step, detail, next_name, attempts.on_progress)
            metrics.STEP_SECONDS.labels(name, "done").observe(time.perf_counter() - started)
            return None
        metrics.STEP_SECONDS.labels(name, "failed").observe(time.perf_counter() - started)
        last = attempt == attempts.max_attempts - 1 or not retryable
        await _step_failed(run, name, error, last, attempts.on_progress)
        if last:
            return Failure(error, transient)
        if attempts.backoff:
            await attempts.sleep(attempts.backoff[min(attempt, len(attempts.backoff) - 1)])
    return Failure(error, False)


async def _step_done(
    run: Run,
    step: ProvisioningStep,
    detail: str,
    next_name: str | None,
    on_progress: ProgressCallback | None,
) -> None:
    """Commit the step's ``done`` (with what its handler wrote) and, in the same
    transaction, the start of ``next_name``'s first attempt."""
    session = run.session
    step.status = StepStatus.DONE
    step.detail = detail[:DETAIL_MAX]
    step.finished_at = utcnow()
    last_beat = run.order.updated_at
    if last_beat is None or step.finished_at - last_beat >= run.beat_every:
        run.order.updated_at = step.finished_at  # heartbeat of the lease
    session.add_all([step, run.order])
    if next_name is not None:
        mark_running(session, run.steps[next_name], run.order, heartbeat=False)
    await session.commit()
    await progress(on_progress, step.name, "done")
    if next_name is not None:
        await progress(on_progress, next_name, "running")


async def _step_failed(
    run: Run, name: str, error: str, last: bool, on_progress: ProgressCallback | None
) -> None:
    """The attempt failed: drop its uncommitted changes, record the failure (commits)."""
    session = run.session
    await session.rollback()
    await run.reload()
    step = run.steps[name]
    step.status = StepStatus.FAILED
    step.error = error[:500]
    step.finished_at = utcnow()
    session.add(step)
    await session.commit()
    log.warning(
        "provisioning step failed",
        extra={"order_id": run.order_id, "step": name, "attempt": step.attempts, "final": last},
    )
    await progress(on_progress, name, "failed" if last else "retrying")


def _describe(exc: SFTError) -> str:
    """``last_error`` text of an SFT failure: class, operation and HTTP status (never a
    response body, token or matching ID)."""
    status = f" (HTTP {exc.http_status})" if exc.http_status is not None else ""
    return f"{type(exc).__name__}: {exc.operation}{status}"

"""Provisioning of a paid order: persisted, resumable steps against SFT.

The purchase flow (docs/business-rules.md#provisioning-steps,
docs/architecture.md#one-purchase-click-to-qr), one ``ProvisioningStep`` row per step, created with
the order (``checkout.NEW_ESIM_STEPS`` / ``TOPUP_STEPS``):

``activate``
    ``POST EndPointLifeCycleChange {lifeCycle:"A"}`` (the documented travel flow,
    docs/sft-platform.md#endpointlifecyclechange). An endpoint that already reads ``Active`` is
    done. On an unknown outcome (timeout, 5xx, dropped connection: ``SFTOutcomeUnknown``) or a
    refusal, the endpoint is RE-READ (``GetEndPointProfile``,
    docs/sft-platform.md#getendpointprofile) before anything is re-sent; every retry also starts
    with that re-read.
``subscribe``
    ``POST SubscribeAddon`` (docs/sft-platform.md#subscribeaddon) is never re-sent blindly. Before
    the first send the step records, in ``ProvisioningStep.detail``, the *baseline*: the instances
    of this plan already on the endpoint that no other order owns. Every attempt first re-reads Get
    Endpoint Add-on Details (docs/sft-platform.md#get-endpoint-add-on-details); an instance of the
    plan that is neither in the baseline nor owned by another order is this order's (it was created
    by an earlier attempt whose answer was lost): its ``uniqueId`` is adopted instead of subscribing
    again. Stored in ``Order.addon_unique_id``.
``fetch_code`` (new eSIMs)
    ``GET fetchSIM?iccid=`` (docs/sft-platform.md#fetchsim) → ``ActivationCode.parse``
    (docs/esim.md#activation-code) → stored encrypted in ``Esim.activation_code_enc`` with the
    confirmation-code flag.
``deliver``
    Queues the installation email (``services.email.enqueue``) and marks the order
    ``delivered``, in the same transaction as the step's ``done``: exactly one email.

Each attempt marks the step ``running`` (``attempts`` + 1, ``started_at``, lease heartbeat)
and commits BEFORE any SFT call, then ``done`` (with ``detail`` and ``finished_at``) or
``failed`` (``error``). A result is committed together with its step's ``done``, so a crash at
any boundary leaves either "not done" (the step runs again, and its re-reads make that safe)
or "done" (skipped on the next run). To save commits, the first attempt's ``running`` shares
a transaction with what precedes it: the claim of the order (first step), or the previous
step's ``done``. A clean new-eSIM run therefore commits six times: claim + activate running;
activate done + subscribe running; the add-on baseline; subscribe done + fetch_code running;
fetch_code done + deliver running; deliver done + order delivered.
A failed attempt is retried in place (``max_attempts``, ``backoff`` seconds between attempts);
refusals that cannot improve (e.g. 9010 "15 add-ons") fail at once.

Automatic retries (docs/business-rules.md#provisioning-retries). When a step's last
attempt failed on a *transient* fault (:func:`is_transient`: HTTP 5xx, an HTML gateway page
or another malformed body, a timeout or lost connection, HTTP 429, a refused login, an
outcome still unknown after its re-read, an activation code not ready yet), the order goes
back to ``paid`` with its payment untouched and the retry schedule on the order row:
``retry_count``, ``first_failed_at`` and ``next_attempt_at`` (:func:`next_retry_at`: 1 min
after the first failure, doubling to at most 1 h apart, the last one at the end of the
window). The recovery job (``jobs.runs.run_recovery``, on the scheduler's leader) runs it again
when due; the traveler meanwhile reads "we are still setting up your eSIM". Only a
*definite* refusal (the platform said no: a business error code, an unknown ICCID, an
invalid activation code, a bug) or a transient fault still there at the end of the window
(``PROVISIONING_RETRY_HOURS``, 24 h) gives up: the order becomes ``needs_attention`` with
``last_error``, and its payment is voided through the provider (``flagged`` if voiding
fails) — never silently lost. An unknown outcome is never resent blindly by a retry either:
every step re-reads the platform first (above).

Every SFT call uses ``Priority.PROVISIONING``. Logs never carry matching IDs or codes.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from tenacity import RetryCallState, wait_exponential

from travelsim import db
from travelsim.esim import ActivationCode, InvalidActivationCode
from travelsim.keys import secret_box
from travelsim.models import Esim, Order, Payment, Plan, ProvisioningStep, User, utcnow
from travelsim.services import email, installation
from travelsim.services.payments import PaymentProvider, PaymentProviderError, get_provider
from travelsim.settings import get_settings
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTBusinessError, SFTError, SFTOutcomeUnknown
from travelsim.sft.models import AddonDetail, AddonStatus, Priority

__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_LEASE",
    "DEFAULT_MAX_ATTEMPTS",
    "RETRY_FIRST_DELAY",
    "RETRY_MAX_DELAY",
    "ProgressCallback",
    "install_page_url",
    "is_transient",
    "next_retry_at",
    "retry_delay",
    "run_order",
]

log = logging.getLogger(__name__)

#: ``async on_progress(step_name, status)``; see :func:`run_order`.
ProgressCallback = Callable[[str, str], Awaitable[None]]
SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]

DEFAULT_MAX_ATTEMPTS = 3
#: Seconds to wait before the 2nd, 3rd, ... attempt of a step (the last value repeats). The
#: pause also lets a platform that is still processing a timed-out POST finish before the
#: re-read (docs/sft-platform.md#timeouts-and-retries).
DEFAULT_BACKOFF: tuple[float, ...] = (2.0, 8.0)
#: A run holds an order for this long after its last heartbeat (each step commit); another run
#: may take over an order left ``provisioning`` longer than that (crashed process).
DEFAULT_LEASE = timedelta(minutes=10)
#: Automatic retries after a transient fault: the first waits this long...
RETRY_FIRST_DELAY = timedelta(minutes=1)
#: ... each next one twice as long as the previous, but never longer than this.
RETRY_MAX_DELAY = timedelta(hours=1)

PRIORITY = Priority.PROVISIONING
ACTIVE = "active"
_DETAIL_MAX = 500  # ProvisioningStep.detail column length


class _StepError(Exception):
    """A step attempt failed; ``retryable`` says whether another attempt can help (and so
    whether the failure is transient, see :func:`is_transient`)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class _Failure:
    """How a step ended when it did not get done: ``error`` for ``last_error``;
    ``transient``: a later run may succeed (schedule a retry) rather than a refusal."""

    error: str
    transient: bool


def is_transient(exc: BaseException) -> bool:
    """Whether a failed step may succeed if simply run again later
    (docs/business-rules.md#provisioning-retries).

    Transient: every :class:`SFTError` that is not a business refusal, i.e.
    ``SFTTransportError`` (timeouts, lost connections, HTTP 5xx on a read, gateway pages),
    ``SFTOutcomeUnknown`` (a write whose answer was lost; the next run re-reads first),
    ``SFTRateLimited`` (HTTP 429: never processed), ``SFTMalformedResponse`` (HTML error
    pages, truncated or malformed bodies) and ``SFTAuthError`` (a refused login is an
    account-wide problem that staff fix without touching the order); a step's own
    ``retryable`` errors too. Definite: ``SFTBusinessError`` (the platform answered "no"
    with an operation code), a step's non-retryable errors (unknown ICCID, invalid code) and
    any other exception (a bug: staff must look)."""
    if isinstance(exc, _StepError):
        return exc.retryable
    if isinstance(exc, SFTBusinessError):
        return False
    return isinstance(exc, SFTError)


_WAIT = wait_exponential(
    multiplier=RETRY_FIRST_DELAY.total_seconds(), max=RETRY_MAX_DELAY.total_seconds()
)


def retry_delay(retry_number: int) -> timedelta:
    """The pause before automatic retry ``retry_number`` (1 = the first retry):
    ``RETRY_FIRST_DELAY * 2 ** (retry_number - 1)``, at most ``RETRY_MAX_DELAY``, i.e.
    1, 2, 4, 8, 16, 32 min, then 1 h. Computed by tenacity's ``wait_exponential``.
    Raises ``ValueError`` for ``retry_number < 1``."""
    if retry_number < 1:
        raise ValueError("retry_number must be >= 1")
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = retry_number
    return timedelta(seconds=_WAIT(state))


def next_retry_at(
    *, first_failed_at: datetime, now: datetime, retry_number: int, window: timedelta
) -> datetime | None:
    """When automatic retry ``retry_number`` is due (UTC): ``now + retry_delay(...)``, but
    not after the end of the window (``first_failed_at + window``) so the last retry runs at
    its end (docs/business-rules.md#provisioning-retries). ``None`` when the window is over at
    ``now``: give up."""
    deadline = first_failed_at + window
    if now >= deadline:
        return None
    return min(now + retry_delay(retry_number), deadline)


@dataclass
class _Ctx:
    session: AsyncSession
    client: SFTClient
    order: Order
    esim: Esim
    public_url: str


def install_page_url(public_url: str, esim_id: int) -> str:
    """The authenticated install page of an eSIM: ``{public_url}/esims/{esim_id}/install``."""
    return f"{public_url.rstrip('/')}/esims/{esim_id}/install"


async def _progress(on_progress: ProgressCallback | None, name: str, status: str) -> None:
    if on_progress is None:
        return
    try:
        await on_progress(name, status)
    except Exception:  # a UI callback must never break provisioning
        log.exception("provisioning progress callback failed")


async def run_order(
    order_id: str,
    *,
    client: SFTClient,
    session_factory: SessionFactory = db.session,
    on_progress: ProgressCallback | None = None,
    provider: PaymentProvider | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff: Sequence[float] = DEFAULT_BACKOFF,
    lease: timedelta = DEFAULT_LEASE,
    public_url: str | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], datetime] = utcnow,
    retry_window: timedelta | None = None,
    force: bool = False,
) -> Order:
    """Run (or resume) the provisioning steps of ``order_id`` until ``delivered``,
    ``needs_attention``, or ``paid`` with an automatic retry scheduled (module docstring);
    returns the order as left in the database.

    Args:
        client: the SFT client (every call at ``Priority.PROVISIONING``).
        session_factory: async context manager yielding a session (``db.session``).
        on_progress: ``async (step_name, status)`` for live progress. ``step_name`` is a step
            (``activate``, ``subscribe``, ``fetch_code``, ``deliver``) with status
            ``running``, ``done``, ``retrying`` (attempt failed, will retry) or ``failed``; or
            ``"order"`` with ``provisioning``, ``delivered``, ``retry_scheduled`` or
            ``needs_attention``. Exceptions it raises are logged and ignored.
        provider: payment provider used to void the payment on failure (default: the one
            named in ``Payment.provider``).
        max_attempts: attempts per step in this run (>= 1).
        backoff: seconds before each retry (the last value repeats).
        lease: an order already ``provisioning`` is taken over only when its last heartbeat
            is older than this (a crashed run); otherwise this call returns at once.
        public_url: base URL for the email link (default ``settings.public_url``).
        clock: UTC "now" of the automatic-retry schedule (due check, ``first_failed_at``,
            ``next_attempt_at``, end of the window).
        retry_window: how long after the first transient failure retries go on (default
            ``PROVISIONING_RETRY_HOURS``).
        force: run even though the order's automatic retry is not due yet (staff "Retry
            provisioning"); otherwise such an order is returned unchanged without any call.

    Idempotent: a ``delivered`` or ``needs_attention`` order is returned unchanged without any
    SFT call; ``done`` steps are skipped. Raises ``LookupError`` for an unknown order id.
    Database errors propagate (the steps stay resumable).
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be >= 1")
    settings = get_settings()
    base_url = public_url if public_url is not None else settings.public_url
    window = (
        retry_window
        if retry_window is not None
        else timedelta(hours=settings.provisioning_retry_hours)
    )
    async with session_factory() as session:
        order = await _get(session, Order, order_id)
        if order is None:
            raise LookupError(f"unknown order {order_id}")
        if order.status in ("delivered", "needs_attention"):
            return order
        due_at = None if force else clock()
        if due_at is not None and order.next_attempt_at is not None:
            if order.next_attempt_at > due_at:
                log.info("automatic retry not due yet", extra={"order_id": order_id})
                return order
        run = await _claim(session, client, order, lease, due_at=due_at)
        if run is None:
            log.info("provisioning already running elsewhere", extra={"order_id": order_id})
            fresh = await _get(session, Order, order_id)
            assert fresh is not None
            return fresh
        await _progress(on_progress, "order", "provisioning")
        # Names only: a failed attempt rolls back, which expires every loaded row.
        pending = [step.name for step in run.steps.values() if step.status != "done"]
        if pending:  # marked ``running`` in the claim's transaction
            await _progress(on_progress, pending[0], "running")
        for i, name in enumerate(pending):
            error = await _run_step(
                run,
                name,
                next_name=pending[i + 1] if i + 1 < len(pending) else None,
                on_progress=on_progress,
                max_attempts=max_attempts,
                backoff=backoff,
                public_url=base_url,
                sleep=sleep,
            )
            if error is not None:
                if error.transient:
                    when = await _schedule_retry(
                        session, order_id, name, error.error, clock(), window, on_progress
                    )
                    if when is not None:
                        fresh = await _get(session, Order, order_id)
                        assert fresh is not None
                        return fresh
                    hours = f"{window.total_seconds() / 3600:g}"
                    message = f"{error.error} (still failing after {hours} h of automatic retries)"
                    return await _give_up(session, order_id, name, message, provider, on_progress)
                return await _give_up(session, order_id, name, error.error, provider, on_progress)
        order = run.order
        if order.status != "delivered":  # e.g. an order without a deliver step
            order.status = "delivered"
            order.delivered_at = order.delivered_at or utcnow()
            order.next_attempt_at = None
            session.add(order)
            await session.commit()
        await _progress(on_progress, "order", "delivered")
        log.info("order delivered", extra={"order_id": order_id})
        return order


async def _get(session: AsyncSession, model: Any, key: Any) -> Any:
    return await session.get(model, key, populate_existing=True)


@dataclass
class _Run:
    """The rows of one claimed run, kept loaded between steps (``expire_on_commit=False``):
    only this run writes them while it holds the lease. Reloaded after a rollback."""

    session: AsyncSession
    client: SFTClient
    order_id: str
    order: Order
    esim: Esim
    steps: dict[str, ProvisioningStep]  # by name, in ``seq`` order

    async def reload(self) -> None:
        """Re-read the order, its eSIM and its steps (after a rollback expired them)."""
        order = await _get(self.session, Order, self.order_id)
        assert order is not None
        esim = await _get(self.session, Esim, order.esim_id)
        assert esim is not None
        self.order, self.esim = order, esim
        self.steps = await _steps(self.session, self.order_id)


async def _steps(session: AsyncSession, order_id: str) -> dict[str, ProvisioningStep]:
    rows = await session.exec(
        select(ProvisioningStep)
        .where(col(ProvisioningStep.order_id) == order_id)
        .order_by(col(ProvisioningStep.seq))
        .execution_options(populate_existing=True)
    )
    return {step.name: step for step in rows.all()}


def _mark_running(
    session: AsyncSession, step: ProvisioningStep, order: Order, *, heartbeat: bool = True
) -> None:
    """Start an attempt of ``step`` (``attempts`` + 1) and, unless the same transaction
    already did (``heartbeat=False``), beat the order's lease; the caller commits."""
    now = utcnow()
    step.status = "running"
    step.attempts += 1
    step.started_at = now
    step.finished_at = None
    step.error = None
    session.add(step)
    if heartbeat:
        order.updated_at = now  # heartbeat of the lease
        session.add(order)


async def _claim(
    session: AsyncSession,
    client: SFTClient,
    order: Order,
    lease: timedelta,
    *,
    due_at: datetime | None = None,
) -> _Run | None:
    """Compare-and-set the order to ``provisioning`` for this run (heartbeat = updated_at)
    and, in the same transaction, mark its first step not yet done ``running``; commits.
    With ``due_at``, a ``paid`` order whose automatic retry is due later is not taken. The
    claim clears ``next_attempt_at`` (the retry is now running). Returns the loaded run, or
    ``None`` (nothing changed) when another run holds the lease or the retry is not due."""
    now = utcnow()
    paid = col(Order.status) == "paid"
    if due_at is not None:
        paid = paid & or_(
            col(Order.next_attempt_at).is_(None), col(Order.next_attempt_at) <= due_at
        )
    result: Any = await session.execute(
        update(Order)
        .where(
            col(Order.id) == order.id,
            or_(
                paid,
                (col(Order.status) == "provisioning") & (col(Order.updated_at) <= now - lease),
            ),
        )
        .values(
            status="provisioning",
            attempts=col(Order.attempts) + 1,
            updated_at=now,
            next_attempt_at=None,
        )
        .returning(col(Order.attempts))
        .execution_options(synchronize_session=False)
    )
    attempts = result.scalar_one_or_none()
    if attempts is None:
        await session.rollback()
        return None
    # The UPDATE bypassed the ORM: record its values on the loaded row as committed state.
    set_committed_value(order, "status", "provisioning")
    set_committed_value(order, "attempts", attempts)
    set_committed_value(order, "updated_at", now)
    set_committed_value(order, "next_attempt_at", None)
    esim = await _get(session, Esim, order.esim_id)
    assert esim is not None
    run = _Run(session, client, order.id, order, esim, await _steps(session, order.id))
    first = next((s for s in run.steps.values() if s.status != "done"), None)
    if first is not None:
        _mark_running(session, first, order, heartbeat=False)  # the claim set updated_at
    await session.commit()
    return run


async def _run_step(
    run: _Run,
    name: str,
    *,
    next_name: str | None,
    on_progress: ProgressCallback | None,
    max_attempts: int,
    backoff: Sequence[float],
    public_url: str,
    sleep: Callable[[float], Awaitable[Any]],
) -> _Failure | None:
    """Run one step, already marked ``running`` (committed), with bounded retries.

    On success the step's ``done`` (with its results) and the start of ``next_name``'s first
    attempt are ONE commit, so the boundaries are the same states as before, fewer of them.
    Returns ``None`` when done, else the last failure (error and :func:`is_transient`)."""
    session = run.session
    order_id = run.order_id
    handler = _HANDLERS.get(name)
    error = f"unknown step {name!r}"
    for attempt in range(max_attempts):
        if attempt > 0:
            _mark_running(session, run.steps[name], run.order)
            await session.commit()
            await _progress(on_progress, name, "running")
        step = run.steps[name]
        retryable = True
        transient = False
        try:
            if handler is None:
                raise _StepError(error, retryable=False)
            ctx = _Ctx(session, run.client, run.order, run.esim, public_url)
            detail = await handler(ctx, step)
        except _StepError as exc:
            error, retryable, transient = str(exc), exc.retryable, is_transient(exc)
        except SFTBusinessError as exc:
            error, retryable = f"{exc.operation} refused: code {exc.result_code}", False
        except SFTError as exc:
            error, transient = _describe(exc), is_transient(exc)
        except Exception as exc:
            log.exception("provisioning step %s crashed", name, extra={"order_id": order_id})
            error = f"{type(exc).__name__} in step {name}"
        else:
            step.status = "done"
            step.detail = detail[:_DETAIL_MAX]
            step.finished_at = utcnow()
            run.order.updated_at = step.finished_at
            session.add_all([step, run.order])
            if next_name is not None:
                _mark_running(session, run.steps[next_name], run.order, heartbeat=False)
            await session.commit()
            await _progress(on_progress, name, "done")
            if next_name is not None:
                await _progress(on_progress, next_name, "running")
            return None
        # The attempt failed: drop its uncommitted changes, record the failure.
        await session.rollback()
        await run.reload()
        step = run.steps[name]
        step.status = "failed"
        step.error = error[:500]
        step.finished_at = utcnow()
        session.add(step)
        await session.commit()
        last = attempt == max_attempts - 1 or not retryable
        log.warning(
            "provisioning step failed",
            extra={"order_id": order_id, "step": name, "attempt": step.attempts, "final": last},
        )
        await _progress(on_progress, name, "failed" if last else "retrying")
        if last:
            return _Failure(error, transient)
        if backoff:
            await sleep(backoff[min(attempt, len(backoff) - 1)])
    return _Failure(error, False)


def _describe(exc: SFTError) -> str:
    """``last_error`` text of an SFT failure: class, operation and HTTP status (never a
    response body, token or matching ID)."""
    status = f" (HTTP {exc.http_status})" if exc.http_status is not None else ""
    return f"{type(exc).__name__}: {exc.operation}{status}"


async def _schedule_retry(
    session: AsyncSession,
    order_id: str,
    step_name: str,
    error: str,
    now: datetime,
    window: timedelta,
    on_progress: ProgressCallback | None,
) -> datetime | None:
    """Put the order back to ``paid`` with its next automatic retry (:func:`next_retry_at`)
    recorded on the row; commits and returns when it is due (UTC). Returns ``None`` without
    changing anything when the retry window is over (the caller gives up)."""
    order = await _get(session, Order, order_id)
    assert order is not None
    first = order.first_failed_at or now
    when = next_retry_at(
        first_failed_at=first, now=now, retry_number=order.retry_count + 1, window=window
    )
    if when is None:
        return None
    order.status = "paid"
    order.retry_count += 1
    order.first_failed_at = first
    order.next_attempt_at = when
    order.last_error = f"{step_name}: {error}"[:500]
    order.updated_at = utcnow()
    session.add(order)
    await session.commit()
    log.warning(
        "transient provisioning failure; automatic retry scheduled",
        extra={"order_id": order_id, "step": step_name, "retry": order.retry_count},
    )
    await _progress(on_progress, "order", "retry_scheduled")
    return when


async def _give_up(
    session: AsyncSession,
    order_id: str,
    step_name: str,
    error: str,
    provider: PaymentProvider | None,
    on_progress: ProgressCallback | None,
) -> Order:
    """Mark the order ``needs_attention`` and void its payment (``flagged`` if that fails)."""
    order = await _get(session, Order, order_id)
    payment = await _get(session, Payment, order.payment_id)
    assert order is not None and payment is not None
    order.status = "needs_attention"
    order.last_error = f"{step_name}: {error}"[:500]
    order.next_attempt_at = None
    order.updated_at = utcnow()
    if payment.status == "succeeded":
        try:
            prov = provider or get_provider(payment.provider)
            if not payment.provider_ref:
                raise PaymentProviderError("no_ref", "payment has no provider reference")
            await prov.void(payment.provider_ref)
            payment.status = "voided"
        except (PaymentProviderError, KeyError) as exc:
            payment.status = "flagged"
            payment.failure_reason = f"void failed: {getattr(exc, 'code', type(exc).__name__)}"
        payment.updated_at = utcnow()
    session.add_all([order, payment])
    await session.commit()
    log.error(
        "order needs attention",
        extra={"order_id": order_id, "step": step_name, "payment_status": payment.status},
    )
    await _progress(on_progress, "order", "needs_attention")
    return order


# --- steps -----------------------------------------------------------------------------------
async def _endpoint_status(ctx: _Ctx) -> str:
    """Re-read the endpoint's lifecycle status (GetEndPointProfile,
    docs/sft-platform.md#getendpointprofile)."""
    profile = await ctx.client.endpoint_profile(ctx.esim.endpoint_id, priority=PRIORITY)
    status = profile.status or ""
    ctx.esim.endpoint_status = status or ctx.esim.endpoint_status
    ctx.esim.updated_at = utcnow()
    ctx.session.add(ctx.esim)
    return status


async def _step_activate(ctx: _Ctx, step: ProvisioningStep) -> str:
    """Pre-Active/Suspended → Active with EndPointLifeCycleChange "A"
    (docs/sft-platform.md#endpointlifecyclechange)."""
    endpoint_id = ctx.esim.endpoint_id
    if step.attempts > 1 or ctx.order.kind != "new_esim":
        status = await _endpoint_status(ctx)
        if status.lower() == ACTIVE:
            return "endpoint already Active (re-read)"
    try:
        result = await ctx.client.change_lifecycle(endpoint_id, "A", priority=PRIORITY)
    except SFTOutcomeUnknown as exc:
        status = await _endpoint_status(ctx)
        if status.lower() == ACTIVE:
            return "endpoint Active (verified by re-read after an unknown outcome)"
        raise _StepError(
            f"activation outcome unknown ({type(exc).__name__}); endpoint reads {status or '?'}",
            retryable=True,
        ) from None
    except SFTBusinessError as exc:
        status = await _endpoint_status(ctx)
        if status.lower() == ACTIVE:
            return f"endpoint already Active (code {exc.result_code})"
        raise _StepError(
            f"activation refused: code {exc.result_code}, endpoint reads {status or '?'}",
            retryable=False,
        ) from None
    ctx.esim.endpoint_status = result.current_status or "Active"
    ctx.esim.updated_at = utcnow()
    ctx.session.add(ctx.esim)
    return f"endpoint activated (code {result.result_code or '0'})"


def _uid_key(uid: str) -> tuple[int, str]:
    return (len(uid), uid)


async def _claimed_elsewhere(ctx: _Ctx) -> set[str]:
    rows = await ctx.session.exec(
        select(Order.addon_unique_id).where(
            col(Order.esim_id) == ctx.esim.id,
            col(Order.id) != ctx.order.id,
            col(Order.addon_unique_id).is_not(None),
        )
    )
    return {uid for uid in rows.all() if uid}


def _ours(
    rows: list[AddonDetail], plan_id: str, baseline: set[str], claimed: set[str]
) -> list[AddonDetail]:
    """Instances of ``plan_id`` that appeared after the baseline and no other order owns."""
    found = [
        r
        for r in rows
        if r.plan_id == plan_id
        and r.unique_id not in baseline
        and r.unique_id not in claimed
        and r.status != AddonStatus.DEACTIVATED
    ]
    return sorted(found, key=lambda r: _uid_key(r.unique_id))


async def _step_subscribe(ctx: _Ctx, step: ProvisioningStep) -> str:
    """SubscribeAddon once, adopting an instance a lost answer already created
    (docs/business-rules.md#provisioning-steps)."""
    order, endpoint_id = ctx.order, ctx.esim.endpoint_id
    if order.addon_unique_id:
        return f"add-on uniqueId {order.addon_unique_id} already stored"
    rows = await ctx.client.addon_details(endpoint_id=endpoint_id, priority=PRIORITY)
    claimed = await _claimed_elsewhere(ctx)
    state: dict[str, Any] = {}
    if step.detail:
        try:
            loaded = json.loads(step.detail)
            state = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            state = {}
    if "baseline" not in state:
        state["baseline"] = sorted(
            (
                r.unique_id
                for r in rows
                if r.plan_id == order.plan_id and r.unique_id not in claimed
            ),
            key=_uid_key,
        )
        encoded = json.dumps(state, separators=(",", ":"))
        if len(encoded) > _DETAIL_MAX:  # cannot persist it: never subscribe without one
            raise _StepError(
                f"{len(state['baseline'])} unowned instances of the plan on the endpoint; "
                "staff must check before subscribing",
                retryable=False,
            )
        step.detail = encoded
        ctx.session.add(step)
        await ctx.session.commit()  # the baseline must be durable BEFORE the first send
    baseline = set(state["baseline"])
    found = _ours(rows, order.plan_id, baseline, claimed)
    if found:
        return _adopt(ctx, found, "found on the endpoint before sending")
    try:
        result = await ctx.client.subscribe_addon(endpoint_id, order.plan_id, priority=PRIORITY)
    except SFTOutcomeUnknown as exc:
        rows = await ctx.client.addon_details(endpoint_id=endpoint_id, priority=PRIORITY)
        found = _ours(rows, order.plan_id, baseline, claimed)
        if found:
            return _adopt(ctx, found, "adopted after an unknown outcome")
        raise _StepError(
            f"SubscribeAddon outcome unknown ({type(exc).__name__}); no new instance yet",
            retryable=True,
        ) from None
    order.addon_unique_id = result.unique_id
    order.updated_at = utcnow()
    ctx.session.add(order)
    return f"add-on subscribed, uniqueId {result.unique_id}"


def _adopt(ctx: _Ctx, found: list[AddonDetail], how: str) -> str:
    if len(found) > 1:
        log.warning(
            "several unowned add-on instances; adopting the oldest",
            extra={"order_id": ctx.order.id, "candidates": [r.unique_id for r in found]},
        )
    uid = found[0].unique_id
    ctx.order.addon_unique_id = uid
    ctx.order.updated_at = utcnow()
    ctx.session.add(ctx.order)
    return f"add-on uniqueId {uid} {how}"


async def _step_fetch_code(ctx: _Ctx, step: ProvisioningStep) -> str:
    """fetchSIM by ICCID → activation code, validated and stored encrypted
    (docs/sft-platform.md#fetchsim)."""
    esim = ctx.esim
    sim = await ctx.client.find_sim(esim.iccid, priority=PRIORITY)
    if sim is None:
        raise _StepError("ICCID not found on the platform", retryable=False)
    if sim.endpoint_id and sim.endpoint_id != esim.endpoint_id:
        raise _StepError("the SIM is linked to another endpoint", retryable=False)
    text = sim.activation_code
    if not text and sim.smdp_address and sim.matching_id:
        text = f"LPA:1${sim.smdp_address}${sim.matching_id}"
    if not text:
        raise _StepError("the platform returned no activation code yet", retryable=True)
    try:
        code = ActivationCode.parse(text)
    except InvalidActivationCode as exc:  # messages never contain the matching ID
        raise _StepError(
            f"invalid activation code from the platform: {exc}", retryable=False
        ) from None
    esim.activation_code_enc = secret_box().encrypt(code.to_string(with_prefix=True))
    esim.confirmation_code_required = code.confirmation_code_required
    if sim.esim_profile_status:
        esim.profile_status = sim.esim_profile_status
    if sim.sim_status:
        esim.endpoint_status = sim.sim_status
    esim.updated_at = utcnow()
    ctx.session.add(esim)
    flag = ", confirmation code required" if code.confirmation_code_required else ""
    return f"activation code stored encrypted (SM-DP+ {code.smdp_address}{flag})"


async def _step_deliver(ctx: _Ctx, step: ProvisioningStep) -> str:
    """Queue the email and mark the order delivered (committed with the step's ``done``)."""
    order = ctx.order
    user = await ctx.session.get(User, order.user_id) if order.user_id is not None else None
    plan = await ctx.session.get(Plan, order.plan_id)
    title = (plan.display_name or plan.sft_name) if plan else order.plan_id
    detail = "no recipient"
    if user is not None:
        if order.kind == "new_esim":
            message = _installation_email(ctx, title)
        else:
            message = _topup_email(ctx, title)
        try:
            await email.enqueue(ctx.session, to=user.email, user_id=user.id, **message)
            detail = f"{message['kind']} email queued"
        except ValueError as exc:  # bad address: the account page still has everything
            log.warning("delivery email not queued: %s", exc, extra={"order_id": order.id})
            detail = "email not queued (invalid address); install page available"
    now = utcnow()
    order.status = "delivered"
    order.delivered_at = now
    order.last_error = None
    order.next_attempt_at = None
    order.updated_at = now
    ctx.session.add(order)
    return detail


async def give_up_order(
    session: AsyncSession,
    order_id: str,
    *,
    step_name: str,
    error: str,
    provider: PaymentProvider | None = None,
) -> Order:
    """Escalate ``order_id`` to ``needs_attention`` with ``error`` recorded against
    ``step_name`` and its payment voided (``flagged`` if voiding fails); commits. For
    callers outside a provisioning run (recovery after too many runs)."""
    return await _give_up(session, order_id, step_name, error, provider, None)


def installation_email(order: Order, esim: Esim, *, title: str, public_url: str) -> dict[str, Any]:
    """The installation email of ``esim`` for ``order`` as :func:`email.enqueue` keyword
    arguments (subject, text, html, kind, attachments); see :func:`_installation_email` for
    what it contains and why. Raises ``_StepError`` when no activation code is stored."""
    ctx = _Ctx(cast(AsyncSession, None), cast(SFTClient, None), order, esim, public_url)
    return _installation_email(ctx, title)


def _installation_email(ctx: _Ctx, title: str) -> dict[str, Any]:
    """The installation email of a new eSIM.

    Content choice (docs/esim.md#secrets, docs/esim.md#qr-code,
    docs/esim.md#f3-confirmation-code-missed): the owner's inbox gets the QR code (inline PNG, a
    deferred ``esim-qr`` attachment rendered at sending time; it is the owner's own eSIM), the
    SM-DP+ address and a link to the authenticated install page. It does NOT contain the matching ID
    as text, nor the one-tap links (their URLs carry the full code and get logged by mail link
    scanners and proxies): manual entry and one-tap install live on the install page, behind
    sign-in.
    """
    order, esim = ctx.order, ctx.esim
    assert esim.id is not None
    if not esim.activation_code_enc:
        raise _StepError("no activation code stored", retryable=False)
    code = ActivationCode.parse(secret_box().decrypt(esim.activation_code_enc))
    link = install_page_url(ctx.public_url, esim.id)
    contact = installation.support_contact()
    confirm_text = (
        f"\n{installation.confirmation_code_text(contact)}\n"
        if code.confirmation_code_required
        else ""
    )
    text = (
        f"Hello,\n\n"
        f"Your eSIM for {title} is ready (order {order.reference}).\n\n"
        f"Install it from your account (one-tap install on iPhone and Android, QR code and "
        f"manual entry):\n{link}\n\n"
        f"The QR code is attached. Scan it from another screen in your phone's settings "
        f"(iPhone: Settings > Mobile Service > Add eSIM; Android: Settings > Network > SIMs > "
        f"Add eSIM).\n\n"
        f"SM-DP+ address: {code.smdp_address}\n"
        f"The activation code for manual entry is shown only on your install page.\n"
        f"{confirm_text}\n"
        f"Install the eSIM once and do not delete it: the QR code usually works only once.\n\n"
        f"TravelSIM\n"
    )
    e = html.escape
    confirm_html = installation.confirmation_code_html(contact) if confirm_text else ""
    body_html = (
        f"<p>Hello,</p>"
        f"<p>Your eSIM for <strong>{e(title)}</strong> is ready "
        f"(order {e(order.reference)}).</p>"
        f'<p><a href="{e(link)}">Install it from your account</a>: one-tap install on iPhone '
        f"and Android, QR code and manual entry.</p>"
        f'<p><img src="cid:esim-qr" alt="eSIM QR code" width="280" height="280"></p>'
        f"<p>SM-DP+ address: <code>{e(code.smdp_address)}</code><br>"
        f"The activation code for manual entry is shown only on your install page.</p>"
        f"{confirm_html}"
        f"<p>Install the eSIM once and do not delete it: the QR code usually works only "
        f"once.</p><p>TravelSIM</p>"
    )
    # The PNG is rendered when the email is built (email.resolve_attachments), from the
    # encrypted code: the outbox never holds the code in clear, and the purchase does not
    # wait for the QR (the install page renders it on request too).
    qr = {
        "filename": "esim-qr.png",
        "content_type": "image/png",
        "content_id": "esim-qr",
        "render": f"esim-qr:{esim.id}",
    }
    return {
        "subject": f"Your eSIM is ready: order {order.reference}",
        "text": text,
        "html": body_html,
        "kind": "installation",
        "attachments": [qr],
    }


def _topup_email(ctx: _Ctx, title: str) -> dict[str, Any]:
    """The confirmation of a top-up (no code, no QR: the eSIM is already installed)."""
    order, esim = ctx.order, ctx.esim
    assert esim.id is not None
    link = install_page_url(ctx.public_url, esim.id)
    text = (
        f"Hello,\n\n{title} was added to your eSIM (order {order.reference}).\n"
        f"Balance and validity: {link}\n\n"
        f"If data does not resume within a few minutes, switch airplane mode on and off.\n\n"
        f"TravelSIM\n"
    )
    e = html.escape
    body_html = (
        f"<p>Hello,</p><p><strong>{e(title)}</strong> was added to your eSIM "
        f"(order {e(order.reference)}).</p>"
        f'<p><a href="{e(link)}">See balance and validity</a>.</p>'
        f"<p>If data does not resume within a few minutes, switch airplane mode on and off.</p>"
        f"<p>TravelSIM</p>"
    )
    return {
        "subject": f"Add-on added: order {order.reference}",
        "text": text,
        "html": body_html,
        "kind": "topup",
        "attachments": None,
    }


_HANDLERS: dict[str, Callable[[_Ctx, ProvisioningStep], Awaitable[str]]] = {
    "activate": _step_activate,
    "subscribe": _step_subscribe,
    "fetch_code": _step_fetch_code,
    "deliver": _step_deliver,
}

"""Staff administration: figures, paged lists and audited actions. No Reflex.

Who may call what
=================
The admin pages' handlers resolve the staff member from the session cookie with
:func:`staff_user` (``security.require_staff``: staff role, live session, second factor
passed) and pass a :class:`Staff` to the actions here. Every action re-reads the role from the
database before doing anything (a role revoked mid-session stops at once) and writes exactly
one :class:`~travelsim.models.AuditLog` row (who, when, action, target, ``ok`` / ``refused`` /
``failed``, detail). The audit log is append-only: nothing here updates or deletes it, and the
database refuses it (migration 0006 triggers).

Lists
=====
Every list pages on the server: one ``COUNT(*)`` over the filtered query and one
``LIMIT``/``OFFSET`` page of it, sorted by a whitelisted column (:class:`PageResult`). Rows are
dicts of display strings (plus raw ids), ready for a table.

Rules decided here
==================
Refund (docs/business-rules.md#voids-and-refunds; :func:`refund_rule`)
    Before delivery (order ``paid``/``needs_attention``, or ``provisioning`` whose run is dead)
    the payment is **voided** (no service was given) and the order is left ``needs_attention``
    with "payment voided by staff", so recovery never provisions it. After delivery the payment
    is **refunded** only when the traveler cannot have had anything from it: the order's add-on
    has no data used (usage known, 0 bytes) and, for a new eSIM, its profile was never
    downloaded or installed (``released`` = ready, or ``error`` = the download failed, F2).
    ``downloaded`` / ``installed`` / ``enabled`` / ``disabled`` / ``deleted`` mean the single-use
    code was consumed (F1), and unknown usage or install status cannot prove anything: all are
    refused with the reason. Staff may force a refused refund by giving a reason (at least
    :data:`FORCE_REASON_MIN` characters), recorded in the audit log. The figures are refreshed
    from SFT first. A refunded order's service is withdrawn: its add-on instance is removed
    from the endpoint (``PATCH endpoint removeAddonUniqueIds``, re-read before and after) and,
    for a new eSIM, the endpoint is suspended as a staff suspension (reason "3" CSR).
Replacement (docs/business-rules.md#replacement; :func:`replace_esim`)
    The remaining volume of an add-on cannot be subscribed on SFT (plans have fixed volumes),
    so the new eSIM gets **the same plan for every add-on still live** on the old one
    (``waiting``, or ``active`` with data left), each with its full volume and validity: the
    traveler gets at least what remained. Zero-amount staff orders provision them through the
    normal resumable steps (the first a ``new_esim`` order: activation, add-on, code, email),
    the old endpoint is then suspended (reason "3") and the traveler's open replacement
    requests are closed. One replacement per old eSIM (unique row). Nothing live → refused.
Goodwill add-on (:func:`goodwill_addon`)
    A zero-amount staff ``topup`` order run by ``provisioning.run_order``, so SubscribeAddon
    gets the same re-read-before-resend care as a purchase. Idempotent per ``request_id``
    (the staff form's key). Refused on a Suspended endpoint (resume first: the top-up's
    activation step would otherwise resume a staff suspension) or at 15 live add-ons.
Retry provisioning (docs/business-rules.md#provisioning-retries)
    A ``needs_attention`` order gets its unfinished steps back to ``pending`` and runs again
    (done steps are skipped; their re-reads keep it safe). A voided payment stays voided: the
    delivery is then at the seller's expense, which the result says. An order waiting for its
    automatic retry (a transient platform fault, ``Order.next_attempt_at``) is run at once.
Actions offered
    Each action is offered only when it applies (``order_detail`` ``can_*`` flags and
    ``payment_action``: ``void`` before delivery while the payment is ``succeeded`` or
    ``flagged``, ``refund`` after delivery while it is ``succeeded``, else nothing), and the
    service refuses it otherwise (e.g. a second void: "the payment is already voided").
Lists
    Counts are words with their number (:func:`count_of`: "1 row", "2 rows"). Times are UTC,
    labelled "UTC"; date filters are UTC days written ``YYYY-MM-DD`` (:func:`parse_filter_day`),
    never a locale format such as mm/dd/yyyy.
Staff orders
    Goodwill and replacement orders carry a ``Checkout``/``Payment`` of amount 0 with payment
    provider ``staff`` and status ``waived`` (never voided, never counted as revenue).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import func, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.formatting import (
    decimal_to_minor,
    format_bytes,
    format_money,
    minor_to_decimal,
)
from travelsim.models import (
    AccountDeletion,
    AuditLog,
    CallbackEvent,
    Checkout,
    Esim,
    EsimAddon,
    EsimReplacement,
    EsimSync,
    JobRun,
    Order,
    OutboxEmail,
    Payment,
    Plan,
    ProvisioningStep,
    ReplacementRequest,
    User,
    utcnow,
)
from travelsim.services import countries, email, inventory, live, provisioning, usage
from travelsim.services.accounts import AccountError, normalise_email
from travelsim.services.checkout import NEW_ESIM_STEPS, TOPUP_STEPS, new_reference
from travelsim.services.payments import PaymentProvider, PaymentProviderError, get_provider
from travelsim.services.topup import (
    LIVE_ADDON_LIMIT,
    LIVE_STATUSES,
    draw_key,
    effective_status,
    endpoint_state,
    live_count,
)
from travelsim.settings import Settings, get_settings
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTBusinessError, SFTError, SFTOutcomeUnknown
from travelsim.sft.models import AddonStatus, Priority

__all__ = [
    "FAULT_KINDS",
    "FORCE_REASON_MIN",
    "PROFILE_STATUSES",
    "ActionResult",
    "Overview",
    "PageResult",
    "RefundDecision",
    "Staff",
    "check_sft",
    "esim_detail",
    "goodwill_addon",
    "list_audit",
    "list_esims",
    "list_orders",
    "list_outbox",
    "list_plans",
    "list_travelers",
    "order_detail",
    "overview",
    "refresh_esim",
    "refund_order",
    "refund_rule",
    "replace_esim",
    "resend_installation_email",
    "retry_provisioning",
    "set_staff",
    "set_suspended",
    "sim_advance_clock",
    "sim_clear_faults",
    "sim_consume",
    "sim_fault",
    "sim_profile_status",
    "sim_state",
    "staff_user",
    "traveler_detail",
    "update_plan",
]

log = logging.getLogger(__name__)

#: A forced refund needs a reason at least this long.
FORCE_REASON_MIN = 5
#: Page sizes accepted by the lists.
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
#: Profile statuses the simulator accepts (the data stream values of
#: docs/esim.md#profile-states, plus "released").
PROFILE_STATUSES = (
    "released",
    "downloaded",
    "installed",
    "enabled",
    "disabled",
    "deleted",
    "error",
)
#: Fault kinds of the simulator (docs/simulator.md#controls-_sim-no-auth-no-rate-limit).
FAULT_KINDS = (
    "latency",
    "http500",
    "timeout_after_commit",
    "429_burst",
    "malformed",
    "html",
    "token_expiry",
)
#: Lifecycle reason of a staff suspension ("3" CSR: docs/business-rules.md#staff-suspension).
STAFF_REASON = "3"
#: Payment provider / status of zero-amount staff orders (goodwill, replacement).
STAFF_PROVIDER = "staff"
STAFF_PAYMENT_STATUS = "waived"
PRIORITY = Priority.REFRESH
_SIM_BASE_URL = "http://sft-simulator.internal"
_MB = 1_048_576

RunOptions = dict[str, Any]


# ============================================================================ who
@dataclass(frozen=True)
class Staff:
    """The staff member acting (resolved from the session by :func:`staff_user`)."""

    user_id: int
    email: str


async def staff_user(session_token: str | None) -> Staff | None:
    """The staff member behind a session cookie value, or ``None``: not signed in, not
    staff, session dead, or the second factor not passed in this session
    (``security.require_staff``). Never raises for those cases."""
    from travelsim.services import accounts, security

    user = await accounts.user_for_token(session_token)
    try:
        checked = await security.require_staff(user, session_token)
    except AccountError:
        return None
    assert checked.id is not None
    return Staff(checked.id, checked.email)


async def _still_staff(staff: Staff) -> bool:
    async with db.session() as s:
        user = await s.get(User, staff.user_id)
        return bool(user is not None and user.is_staff)


# ============================================================================ audit
@dataclass(frozen=True)
class ActionResult:
    """Outcome of a staff action: ``result`` ``ok`` / ``refused`` / ``failed`` (as in the
    audit log), a ``message`` for the staff member, and ``data`` (e.g. new ids)."""

    result: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the action was carried out."""
        return self.result == "ok"


class Refused(Exception):
    """A rule refused the action; the message says which (shown to staff, audited)."""


async def write_audit(
    *,
    actor: Staff | None,
    actor_label: str | None = None,
    action: str,
    target_type: str,
    target_id: str,
    result: str,
    detail: str,
) -> AuditLog:
    """Append one audit row in its own transaction (committed). ``actor`` ``None`` means the
    command line or the seed (``actor_label``)."""
    row = AuditLog(
        at=utcnow(),
        actor_user_id=actor.user_id if actor else None,
        actor=(actor.email if actor else (actor_label or "system"))[:254],
        action=action[:40],
        target_type=target_type[:20],
        target_id=str(target_id)[:64],
        result=result,
        detail=detail[:1000],
    )
    async with db.session() as s:
        s.add(row)
        await s.commit()
        await s.refresh(row)
    log.info(
        "staff action",
        extra={"action": row.action, "target": row.target_id, "result": row.result},
    )
    return row


async def _act(
    staff: Staff | None,
    action: str,
    target_type: str,
    target_id: str,
    body: Callable[[], Awaitable[str | tuple[str, dict[str, Any]]]],
    *,
    actor_label: str | None = None,
) -> ActionResult:
    """Run ``body`` as one audited action (see the module docstring)."""
    if staff is not None and not await _still_staff(staff):
        outcome = ActionResult("refused", "Your staff role was revoked.")
    else:
        try:
            value = await body()
            message, data = value if isinstance(value, tuple) else (value, {})
            outcome = ActionResult("ok", message, data)
        except Refused as exc:
            outcome = ActionResult("refused", str(exc))
        except SFTError as exc:
            outcome = ActionResult("failed", f"platform error: {type(exc).__name__} {exc}"[:500])
        except PaymentProviderError as exc:
            outcome = ActionResult("failed", f"payment provider error: {exc.code}")
        except Exception as exc:
            log.exception("staff action %s failed", action)
            outcome = ActionResult("failed", f"unexpected error ({type(exc).__name__})")
    await write_audit(
        actor=staff,
        actor_label=actor_label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        result=outcome.result,
        detail=outcome.message,
    )
    return outcome


# ============================================================================ paging
def count_of(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` and the noun in the right number: ``count_of(1, "row")`` → ``"1 row"``,
    ``count_of(2, "row")`` → ``"2 rows"`` (``plural`` defaults to ``singular + "s"``)."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def parse_filter_day(text: str | None) -> date | None:
    """A date filter: a UTC day written ``YYYY-MM-DD`` (ISO 8601), or ``None`` when empty.
    Raises ``ValueError`` (message naming the expected format) for anything else, e.g. the
    ambiguous ``03/01/2026``."""
    value = (text or "").strip()
    if not value:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"{value[:20]!r} is not a date: write it as YYYY-MM-DD (UTC)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid date: write it as YYYY-MM-DD (UTC)") from None


def mail_delivery_hint(settings: Settings) -> str | None:
    """What the outbox page says when no mail server is configured (``SMTP_HOST`` unset):
    where the emails go and how to send them; ``None`` when SMTP is configured."""
    if settings.smtp_host:
        return None
    where = (
        "They can be read in the demo mailbox at /demo/mailbox."
        if settings.app_env == "demo"
        else "Nobody receives them."
    )
    return (
        "SMTP is not configured (SMTP_HOST is not set): emails stay here, queued, "
        f"and are never sent. {where} To send them, set SMTP_HOST (and SMTP_PORT, "
        "SMTP_USERNAME, SMTP_PASSWORD, SMTP_STARTTLS as your server needs) in the "
        "environment or .env and restart; queued emails then go out."
    )


@dataclass(frozen=True)
class PageResult:
    """One page of a list: ``rows`` (display dicts), ``total`` rows matching the filters,
    1-based ``page`` and ``per_page``."""

    rows: list[dict[str, str]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def count_label(self) -> str:
        """``total`` in words: ``"1 row"``, ``"2 rows"``."""
        return count_of(self.total, "row")


def clamp_page(page: int, per_page: int) -> tuple[int, int]:
    """``page`` ≥ 1 and ``per_page`` within 1..:data:`MAX_PER_PAGE`."""
    return max(1, int(page)), min(MAX_PER_PAGE, max(1, int(per_page)))


async def _paged(
    session: AsyncSession,
    query: Any,
    order_by: list[Any],
    page: int,
    per_page: int,
) -> tuple[list[Any], int, int, int]:
    """Count the filtered ``query`` and fetch one page of it (LIMIT/OFFSET)."""
    page, per_page = clamp_page(page, per_page)
    total = int(
        (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    )
    rows = (
        await session.execute(
            query.order_by(*order_by).limit(per_page).offset((page - 1) * per_page)
        )
    ).all()
    return list(rows), total, page, per_page


def _sort(columns: dict[str, Any], sort: str, desc: bool, default: str, tiebreak: Any) -> list[Any]:
    column = columns.get(sort, columns[default])
    return [column.desc() if desc else column.asc(), tiebreak.desc() if desc else tiebreak.asc()]


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _like(text: str) -> str:
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _money(amount_minor: int | None, currency: str | None) -> str:
    if amount_minor is None or not currency:
        return ""
    try:
        return format_money(amount_minor, currency)
    except Exception:  # an unknown currency code must not break a list
        return f"{amount_minor} {currency}"


# ============================================================================ orders
ORDER_STATUSES = ("paid", "provisioning", "delivered", "needs_attention")
_ORDER_SORTS: dict[str, Any] = {
    "created_at": col(Order.created_at),
    "status": col(Order.status),
    "amount": col(Order.amount_minor),
    "reference": col(Order.reference),
    "traveler": col(User.email),
}


async def list_orders(
    session: AsyncSession,
    *,
    status: str | None = None,
    traveler: str | None = None,
    iccid: str | None = None,
    reference: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    sort: str = "created_at",
    desc: bool = True,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> PageResult:
    """Orders filtered by ``status``, traveler email (substring), ICCID (substring),
    reference (substring) and creation date (UTC days ``date_from``..``date_to`` inclusive),
    sorted by ``created_at`` / ``status`` / ``amount`` / ``reference`` / ``traveler``."""
    query: Any = (
        sa_select(
            Order,
            col(User.email),
            col(Esim.iccid),
            col(Plan.display_name),
            col(Plan.sft_name),
            col(Payment.status),
        )
        .join(Esim, col(Esim.id) == col(Order.esim_id))
        .join(Payment, col(Payment.id) == col(Order.payment_id))
        .outerjoin(User, col(User.id) == col(Order.user_id))
        .outerjoin(Plan, col(Plan.plan_id) == col(Order.plan_id))
    )
    if status:
        query = query.where(col(Order.status) == status)
    if traveler:
        query = query.where(func.lower(col(User.email)).like(_like(traveler), escape="\\"))
    if iccid:
        query = query.where(col(Esim.iccid).like(_like(iccid), escape="\\"))
    if reference:
        query = query.where(func.lower(col(Order.reference)).like(_like(reference), escape="\\"))
    if date_from:
        query = query.where(col(Order.created_at) >= datetime.combine(date_from, time(), UTC))
    if date_to:
        end = datetime.combine(date_to, time(), UTC) + timedelta(days=1)
        query = query.where(col(Order.created_at) < end)
    rows, total, page, per_page = await _paged(
        session,
        query,
        _sort(_ORDER_SORTS, sort, desc, "created_at", col(Order.id)),
        page,
        per_page,
    )
    out = []
    for order, user_email, esim_iccid, display, sft_name, pay_status in rows:
        out.append(
            {
                "order_id": order.id,
                "reference": order.reference,
                "created": _when(order.created_at),
                "traveler": user_email or "(deleted)",
                "iccid": esim_iccid,
                "esim_id": str(order.esim_id),
                "plan": display or sft_name or order.plan_id,
                "kind": order.kind,
                "amount": _money(order.amount_minor, order.currency),
                "status": order.status,
                "payment": pay_status,
                "error": order.last_error or "",
            }
        )
    return PageResult(out, total, page, per_page)


@dataclass(frozen=True)
class RefundDecision:
    """Whether a delivered order's payment may be refunded without forcing, and why."""

    allowed: bool
    reason: str


def refund_rule(*, kind: str, profile_status: str | None, used_bytes: int | None) -> RefundDecision:
    """The refund rule of the module docstring (docs/business-rules.md#voids-and-refunds).

    ``kind``: ``new_esim`` or ``topup``; ``profile_status``: the eSIM profile status last
    read from SFT; ``used_bytes``: data used on the order's add-on (``None`` = unknown).
    """
    if used_bytes is None:
        return RefundDecision(False, "data use of the add-on is unknown (refresh from SFT)")
    if used_bytes > 0:
        return RefundDecision(False, f"{format_bytes(used_bytes)} of data already used")
    if kind == "new_esim":
        install = usage.install_state(profile_status)
        if install in ("downloaded", "installed", "deleted"):
            return RefundDecision(
                False,
                f"the eSIM profile was {profile_status} (F1: its code is used up)",
            )
        if install == "unknown":
            return RefundDecision(False, "the eSIM's install status is unknown")
        if install == "error":
            return RefundDecision(True, "download failed (F2) and no data used")
        return RefundDecision(True, "never downloaded and no data used")
    return RefundDecision(True, "no data used on this add-on")


async def _order_addon(session: AsyncSession, order: Order) -> EsimAddon | None:
    if not order.addon_unique_id:
        return None
    return (
        await session.exec(
            select(EsimAddon).where(col(EsimAddon.unique_id) == order.addon_unique_id)
        )
    ).first()


async def order_detail(session: AsyncSession, order_id: str) -> dict[str, Any] | None:
    """One order with its payment, eSIM, traveler, add-on figures, provisioning steps
    (status, attempts, start, duration, error) and the refund decision on stored figures.
    ``None`` for an unknown id."""
    order = await session.get(Order, order_id)
    if order is None:
        return None
    payment = await session.get(Payment, order.payment_id)
    esim = await session.get(Esim, order.esim_id)
    user = await session.get(User, order.user_id) if order.user_id else None
    plan = await session.get(Plan, order.plan_id)
    steps = (
        await session.exec(
            select(ProvisioningStep)
            .where(col(ProvisioningStep.order_id) == order_id)
            .order_by(col(ProvisioningStep.seq))
        )
    ).all()
    addon = await _order_addon(session, order)
    decision = refund_rule(
        kind=order.kind,
        profile_status=esim.profile_status if esim else None,
        used_bytes=addon.used_bytes if addon else None,
    )
    can_void = (
        payment is not None
        and payment.status in ("succeeded", "flagged")
        and order.status != "delivered"
    )
    can_refund = (
        payment is not None and payment.status == "succeeded" and order.status == "delivered"
    )
    return {
        "order_id": order.id,
        "reference": order.reference,
        "status": order.status,
        "kind": order.kind,
        "created": _when(order.created_at),
        "delivered": _when(order.delivered_at),
        "attempts": str(order.attempts),
        "last_error": order.last_error or "",
        "amount": _money(order.amount_minor, order.currency),
        "plan": (plan.display_name or plan.sft_name) if plan else order.plan_id,
        "plan_id": order.plan_id,
        "traveler": user.email if user else "(deleted)",
        "user_id": str(order.user_id or ""),
        "esim_id": str(order.esim_id),
        "iccid": esim.iccid if esim else "",
        "endpoint_id": esim.endpoint_id if esim else "",
        "profile_status": (esim.profile_status if esim else None) or "unknown",
        "addon_unique_id": order.addon_unique_id or "",
        "addon_used": format_bytes(addon.used_bytes) if addon else "unknown",
        "payment_status": payment.status if payment else "",
        "payment_provider": payment.provider if payment else "",
        "payment_ref": (payment.provider_ref or "") if payment else "",
        "card_last4": (payment.card_last4 or "") if payment else "",
        "refund_allowed": decision.allowed,
        "refund_reason": decision.reason,
        "can_retry": order.status == "needs_attention"
        or (order.status == "paid" and order.next_attempt_at is not None)
        or (
            order.status in ("paid", "provisioning")
            and order.updated_at <= utcnow() - provisioning.DEFAULT_LEASE
        ),
        "can_void": can_void,
        "can_refund": can_refund,
        "payment_action": "refund" if can_refund else ("void" if can_void else ""),
        "retry": (
            f"automatic retry {order.retry_count} due {_when(order.next_attempt_at)} "
            f"(failing since {_when(order.first_failed_at)})"
            if order.status == "paid" and order.next_attempt_at is not None
            else ""
        ),
        "can_resend": order.kind == "new_esim"
        and order.status == "delivered"
        and bool(esim and esim.activation_code_enc),
        "steps": [
            {
                "name": st.name,
                "status": st.status,
                "attempts": str(st.attempts),
                "started": _when(st.started_at),
                "duration": (
                    f"{(st.finished_at - st.started_at).total_seconds():.1f} s"
                    if st.started_at and st.finished_at
                    else ""
                ),
                "detail": st.detail or "",
                "error": st.error or "",
            }
            for st in steps
        ],
    }


async def retry_provisioning(
    staff: Staff,
    order_id: str,
    *,
    client: SFTClient,
    run_options: RunOptions | None = None,
) -> ActionResult:
    """Run a stuck or ``needs_attention`` order's provisioning again (module docstring);
    waits for the run and reports its end state."""

    async def body() -> str:
        async with db.session() as s:
            order = await s.get(Order, order_id)
            if order is None:
                raise Refused("unknown order")
            payment = await s.get(Payment, order.payment_id)
            if order.status == "delivered":
                raise Refused("the order is already delivered")
            if order.status == "provisioning" and order.updated_at > (
                utcnow() - provisioning.DEFAULT_LEASE
            ):
                raise Refused("provisioning is running right now")
            if order.status == "needs_attention":
                steps = (
                    await s.exec(
                        select(ProvisioningStep).where(
                            col(ProvisioningStep.order_id) == order_id,
                            col(ProvisioningStep.status) != "done",
                        )
                    )
                ).all()
                for step in steps:
                    step.status = "pending"
                    step.error = None
                    s.add(step)
                order.status = "paid"
                order.attempts = 0
                order.retry_count = 0  # a new automatic-retry window if it fails again
                order.first_failed_at = None
                order.next_attempt_at = None
                order.last_error = None
                order.updated_at = utcnow()
                s.add(order)
                await s.commit()
            pay_status = payment.status if payment else ""
        # Staff ask for a run now: an automatic retry that is not due yet runs too.
        options: dict[str, Any] = {"force": True, **(run_options or {})}
        result = await provisioning.run_order(order_id, client=client, **options)
        if result.status == "delivered":
            await _sync_quietly(client, [result.esim_id])
        note = (
            f"; payment {pay_status}: delivered at the seller's expense"
            if result.status == "delivered" and pay_status in ("voided", "flagged", "refunded")
            else ""
        )
        return f"provisioning run ended {result.status}{note}"

    return await _act(staff, "order.retry", "order", order_id, body)


async def _sync_quietly(client: SFTClient, esim_ids: list[int]) -> None:
    try:
        await usage.sync_esims(client, esim_ids, priority=PRIORITY)
    except Exception:
        log.warning("admin: figures sync failed for %s", esim_ids, exc_info=True)
    live.notify(*esim_ids)


async def refund_order(
    staff: Staff,
    order_id: str,
    *,
    client: SFTClient,
    force_reason: str | None = None,
    provider: PaymentProvider | None = None,
) -> ActionResult:
    """Void (before delivery) or refund (after delivery, :func:`refund_rule`, forced with a
    reason) an order's payment; a refund withdraws the service (module docstring)."""
    force = " ".join((force_reason or "").split())

    async def body() -> str:
        async with db.session() as s:
            order = await s.get(Order, order_id)
            if order is None:
                raise Refused("unknown order")
            payment = await s.get(Payment, order.payment_id)
            esim = await s.get(Esim, order.esim_id)
            assert payment is not None and esim is not None and esim.id is not None
            kind, status, esim_id = order.kind, order.status, esim.id
            pay_status, ref, prov_name = payment.status, payment.provider_ref, payment.provider
            updated_at = order.updated_at
        if pay_status in ("voided", "refunded"):
            raise Refused(f"the payment is already {pay_status}")
        if pay_status not in ("succeeded", "flagged"):
            raise Refused(f"nothing to refund: the payment is {pay_status}")
        if not ref:
            raise Refused("the payment has no provider reference")
        prov = provider or get_provider(prov_name)
        if status != "delivered":
            if status == "provisioning" and updated_at > utcnow() - provisioning.DEFAULT_LEASE:
                raise Refused("provisioning is running right now; wait for it to end")
            await prov.void(ref)
            async with db.session() as s:
                await _set_payment(s, order_id, "voided", "voided by staff")
                order_row = await s.get(Order, order_id)
                assert order_row is not None
                order_row.status = "needs_attention"
                order_row.last_error = "payment voided by staff"
                order_row.updated_at = utcnow()
                s.add(order_row)
                await s.commit()
            return "payment voided (not delivered); order left needing attention"
        if pay_status != "succeeded":
            raise Refused(f"the payment is {pay_status}")
        await _sync_quietly(client, [esim_id])
        async with db.session() as s:
            order_row = await s.get(Order, order_id)
            esim_row = await s.get(Esim, esim_id)
            assert order_row is not None and esim_row is not None
            addon = await _order_addon(s, order_row)
            decision = refund_rule(
                kind=kind,
                profile_status=esim_row.profile_status,
                used_bytes=addon.used_bytes if addon else None,
            )
            unique_id = order_row.addon_unique_id
            endpoint_id = esim_row.endpoint_id
        if not decision.allowed and len(force) < FORCE_REASON_MIN:
            raise Refused(
                f"refund refused: {decision.reason}. Give a reason to force it "
                f"(at least {FORCE_REASON_MIN} characters)."
            )
        withdrawn = await _withdraw(client, endpoint_id, unique_id, suspend=kind == "new_esim")
        await prov.refund(ref)
        async with db.session() as s:
            await _set_payment(s, order_id, "refunded", f"refunded by staff: {decision.reason}")
            await s.commit()
        await _sync_quietly(client, [esim_id])
        forced = "" if decision.allowed else f"; FORCED ({decision.reason}): {force}"
        return f"payment refunded ({decision.reason}){forced}; {withdrawn}"

    return await _act(staff, "order.refund", "order", order_id, body)


async def _set_payment(s: AsyncSession, order_id: str, status: str, reason: str | None) -> None:
    order = await s.get(Order, order_id)
    assert order is not None
    payment = await s.get(Payment, order.payment_id, populate_existing=True)
    assert payment is not None
    payment.status = status
    if reason:
        payment.failure_reason = reason[:200]
    payment.updated_at = utcnow()
    s.add(payment)


async def _withdraw(
    client: SFTClient, endpoint_id: str, unique_id: str | None, *, suspend: bool
) -> str:
    """Remove the add-on instance (re-read first and after an unknown outcome) and, for a
    new eSIM, suspend the endpoint as staff. Returns what was done."""
    done: list[str] = []
    if unique_id:
        rows = await client.addon_details(priority=PRIORITY, endpoint_id=endpoint_id)
        present = [
            r for r in rows if r.unique_id == unique_id and r.status != AddonStatus.DEACTIVATED
        ]
        if present:
            try:
                await client.modify_endpoint_addons(
                    endpoint_id, priority=PRIORITY, remove=[unique_id]
                )
            except (SFTOutcomeUnknown, SFTBusinessError):
                rows = await client.addon_details(priority=PRIORITY, endpoint_id=endpoint_id)
                if any(
                    r.unique_id == unique_id and r.status != AddonStatus.DEACTIVATED for r in rows
                ):
                    raise
            done.append(f"add-on {unique_id} removed")
        else:
            done.append(f"add-on {unique_id} already gone")
    if suspend:
        done.append(await _lifecycle(client, endpoint_id, suspend=True))
    return ", ".join(done) or "nothing to withdraw"


async def resend_installation_email(staff: Staff, order_id: str) -> ActionResult:
    """Queue the installation email of a delivered new-eSIM order again (same content as at
    delivery: QR image, SM-DP+ address, link to the install page)."""

    async def body() -> str:
        async with db.session() as s:
            order = await s.get(Order, order_id)
            if order is None:
                raise Refused("unknown order")
            if order.kind != "new_esim" or order.status != "delivered":
                raise Refused("only a delivered new-eSIM order has an installation email")
            esim = await s.get(Esim, order.esim_id)
            user = await s.get(User, order.user_id) if order.user_id else None
            plan = await s.get(Plan, order.plan_id)
            if esim is None or not esim.activation_code_enc:
                raise Refused("no activation code stored for this eSIM")
            if user is None or await s.get(AccountDeletion, user.id) is not None:
                raise Refused("the traveler's account no longer exists")
            title = (plan.display_name or plan.sft_name) if plan else order.plan_id
            message = provisioning.installation_email(
                order, esim, title=title, public_url=get_settings().public_url
            )
            row = await email.enqueue(s, to=user.email, user_id=user.id, **message)
            await s.commit()
            return f"installation email queued (outbox #{row.id})"

    return await _act(staff, "order.resend_email", "order", order_id, body)


# ============================================================================ travelers
_USER_SORTS: dict[str, Any] = {"created_at": col(User.created_at), "email": col(User.email)}


async def list_travelers(
    session: AsyncSession,
    *,
    email_query: str | None = None,
    staff_only: bool = False,
    sort: str = "created_at",
    desc: bool = True,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> PageResult:
    """Accounts filtered by email (substring) and role, with their eSIM and order counts."""
    esims = (
        select(func.count())
        .select_from(Esim)
        .where(col(Esim.user_id) == col(User.id))
        .correlate(User)
        .scalar_subquery()
    )
    orders = (
        select(func.count())
        .select_from(Order)
        .where(col(Order.user_id) == col(User.id))
        .correlate(User)
        .scalar_subquery()
    )
    query: Any = select(User, esims, orders)
    if email_query:
        query = query.where(func.lower(col(User.email)).like(_like(email_query), escape="\\"))
    if staff_only:
        query = query.where(col(User.is_staff).is_(True))
    rows, total, page, per_page = await _paged(
        session, query, _sort(_USER_SORTS, sort, desc, "created_at", col(User.id)), page, per_page
    )
    return PageResult(
        [
            {
                "user_id": str(user.id),
                "email": user.email,
                "created": _when(user.created_at),
                "verified": "yes" if user.email_verified_at else "no",
                "staff": "staff" if user.is_staff else "",
                "esims": str(n_esims),
                "orders": str(n_orders),
            }
            for user, n_esims, n_orders in rows
        ],
        total,
        page,
        per_page,
    )


async def traveler_detail(session: AsyncSession, user_id: int) -> dict[str, Any] | None:
    """One account with its eSIMs, orders (newest first, at most 50) and replacement
    requests."""
    user = await session.get(User, user_id)
    if user is None:
        return None
    esims = (
        await session.exec(select(Esim).where(col(Esim.user_id) == user_id).order_by(col(Esim.id)))
    ).all()
    own = (
        await session.exec(
            select(Order)
            .where(col(Order.user_id) == user_id)
            .order_by(col(Order.created_at).desc())
            .limit(50)
        )
    ).all()
    requests = (
        await session.exec(
            select(ReplacementRequest)
            .where(col(ReplacementRequest.user_id) == user_id)
            .order_by(col(ReplacementRequest.created_at).desc())
        )
    ).all()
    return {
        "user_id": str(user.id),
        "email": user.email,
        "staff": user.is_staff,
        "created": _when(user.created_at),
        "deleted": await session.get(AccountDeletion, user_id) is not None,
        "esims": [
            {
                "esim_id": str(e.id),
                "iccid": e.iccid,
                "endpoint_id": e.endpoint_id,
                "state": e.state,
                "endpoint_status": e.endpoint_status or "",
                "install": usage.install_state(e.profile_status),
            }
            for e in esims
        ],
        "orders": [
            {
                "order_id": o.id,
                "reference": o.reference,
                "created": _when(o.created_at),
                "status": o.status,
                "kind": o.kind,
                "amount": _money(o.amount_minor, o.currency),
            }
            for o in own
        ],
        "requests": [
            {
                "id": str(r.id),
                "esim_id": str(r.esim_id),
                "status": r.status,
                "reason": r.reason,
                "created": _when(r.created_at),
            }
            for r in requests
        ],
    }


# ============================================================================ eSIMs
ESIM_STATES = ("free", "reserved", "assigned", "retired")
_ESIM_SORTS: dict[str, Any] = {
    "id": col(Esim.id),
    "iccid": col(Esim.iccid),
    "endpoint_id": col(Esim.endpoint_id),
    "state": col(Esim.state),
    "updated_at": col(Esim.updated_at),
}


async def list_esims(
    session: AsyncSession,
    *,
    query_text: str | None = None,
    state: str | None = None,
    sort: str = "id",
    desc: bool = True,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> PageResult:
    """eSIMs whose ICCID or endpoint id contains ``query_text``, optionally in ``state``."""
    query: Any = select(Esim, User.email).outerjoin(User, col(User.id) == col(Esim.user_id))
    if query_text:
        pattern = _like(query_text)
        query = query.where(
            or_(
                col(Esim.iccid).like(pattern, escape="\\"),
                col(Esim.endpoint_id).like(pattern, escape="\\"),
            )
        )
    if state:
        query = query.where(col(Esim.state) == state)
    rows, total, page, per_page = await _paged(
        session, query, _sort(_ESIM_SORTS, sort, desc, "id", col(Esim.id)), page, per_page
    )
    return PageResult(
        [
            {
                "esim_id": str(e.id),
                "iccid": e.iccid,
                "endpoint_id": e.endpoint_id,
                "state": e.state,
                "owner": owner or "",
                "endpoint_status": e.endpoint_status or "",
                "install": usage.install_state(e.profile_status),
                "updated": _when(e.updated_at),
            }
            for e, owner in rows
        ],
        total,
        page,
        per_page,
    )


async def esim_detail(session: AsyncSession, esim_id: int) -> dict[str, Any] | None:
    """One eSIM: owner, endpoint state and lifecycle reason, install status, add-ons with
    figures, its orders, replacement requests and replacement record."""
    esim = await session.get(Esim, esim_id)
    if esim is None:
        return None
    owner = await session.get(User, esim.user_id) if esim.user_id else None
    sync = await session.get(EsimSync, esim_id)
    now = utcnow()
    addons = sorted(
        (await session.exec(select(EsimAddon).where(col(EsimAddon.esim_id) == esim_id))).all(),
        key=draw_key,
    )
    orders = (
        await session.exec(
            select(Order).where(col(Order.esim_id) == esim_id).order_by(col(Order.created_at))
        )
    ).all()
    requests = (
        await session.exec(
            select(ReplacementRequest)
            .where(col(ReplacementRequest.esim_id) == esim_id)
            .order_by(col(ReplacementRequest.created_at).desc())
        )
    ).all()
    replaced = (
        await session.exec(
            select(EsimReplacement).where(col(EsimReplacement.old_esim_id) == esim_id)
        )
    ).first()
    replaces = (
        await session.exec(
            select(EsimReplacement).where(col(EsimReplacement.new_esim_id) == esim_id)
        )
    ).first()
    reason = sync.lifecycle_reason if sync else None
    status = (sync.endpoint_status if sync else None) or esim.endpoint_status
    return {
        "esim_id": str(esim.id),
        "iccid": esim.iccid,
        "eid": esim.eid or "",
        "endpoint_id": esim.endpoint_id,
        "state": esim.state,
        "owner": owner.email if owner else "",
        "user_id": str(esim.user_id or ""),
        "nickname": esim.nickname or "",
        "endpoint_status": status or "unknown",
        "suspended": endpoint_state(status) == "suspended",
        "staff_suspended": endpoint_state(status) == "suspended" and reason == STAFF_REASON,
        # The platform keeps the last suspension's reason after a resume: show it only
        # while the endpoint is suspended.
        "lifecycle_reason": (
            {"1": "System", "2": "Dunning", "3": "Staff (CSR)"}.get(reason or "", reason or "")
            if endpoint_state(status) == "suspended"
            else ""
        ),
        "profile_status": esim.profile_status or "unknown",
        "install": usage.install_state(esim.profile_status),
        "synced": _when(sync.synced_at if sync else None),
        "sync_error": (sync.last_error or "") if sync else "",
        "live_addons": live_count(addons, now),
        "addons": [
            {
                "unique_id": a.unique_id,
                "plan": a.plan_name or a.plan_id,
                "plan_id": a.plan_id,
                "status": effective_status(a, now),
                "remaining": format_bytes(a.remaining_bytes),
                "initial": format_bytes(a.initial_bytes),
                "used": format_bytes(a.used_bytes),
                "started": _when(a.started_at),
                "expires": _when(a.expires_at),
            }
            for a in addons
        ],
        "orders": [
            {
                "order_id": o.id,
                "reference": o.reference,
                "status": o.status,
                "kind": o.kind,
                "amount": _money(o.amount_minor, o.currency),
                "created": _when(o.created_at),
            }
            for o in orders
        ],
        "requests": [
            {
                "id": str(r.id),
                "status": r.status,
                "reason": r.reason,
                "created": _when(r.created_at),
            }
            for r in requests
        ],
        "replaced_by": str(replaced.new_esim_id or "") if replaced else "",
        "replacement_status": replaced.status if replaced else "",
        "replaces": str(replaces.old_esim_id) if replaces else "",
    }


async def refresh_esim(staff: Staff, esim_id: int, *, client: SFTClient) -> ActionResult:
    """Re-read one eSIM from SFT (``usage.sync_esims`` at refresh priority)."""

    async def body() -> str:
        result = await usage.sync_esims(client, [esim_id], priority=PRIORITY)
        outcome = result.outcomes[0]
        live.notify(esim_id)
        if not outcome.ok:
            if outcome.error == "not_found":
                raise Refused("unknown eSIM")
            raise SFTErrorText(outcome.error or "sync failed")
        return f"refreshed from SFT ({count_of(outcome.changed_rows, 'row')} changed)"

    return await _act(staff, "esim.refresh", "esim", str(esim_id), body)


class SFTErrorText(SFTError):
    """A platform failure known only by its recorded text (from a sync outcome)."""

    def __init__(self, text: str) -> None:
        Exception.__init__(self, text)
        self.operation = "sync"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "sync failed"


async def _lifecycle(client: SFTClient, endpoint_id: str, *, suspend: bool) -> str:
    """Suspend or resume ``endpoint_id`` as staff (reason "3"), reading it first and again
    after an unknown outcome or refusal (never resent). Returns what happened."""
    profile = await client.endpoint_profile(endpoint_id, priority=PRIORITY)
    state = endpoint_state(profile.status)
    want = "suspended" if suspend else "active"
    if state == want:
        return f"endpoint already {profile.status}"
    if suspend and state != "active":
        raise Refused(f"the endpoint is {profile.status or 'unknown'}: only Active can suspend")
    if not suspend and state != "suspended":
        raise Refused(f"the endpoint is {profile.status or 'unknown'}: only Suspended can resume")
    try:
        result = await client.change_lifecycle(
            endpoint_id, "S" if suspend else "A", reason=STAFF_REASON, priority=PRIORITY
        )
        return f"endpoint {result.current_status or want} (was {profile.status})"
    except (SFTOutcomeUnknown, SFTBusinessError):
        again = await client.endpoint_profile(endpoint_id, priority=PRIORITY)
        if endpoint_state(again.status) == want:
            return f"endpoint {again.status} (verified by re-read)"
        raise


async def set_suspended(
    staff: Staff, esim_id: int, *, suspend: bool, client: SFTClient
) -> ActionResult:
    """Suspend (``EndPointLifeCycleChange "S"``) or resume (``"A"``) an eSIM's endpoint as a
    staff suspension (reason "3" CSR, docs/business-rules.md#staff-suspension); the traveler's
    top-up cannot undo it (``topup.STAFF_REASONS``). The new status is mirrored by a sync."""

    async def body() -> str:
        async with db.session() as s:
            esim = await s.get(Esim, esim_id)
            if esim is None:
                raise Refused("unknown eSIM")
            endpoint_id = esim.endpoint_id
        what = await _lifecycle(client, endpoint_id, suspend=suspend)
        await _sync_quietly(client, [esim_id])
        return what

    return await _act(
        staff, "esim.suspend" if suspend else "esim.resume", "esim", str(esim_id), body
    )


# ============================================================================ staff orders
async def _staff_order(
    s: AsyncSession,
    *,
    checkout_id: str,
    user_id: int,
    esim_id: int,
    plan: Plan,
    kind: str,
    destination: str | None,
) -> Order:
    """A zero-amount order (module docstring "Staff orders") with its steps; not committed."""
    now = utcnow()
    currency = plan.currency or "EUR"
    s.add(
        Checkout(
            id=checkout_id,
            user_id=user_id,
            plan_id=plan.plan_id,
            kind=kind,
            esim_id=esim_id,
            destination=destination,
            amount_minor=0,
            currency=currency,
            status="paid",
            device_confirmed=True,
            created_at=now,
            updated_at=now,
        )
    )
    payment = Payment(
        checkout_id=checkout_id,
        idempotency_key=f"staff:{checkout_id}",
        provider=STAFF_PROVIDER,
        amount_minor=0,
        currency=currency,
        status=STAFF_PAYMENT_STATUS,
        created_at=now,
        updated_at=now,
    )
    s.add(payment)
    await s.flush()
    assert payment.id is not None
    reference = new_reference()
    while (
        await s.exec(select(Order.id).where(col(Order.reference) == reference))
    ).first() is not None:
        reference = new_reference()
    order = Order(
        id=str(uuid.uuid4()),
        reference=reference,
        checkout_id=checkout_id,
        user_id=user_id,
        plan_id=plan.plan_id,
        esim_id=esim_id,
        payment_id=payment.id,
        kind=kind,
        status="paid",
        amount_minor=0,
        tax_minor=0,
        currency=currency,
        created_at=now,
        updated_at=now,
    )
    s.add(order)
    await s.flush()
    steps = NEW_ESIM_STEPS if kind == "new_esim" else TOPUP_STEPS
    for seq, name in enumerate(steps, start=1):
        s.add(ProvisioningStep(order_id=order.id, seq=seq, name=name, status="pending"))
    await s.flush()
    return order


def _check_request_id(request_id: str) -> str:
    try:
        return str(uuid.UUID(request_id))
    except (ValueError, AttributeError, TypeError):
        raise Refused("invalid request id (reload the page)") from None


async def goodwill_addon(
    staff: Staff,
    esim_id: int,
    plan_id: str,
    *,
    request_id: str,
    client: SFTClient,
    note: str = "",
    run_options: RunOptions | None = None,
) -> ActionResult:
    """Give ``plan_id`` to the owner of ``esim_id`` for free (module docstring)."""

    async def body() -> tuple[str, dict[str, Any]]:
        key = _check_request_id(request_id)
        async with db.session() as s:
            existing = (await s.exec(select(Order).where(col(Order.checkout_id) == key))).first()
            if existing is not None:
                return f"already given: order {existing.reference} is {existing.status}", {
                    "order_id": existing.id
                }
            esim = await s.get(Esim, esim_id)
            plan = await s.get(Plan, plan_id)
            if esim is None or esim.state != "assigned" or esim.user_id is None:
                raise Refused("the eSIM does not belong to a traveler")
            if plan is None or not plan.present_on_platform:
                raise Refused("unknown plan, or no longer on the platform")
            endpoint_id, user_id = esim.endpoint_id, esim.user_id
        profile = await client.endpoint_profile(endpoint_id, priority=PRIORITY)
        state = endpoint_state(profile.status)
        if state == "suspended":
            raise Refused("the endpoint is Suspended: resume it first")
        if state == "hold":
            raise Refused("the endpoint has no SIM (Hold)")
        rows = await client.addon_details(priority=PRIORITY, endpoint_id=endpoint_id)
        live_now = sum(1 for r in rows if r.status in (AddonStatus.WAITING, AddonStatus.ACTIVE))
        if live_now >= LIVE_ADDON_LIMIT:
            raise Refused(f"the eSIM already has {LIVE_ADDON_LIMIT} live add-ons")
        async with db.session() as s:
            plan_row = await s.get(Plan, plan_id)
            assert plan_row is not None
            try:
                order = await _staff_order(
                    s,
                    checkout_id=key,
                    user_id=user_id,
                    esim_id=esim_id,
                    plan=plan_row,
                    kind="topup",
                    destination=None,
                )
                order_id, reference = order.id, order.reference
                await s.commit()
            except IntegrityError:
                raise Refused("this goodwill request was already submitted") from None
        result = await provisioning.run_order(order_id, client=client, **(run_options or {}))
        if result.status == "delivered":
            await _sync_quietly(client, [esim_id])
        suffix = f" (note: {note.strip()[:200]})" if note.strip() else ""
        return (
            f"goodwill {plan_id} as order {reference}: {result.status}{suffix}",
            {"order_id": order_id},
        )

    return await _act(staff, "esim.goodwill", "esim", str(esim_id), body)


async def replace_esim(
    staff: Staff,
    esim_id: int,
    *,
    client: SFTClient,
    note: str = "",
    run_options: RunOptions | None = None,
) -> ActionResult:
    """Give the owner of ``esim_id`` a new eSIM carrying the plans still live on it, then
    suspend the old one (module docstring "Replacement")."""

    async def body() -> tuple[str, dict[str, Any]]:
        async with db.session() as s:
            old = await s.get(Esim, esim_id)
            if old is None or old.state != "assigned" or old.user_id is None:
                raise Refused("the eSIM does not belong to a traveler")
            done = (
                await s.exec(
                    select(EsimReplacement).where(col(EsimReplacement.old_esim_id) == esim_id)
                )
            ).first()
            if done is not None:
                raise Refused(
                    f"already replaced by eSIM {done.new_esim_id} ({done.status}); "
                    "retry its orders if needed"
                )
            user_id, old_endpoint, destination = old.user_id, old.endpoint_id, old.destination
        await _sync_quietly(client, [esim_id])
        now = utcnow()
        async with db.session() as s:
            addons = (
                await s.exec(select(EsimAddon).where(col(EsimAddon.esim_id) == esim_id))
            ).all()
            live_addons = sorted(
                (
                    a
                    for a in addons
                    if effective_status(a, now) in LIVE_STATUSES
                    and (a.remaining_bytes is None or a.remaining_bytes > 0)
                ),
                key=draw_key,
            )
            plan_ids = [a.plan_id for a in live_addons]
            if not plan_ids:
                raise Refused("no live add-on to carry over (nothing left to replace)")
            plans = {p: await s.get(Plan, p) for p in set(plan_ids)}
            missing = [p for p, row in plans.items() if row is None]
            if missing:
                raise Refused(f"plans unknown to the catalogue: {', '.join(sorted(missing))}")
        first_key = str(uuid.uuid4())
        async with db.session() as s:
            new = await inventory.reserve(s, first_key, utcnow() + timedelta(minutes=10))
            if new is None:
                await inventory.refill_pool(client, s, priority=Priority.PROVISIONING)
                new = await inventory.reserve(s, first_key, utcnow() + timedelta(minutes=10))
            if new is None:
                raise Refused("no free eSIM left in the inventory")
            new = await inventory.assign(
                s, new, user_id, checkout_id=first_key, destination=destination
            )
            assert new.id is not None
            new_id = new.id
            record = EsimReplacement(
                old_esim_id=esim_id,
                new_esim_id=new_id,
                user_id=user_id,
                staff_user_id=staff.user_id,
                plan_ids=plan_ids,
                status="provisioning",
            )
            s.add(record)
            order_ids: list[str] = []
            for i, plan_id in enumerate(plan_ids):
                plan_row = plans[plan_id]
                assert plan_row is not None
                order = await _staff_order(
                    s,
                    checkout_id=first_key if i == 0 else str(uuid.uuid4()),
                    user_id=user_id,
                    esim_id=new_id,
                    plan=plan_row,
                    kind="new_esim" if i == 0 else "topup",
                    destination=destination,
                )
                order_ids.append(order.id)
            record.order_ids = order_ids
            try:
                await s.commit()
            except IntegrityError:
                raise Refused("this eSIM is already being replaced") from None
            record_id = record.id
        statuses: list[str] = []
        for i, order_id in enumerate(order_ids):
            result = await provisioning.run_order(order_id, client=client, **(run_options or {}))
            statuses.append(result.status)
            if i == 0 and result.status != "delivered":
                break
        delivered = (
            bool(statuses)
            and all(st == "delivered" for st in statuses)
            and len(statuses) == len(order_ids)
        )
        old_state = ""
        if statuses and statuses[0] == "delivered":
            try:
                old_state = await _lifecycle(client, old_endpoint, suspend=True)
            except Refused as exc:  # e.g. never activated: nothing to stop
                old_state = f"old endpoint left as is ({exc})"
        async with db.session() as s:
            rec = await s.get(EsimReplacement, record_id)
            assert rec is not None
            rec.status = "done" if delivered else "failed"
            rec.detail = ", ".join(statuses)[:500]
            rec.finished_at = utcnow()
            s.add(rec)
            if delivered:
                await s.execute(
                    update(ReplacementRequest)
                    .where(
                        col(ReplacementRequest.esim_id) == esim_id,
                        col(ReplacementRequest.status) == "open",
                    )
                    .values(status="closed", closed_at=utcnow())
                )
            await s.commit()
        await _sync_quietly(client, [new_id, esim_id])
        suffix = f" (note: {note.strip()[:200]})" if note.strip() else ""
        message = (
            f"new eSIM {new_id} with {', '.join(plan_ids)}: orders {', '.join(statuses)}; "
            f"{old_state or 'old endpoint not suspended'}{suffix}"
        )
        if not delivered:
            raise Refused(f"replacement incomplete: {message}")
        return message, {"new_esim_id": new_id, "order_ids": order_ids}

    return await _act(staff, "esim.replace", "esim", str(esim_id), body)


# ============================================================================ catalogue
_PLAN_SORTS: dict[str, Any] = {
    "plan_id": col(Plan.plan_id),
    "name": col(Plan.sft_name),
    "price": col(Plan.price_minor),
    "on_sale": col(Plan.on_sale),
}


async def list_plans(
    session: AsyncSession,
    *,
    query_text: str | None = None,
    on_sale: bool | None = None,
    sort: str = "plan_id",
    desc: bool = False,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> PageResult:
    """Catalogue plans whose id, platform name or display name contain ``query_text``."""
    query: Any = select(Plan)
    if query_text:
        pattern = _like(query_text)
        query = query.where(
            or_(
                func.lower(col(Plan.plan_id)).like(pattern, escape="\\"),
                func.lower(col(Plan.sft_name)).like(pattern, escape="\\"),
                func.lower(col(Plan.display_name)).like(pattern, escape="\\"),
            )
        )
    if on_sale is not None:
        query = query.where(col(Plan.on_sale).is_(on_sale))
    rows, total, page, per_page = await _paged(
        session, query, _sort(_PLAN_SORTS, sort, desc, "plan_id", col(Plan.plan_id)), page, per_page
    )
    out = []
    for (plan,) in rows:
        out.append(
            {
                "plan_id": plan.plan_id,
                "sft_name": plan.sft_name,
                "display_name": plan.display_name or "",
                "volume": format_bytes(plan.volume_bytes),
                "validity": f"{plan.validity_days} d",
                "price": (
                    str(minor_to_decimal(plan.price_minor, plan.currency))
                    if plan.price_minor is not None and plan.currency
                    else ""
                ),
                "price_text": _money(plan.price_minor, plan.currency),
                "currency": plan.currency or "",
                "destinations": " ".join(plan.destinations),
                "on_sale": "yes" if plan.on_sale else "no",
                "platform": plan.sft_status if plan.present_on_platform else "missing",
                "edited": _when(plan.updated_at),
            }
        )
    return PageResult(out, total, page, per_page)


def _parse_destinations(raw: str | list[str]) -> list[str]:
    items = raw if isinstance(raw, list) else re.split(r"[\s,;]+", raw)
    codes: list[str] = []
    for item in items:
        code = item.strip().upper()
        if not code:
            continue
        try:
            countries.country(code)
        except KeyError:
            raise Refused(f"unknown country code {code!r}") from None
        codes.append(code)
    return sorted(set(codes))


async def update_plan(
    staff: Staff,
    plan_id: str,
    *,
    display_name: str,
    price: str,
    currency: str,
    destinations: str | list[str],
    on_sale: bool,
) -> ActionResult:
    """Edit a plan's seller fields: ``price`` in major units (``"4.50"``; empty = no
    price), ISO 4217 ``currency``, display name (empty = the platform name), destinations
    (ISO alpha-2 codes), on-sale flag. A plan without price cannot be on sale. Sets
    ``Plan.updated_at``, so the seed never overwrites staff edits."""

    async def body() -> str:
        name = " ".join(display_name.split())[:200] or None
        cur = currency.strip().upper() or None
        price_text = price.strip().replace(",", ".")
        price_minor: int | None = None
        if price_text:
            if cur is None or not re.fullmatch(r"[A-Z]{3}", cur):
                raise Refused("a price needs an ISO 4217 currency code (e.g. EUR)")
            try:
                price_minor = decimal_to_minor(price_text, cur)
            except Exception:
                raise Refused(f"invalid price {price_text!r} for {cur}") from None
            if price_minor < 0:
                raise Refused("the price cannot be negative")
        else:
            cur = None
        if on_sale and price_minor is None:
            raise Refused("a plan without a price cannot be on sale")
        codes = _parse_destinations(destinations)
        async with db.session() as s:
            plan = await s.get(Plan, plan_id)
            if plan is None:
                raise Refused("unknown plan")
            before = {
                "display_name": plan.display_name,
                "price": _money(plan.price_minor, plan.currency) or "none",
                "destinations": " ".join(plan.destinations),
                "on_sale": plan.on_sale,
            }
            plan.display_name = name
            plan.price_minor = price_minor
            plan.currency = cur
            plan.destinations = codes
            plan.on_sale = on_sale
            plan.updated_at = utcnow()
            s.add(plan)
            await s.commit()
            after = {
                "display_name": name,
                "price": _money(price_minor, cur) or "none",
                "destinations": " ".join(codes),
                "on_sale": on_sale,
            }
        changes = [f"{k}: {before[k]!s} -> {after[k]!s}" for k in before if before[k] != after[k]]
        return "; ".join(changes) or "no change"

    return await _act(staff, "plan.update", "plan", plan_id, body)


# ============================================================================ outbox, audit
_OUTBOX_SORTS: dict[str, Any] = {
    "created_at": col(OutboxEmail.created_at),
    "status": col(OutboxEmail.status),
    "kind": col(OutboxEmail.kind),
    "to": col(OutboxEmail.to_address),
}


async def list_outbox(
    session: AsyncSession,
    *,
    status: str | None = None,
    kind: str | None = None,
    to: str | None = None,
    sort: str = "created_at",
    desc: bool = True,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> PageResult:
    """Emails queued or sent, with their delivery state (bodies are not listed)."""
    query: Any = select(OutboxEmail)
    if status:
        query = query.where(col(OutboxEmail.status) == status)
    if kind:
        query = query.where(col(OutboxEmail.kind) == kind)
    if to:
        query = query.where(func.lower(col(OutboxEmail.to_address)).like(_like(to), escape="\\"))
    rows, total, page, per_page = await _paged(
        session,
        query,
        _sort(_OUTBOX_SORTS, sort, desc, "created_at", col(OutboxEmail.id)),
        page,
        per_page,
    )
    return PageResult(
        [
            {
                "id": str(m.id),
                "created": _when(m.created_at),
                "to": m.to_address,
                "kind": m.kind,
                "subject": m.subject,
                "status": m.status,
                "attempts": str(m.attempts),
                "sent": _when(m.sent_at),
                "error": m.last_error or "",
            }
            for (m,) in rows
        ],
        total,
        page,
        per_page,
    )


_AUDIT_SORTS: dict[str, Any] = {
    "at": col(AuditLog.at),
    "action": col(AuditLog.action),
    "actor": col(AuditLog.actor),
    "result": col(AuditLog.result),
}


async def list_audit(
    session: AsyncSession,
    *,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    result: str | None = None,
    sort: str = "at",
    desc: bool = True,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> PageResult:
    """The audit log, filtered by action prefix, actor (substring), target id and result."""
    query: Any = select(AuditLog)
    if action:
        query = query.where(col(AuditLog.action).like(action.strip() + "%"))
    if actor:
        query = query.where(func.lower(col(AuditLog.actor)).like(_like(actor), escape="\\"))
    if target:
        query = query.where(col(AuditLog.target_id) == target.strip())
    if result:
        query = query.where(col(AuditLog.result) == result)
    rows, total, page, per_page = await _paged(
        session, query, _sort(_AUDIT_SORTS, sort, desc, "at", col(AuditLog.id)), page, per_page
    )
    return PageResult(
        [
            {
                "id": str(a.id),
                "at": _when(a.at),
                "actor": a.actor,
                "action": a.action,
                "target": f"{a.target_type} {a.target_id}",
                "result": a.result,
                "detail": a.detail,
            }
            for (a,) in rows
        ],
        total,
        page,
        per_page,
    )


# ============================================================================ staff role
async def set_staff(
    actor: Staff | None, email_address: str, *, grant: bool, actor_label: str | None = None
) -> ActionResult:
    """Grant or revoke the staff role of the account ``email_address``. ``actor`` ``None``
    is the command line (``actor_label`` ``cli``) or the demo seed. Staff cannot revoke
    themselves (another admin must)."""

    try:
        address = normalise_email(email_address)
    except AccountError:
        address = email_address.strip().lower()[:254]

    async def body() -> str:
        async with db.session() as s:
            user = (await s.exec(select(User).where(col(User.email) == address))).first()
            if user is None or user.id is None:
                raise Refused("no account with this email")
            if await s.get(AccountDeletion, user.id) is not None:
                raise Refused("no account with this email")
            if not grant and actor is not None and actor.user_id == user.id:
                raise Refused("you cannot revoke your own staff role")
            if user.is_staff == grant:
                return "already staff" if grant else "was not staff"
            user.is_staff = grant
            s.add(user)
            await s.commit()
        return (
            "staff role granted (two-step verification required at next sign-in)"
            if grant
            else "staff role revoked"
        )

    return await _act(
        actor,
        "staff.grant" if grant else "staff.revoke",
        "user",
        address,
        body,
        actor_label=actor_label,
    )


# ============================================================================ overview
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
    jobs: list[dict[str, str]]
    callbacks: dict[str, str]


_JOB_INTERVALS = {
    "usage_sync": "sync_interval_seconds",
    "catalogue": "catalogue_sync_interval_seconds",
    "inventory": "inventory_sync_interval_seconds",
    "recovery": "recovery_interval_seconds",
    "notifications": "notifications_interval_seconds",
    "email": "email_send_interval_seconds",
    "callbacks": "callback_process_interval_seconds",
}


def job_health(run: JobRun, now: datetime, interval_seconds: float | None) -> str:
    """``failing`` (the run raised), ``stale`` (no run for 3 intervals), ``degraded``
    (item errors or HTTP 429 answers), else ``ok``."""
    if not run.ok:
        return "failing"
    finished = run.finished_at or run.started_at
    if interval_seconds and (now - finished).total_seconds() > 3 * interval_seconds:
        return "stale"
    if run.errors or run.rate_limited:
        return "degraded"
    return "ok"


async def _revenue(session: AsyncSession, since: datetime) -> list[str]:
    rows = (
        await session.execute(
            select(col(Payment.currency), func.sum(col(Payment.amount_minor)))
            .join(Order, col(Order.payment_id) == col(Payment.id))
            .where(col(Payment.status) == "succeeded", col(Order.created_at) >= since)
            .group_by(col(Payment.currency))
            .order_by(col(Payment.currency))
        )
    ).all()
    return [_money(int(total or 0), cur) for cur, total in rows] or ["0"]


async def overview(
    session: AsyncSession, *, settings: Settings | None = None, now: datetime | None = None
) -> Overview:
    """Orders today (UTC day, staff orders excluded), revenue (captured payments of orders
    created today / in the last 30 days, per currency), eSIMs delivered (new-eSIM orders
    delivered today / ever), free pre-active eSIMs against ``LOW_STOCK_THRESHOLD``, orders
    needing attention and flagged payments, open replacement requests, the last run of each
    background job with its health, and callback receipt (last event, last 24 h, failures)."""
    cfg = settings or get_settings()
    at = now or utcnow()
    today = datetime.combine(at.astimezone(UTC).date(), time(), UTC)

    async def count(query: Any) -> int:
        return int((await session.execute(query)).scalar_one())

    orders_today = await count(
        select(func.count())
        .select_from(Order)
        .join(Payment, col(Payment.id) == col(Order.payment_id))
        .where(col(Order.created_at) >= today, col(Payment.provider) != STAFF_PROVIDER)
    )
    delivered = (
        select(func.count())
        .select_from(Order)
        .where(col(Order.kind) == "new_esim", col(Order.status) == "delivered")
    )
    jobs: list[dict[str, str]] = []
    names = (await session.execute(select(col(JobRun.job)).distinct())).scalars().all()
    for name in sorted(names):
        run = (
            await session.exec(
                select(JobRun)
                .where(col(JobRun.job) == name)
                .order_by(col(JobRun.started_at).desc(), col(JobRun.id).desc())
                .limit(1)
            )
        ).first()
        if run is None:
            continue
        attr = _JOB_INTERVALS.get(name)
        interval = float(getattr(cfg, attr)) if attr else None
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
    last_event = (
        await session.execute(select(func.max(col(CallbackEvent.received_at))))
    ).scalar_one()
    return Overview(
        orders_today=orders_today,
        revenue_today=await _revenue(session, today),
        revenue_30d=await _revenue(session, at - timedelta(days=30)),
        delivered_today=await count(delivered.where(col(Order.delivered_at) >= today)),
        delivered_total=await count(delivered),
        free_esims=await inventory.free_count(session),
        low_stock_threshold=cfg.low_stock_threshold,
        needs_attention=await count(
            select(func.count()).select_from(Order).where(col(Order.status) == "needs_attention")
        ),
        flagged_payments=await count(
            select(func.count()).select_from(Payment).where(col(Payment.status) == "flagged")
        ),
        open_replacements=await count(
            select(func.count())
            .select_from(ReplacementRequest)
            .where(col(ReplacementRequest.status) == "open")
        ),
        jobs=jobs,
        callbacks={
            "enabled": "on" if cfg.sft_callback_token else "off",
            "last": _when(last_event) or "never",
            "day": str(
                await count(
                    select(func.count())
                    .select_from(CallbackEvent)
                    .where(col(CallbackEvent.received_at) >= at - timedelta(days=1))
                )
            ),
            "failed": str(
                await count(
                    select(func.count())
                    .select_from(CallbackEvent)
                    .where(col(CallbackEvent.status) == "failed")
                )
            ),
            "pending": str(
                await count(
                    select(func.count())
                    .select_from(CallbackEvent)
                    .where(col(CallbackEvent.status) == "pending")
                )
            ),
        },
    )


async def check_sft(client: SFTClient) -> tuple[bool, str]:
    """Reachability of SFT: one ``fetchSIM`` page of one free SIM (login included when the
    token is missing). Returns ``(reachable, text)``; never raises for platform errors."""
    import time as _time

    t0 = _time.monotonic()
    try:
        await client.fetch_sims(priority=PRIORITY, per_page=1)
    except SFTError as exc:
        return False, f"unreachable: {type(exc).__name__}"
    except Exception as exc:  # transport surprises
        return False, f"unreachable: {type(exc).__name__}"
    return True, f"reachable ({(_time.monotonic() - t0) * 1000:.0f} ms)"


# ============================================================================ simulator
def _require_simulator(settings: Settings) -> None:
    if not settings.uses_simulator:
        raise Refused("simulator controls exist only on the built-in simulator")


async def _sim_call(
    method: str, path: str, body: dict[str, Any] | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Call the in-process simulator's control endpoint ``/_sim/<path>``."""
    from travelsim.sft.factory import _simulator_app

    cfg = settings or get_settings()
    _require_simulator(cfg)
    transport = httpx.ASGITransport(app=_simulator_app(cfg))
    async with httpx.AsyncClient(transport=transport, base_url=_SIM_BASE_URL) as http:
        response = await http.request(method, f"/_sim/{path}", json=body)
    try:
        data = response.json()
    except json.JSONDecodeError:
        data = {"error": response.text[:200]}
    if response.status_code >= 400:
        raise Refused(f"simulator refused: {data.get('error', response.status_code)}")
    return cast(dict[str, Any], data)


async def _endpoint_of(esim_id: int) -> str:
    async with db.session() as s:
        esim = await s.get(Esim, esim_id)
        if esim is None:
            raise Refused("unknown eSIM")
        return esim.endpoint_id


async def sim_state(settings: Settings | None = None) -> dict[str, Any]:
    """The simulator's clock and active faults (``GET /_sim/clock``, ``/_sim/faults``);
    ``{}`` when not on the simulator."""
    cfg = settings or get_settings()
    if not cfg.uses_simulator:
        return {}
    clock = await _sim_call("GET", "clock", settings=cfg)
    faults = await _sim_call("GET", "faults", settings=cfg)
    return {"clock": clock.get("now", ""), "faults": faults.get("faults", [])}


async def sim_consume(
    staff: Staff, esim_id: int, megabytes: float, *, client: SFTClient
) -> ActionResult:
    """Consume ``megabytes`` (1 MB = 1,048,576 B) on the eSIM's endpoint in the simulator
    (``POST /_sim/consume``), then refresh the eSIM's figures."""

    async def body() -> str:
        if not 0 < megabytes <= 1_000_000:
            raise Refused("megabytes must be within 0..1,000,000")
        endpoint_id = await _endpoint_of(esim_id)
        out = await _sim_call(
            "POST", "consume", {"endPointId": endpoint_id, "bytes": int(megabytes * _MB)}
        )
        if not out.get("accepted", False):
            raise Refused(f"simulator did not bill the usage: {out.get('reason')}")
        await _sync_quietly(client, [esim_id])
        return f"{format_bytes(int(out.get('billedBytes', 0)))} billed on endpoint {endpoint_id}"

    return await _act(staff, "sim.consume", "esim", str(esim_id), body)


async def sim_profile_status(
    staff: Staff, esim_id: int, status: str, *, client: SFTClient
) -> ActionResult:
    """Set the eSIM profile status in the simulator (``POST /_sim/profile-status``), then
    refresh the eSIM's figures."""

    async def body() -> str:
        if status not in PROFILE_STATUSES:
            raise Refused(f"status must be one of {', '.join(PROFILE_STATUSES)}")
        endpoint_id = await _endpoint_of(esim_id)
        out = await _sim_call(
            "POST", "profile-status", {"endPointId": endpoint_id, "status": status}
        )
        await _sync_quietly(client, [esim_id])
        return f"profile {out.get('previousStatus')} -> {out.get('esimProfileStatus')}"

    return await _act(staff, "sim.profile_status", "esim", str(esim_id), body)


async def sim_advance_clock(staff: Staff, hours: float) -> ActionResult:
    """Move the simulator's clock forward by ``hours`` (``POST /_sim/clock/advance``)."""

    async def body() -> str:
        if not 0 < hours <= 24 * 366:
            raise Refused("hours must be within 0..8784")
        out = await _sim_call("POST", "clock/advance", {"seconds": hours * 3600})
        return f"simulator clock now {out.get('now')}"

    return await _act(staff, "sim.clock", "simulator", "clock", body)


async def sim_fault(staff: Staff, operation: str, kind: str, count: int) -> ActionResult:
    """Inject ``kind`` on the next ``count`` calls of ``operation`` (``*`` = any) in the
    simulator (``POST /_sim/faults``)."""

    async def body() -> str:
        if kind not in FAULT_KINDS:
            raise Refused(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if not 1 <= count <= 100:
            raise Refused("count must be within 1..100")
        op = operation.strip() or "*"
        if not re.fullmatch(r"\*|[A-Za-z]{2,40}", op):
            raise Refused("operation must be an API name (e.g. SubscribeAddon) or *")
        payload: dict[str, Any] = {"operation": op, "kind": kind, "count": count}
        if kind in ("latency", "timeout_after_commit"):
            payload["latency_seconds"] = 2.0
        out = await _sim_call("POST", "faults", payload)
        fault = out.get("fault", {})
        return f"fault #{fault.get('id')}: {kind} on {op} x{count}"

    return await _act(staff, "sim.fault", "simulator", operation.strip() or "*", body)


async def sim_clear_faults(staff: Staff) -> ActionResult:
    """Remove every injected fault (``DELETE /_sim/faults``)."""

    async def body() -> str:
        out = await _sim_call("DELETE", "faults")
        return f"{count_of(int(out.get('cleared', 0)), 'fault')} cleared"

    return await _act(staff, "sim.clear_faults", "simulator", "faults", body)

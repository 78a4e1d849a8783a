"""The four provisioning steps of a paid order, each one attempt against SFT.

The runner (:mod:`travelsim.services.provisioning`) marks a step ``running``, calls its handler
(:data:`HANDLERS`) and commits the handler's changes together with the step's ``done``; a
handler raises :class:`StepError` (or an SFT error) when the attempt failed. Steps, as created
with the order (``order_creation.NEW_ESIM_STEPS`` / ``TOPUP_STEPS``;
docs/business-rules.md#provisioning-steps):

``activate``
    ``POST EndPointLifeCycleChange {lifeCycle:"A"}`` (the documented travel flow,
    docs/sft-platform.md#endpointlifecyclechange; the default of ``SFT_ACTIVATION_CALL``) or,
    with ``SFT_ACTIVATION_CALL=endpoint_activation``, ``POST EndPointActivation`` for a
    Pre-Active endpoint (what a public production client sends,
    docs/sft-platform.md#endpointactivation; a Suspended one is still resumed with "A"). An
    endpoint that already reads ``Active`` is done. On an unknown outcome (timeout, 5xx,
    dropped connection: ``SFTOutcomeUnknown``) or a refusal, the endpoint's status is RE-READ
    (``simStatus`` of ``fetchSIM?iccid=``, docs/sft-platform.md#fetchsim) before anything is
    re-sent; every retry also starts with that re-read. A status that cannot be read is
    "unknown: re-read later" (a retryable failure), never "not changed yet": nothing is sent.
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
    Captures the payment's hold (``payment_holds.capture_with_delivery``: the traveler is
    charged for the delivered eSIM), queues the installation email (``email_messages``,
    ``email.enqueue``) and marks the order ``delivered``, all in the same transaction as the
    step's ``done``: exactly one email, and a capture recorded only with the delivery.

Every SFT call uses ``Priority.PROVISIONING``. Logs never carry matching IDs or codes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.esim import ActivationCode, InvalidActivationCode
from travelsim.esim.lifecycle import SYSTEM_REASONS, endpoint_state, suspended_by_staff
from travelsim.keys import secret_box
from travelsim.models import (
    Esim,
    Order,
    OrderStatus,
    Plan,
    ProvisioningStep,
    PurchaseKind,
    StepName,
    User,
    utcnow,
)
from travelsim.services import email, email_messages, gifts, plan_texts
from travelsim.services.payment_holds import DeliveryCapture, capture_with_delivery
from travelsim.settings import get_settings
from travelsim.sft.client import SFTClient
from travelsim.sft.errors import SFTBusinessError, SFTOutcomeUnknown
from travelsim.sft.models import AddonDetail, AddonStatus, LifecycleResult, Priority

__all__ = ["DETAIL_MAX", "HANDLERS", "PRIORITY", "StepContext", "StepError", "StepHandler"]

log = logging.getLogger(__name__)

PRIORITY = Priority.PROVISIONING
DETAIL_MAX = 500  # ProvisioningStep.detail column length


class StepError(Exception):
    """A step attempt failed; ``retryable`` says whether another attempt can help (and so
    whether the failure is transient, ``provisioning_retry.is_transient``)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass
class StepContext:
    """What a step attempt works on: the run's session and client, the order and its eSIM
    (loaded, written by the step, committed by the runner), the portal's public origin
    for email links, and the run's capture of the payment (made by the deliver step)."""

    session: AsyncSession
    client: SFTClient
    order: Order
    esim: Esim
    public_url: str
    capture: DeliveryCapture = field(default_factory=DeliveryCapture)


#: ``await handler(ctx, step)`` → the step's ``detail`` text (at most :data:`DETAIL_MAX`
#: characters are kept).
StepHandler = Callable[[StepContext, ProvisioningStep], Awaitable[str]]


# --- activate --------------------------------------------------------------------------------
def _is_active(status: str | None) -> bool:
    return endpoint_state(status) == "active"


async def _endpoint_status(ctx: StepContext, *, may_resume: bool = False) -> str:
    """Re-read the endpoint's lifecycle status: ``simStatus`` of ``fetchSIM?iccid=``
    (docs/sft-platform.md#fetchsim; the SIM and its endpoint change state together). Raises a
    *retryable* :class:`StepError` when the status cannot be read (SIM not listed, no
    ``simStatus``, linked elsewhere): unknown, re-read later; never taken as "not changed yet".

    With ``may_resume`` (the caller is about to send "A") and a Suspended endpoint, the
    suspension reason is read from GetEndPointProfile (docs/sft-platform.md#getendpointprofile)
    and a non-retryable :class:`StepError` is raised when it was suspended by staff or for a
    reason not reported, so a staff suspension is never resumed by a purchase
    (docs/business-rules.md#staff-suspension); a system suspension (reason "1"/"2") may be."""
    status = await ctx.client.sim_status(
        ctx.esim.iccid, endpoint_id=ctx.esim.endpoint_id, priority=PRIORITY
    )
    if not status:
        raise StepError("endpoint status unreadable: unknown, re-read later", retryable=True)
    if may_resume and endpoint_state(status) == "suspended":
        profile = await ctx.client.endpoint_profile(ctx.esim.endpoint_id, priority=PRIORITY)
        reason = (profile.lifecycle_reason or "").strip()
        if suspended_by_staff(status, reason) or reason not in SYSTEM_REASONS:
            who = "by staff" if suspended_by_staff(status, reason) else "(reason not reported)"
            raise StepError(
                f"endpoint suspended {who}, reason {reason or '?'}: not resumed", retryable=False
            )
    ctx.esim.endpoint_status = status
    ctx.esim.updated_at = utcnow()
    ctx.session.add(ctx.esim)
    return status


async def _send_activation(ctx: StepContext, status: str | None) -> LifecycleResult:
    """Send the activation: ``EndPointActivation`` when ``SFT_ACTIVATION_CALL`` is
    ``endpoint_activation`` and the endpoint is Pre-Active (``status`` ``None``: a new eSIM's
    first attempt, from the Pre-Active pool); otherwise ``EndPointLifeCycleChange "A"``, the
    only call that resumes a Suspended endpoint (docs/sft-platform.md#endpointactivation)."""
    endpoint_id = ctx.esim.endpoint_id
    if get_settings().sft_activation_call == "endpoint_activation" and endpoint_state(status) in (
        None,
        "preactive",
    ):
        return await ctx.client.activate_endpoint(endpoint_id, priority=PRIORITY)
    return await ctx.client.change_lifecycle(endpoint_id, "A", priority=PRIORITY)


async def _reread_or_unknown(ctx: StepContext, what: str) -> str:
    """:func:`_endpoint_status` after a send whose result is not a plain success: an
    unreadable status becomes a retryable "unknown" failure naming ``what`` happened."""
    try:
        return await _endpoint_status(ctx)
    except StepError:
        raise StepError(
            f"{what}; endpoint status unreadable: unknown, re-read later", retryable=True
        ) from None


async def _step_activate(ctx: StepContext, step: ProvisioningStep) -> str:
    """Pre-Active/Suspended → Active (:func:`_send_activation`,
    docs/sft-platform.md#endpointlifecyclechange); never from a staff suspension (the
    re-read before "A" refuses it: :func:`_endpoint_status`). A new eSIM's first attempt
    sends without a re-read: it comes from the Pre-Active pool, which staff cannot
    suspend (only Active endpoints suspend)."""
    status: str | None = None
    if step.attempts > 1 or ctx.order.kind != PurchaseKind.NEW_ESIM:
        status = await _endpoint_status(ctx, may_resume=True)
        if _is_active(status):
            return "endpoint already Active (re-read)"
    try:
        result = await _send_activation(ctx, status)
    except SFTOutcomeUnknown as exc:
        what = f"activation outcome unknown ({type(exc).__name__})"
        status = await _reread_or_unknown(ctx, what)
        if _is_active(status):
            return "endpoint Active (verified by re-read after an unknown outcome)"
        raise StepError(f"{what}; endpoint reads {status}", retryable=True) from None
    except SFTBusinessError as exc:
        what = f"activation refused: code {exc.result_code}"
        status = await _reread_or_unknown(ctx, what)
        if _is_active(status):
            return f"endpoint already Active (code {exc.result_code})"
        raise StepError(f"{what}, endpoint reads {status}", retryable=False) from None
    if result.already_active:
        detail = f"endpoint already Active (code {result.result_code})"
    else:
        detail = f"endpoint activated (code {result.result_code or '0'})"
    ctx.esim.endpoint_status = result.current_status or "Active"
    ctx.esim.updated_at = utcnow()
    ctx.session.add(ctx.esim)
    return detail


# --- subscribe -------------------------------------------------------------------------------
def _uid_key(uid: str) -> tuple[int, str]:
    return (len(uid), uid)


async def _claimed_elsewhere(ctx: StepContext) -> set[str]:
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


async def _baseline(
    ctx: StepContext, step: ProvisioningStep, rows: list[AddonDetail], claimed: set[str]
) -> set[str]:
    """The instances of the plan on the endpoint before the first send, recorded in
    ``step.detail`` (committed here, BEFORE the first send) or read back from it."""
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
                if r.plan_id == ctx.order.plan_id and r.unique_id not in claimed
            ),
            key=_uid_key,
        )
        encoded = json.dumps(state, separators=(",", ":"))
        if len(encoded) > DETAIL_MAX:  # cannot persist it: never subscribe without one
            raise StepError(
                f"{len(state['baseline'])} unowned instances of the plan on the endpoint; "
                "staff must check before subscribing",
                retryable=False,
            )
        step.detail = encoded
        ctx.session.add(step)
        await ctx.session.commit()  # the baseline must be durable BEFORE the first send
    return set(state["baseline"])


async def _step_subscribe(ctx: StepContext, step: ProvisioningStep) -> str:
    """SubscribeAddon once, adopting an instance a lost answer already created
    (docs/business-rules.md#provisioning-steps)."""
    order, endpoint_id = ctx.order, ctx.esim.endpoint_id
    if order.addon_unique_id:
        return f"add-on uniqueId {order.addon_unique_id} already stored"
    rows = await ctx.client.addon_details(endpoint_id=endpoint_id, priority=PRIORITY)
    claimed = await _claimed_elsewhere(ctx)
    baseline = await _baseline(ctx, step, rows, claimed)
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
        raise StepError(
            f"SubscribeAddon outcome unknown ({type(exc).__name__}); no new instance yet",
            retryable=True,
        ) from None
    order.addon_unique_id = result.unique_id
    order.updated_at = utcnow()
    ctx.session.add(order)
    return f"add-on subscribed, uniqueId {result.unique_id}"


def _adopt(ctx: StepContext, found: list[AddonDetail], how: str) -> str:
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


# --- fetch_code ------------------------------------------------------------------------------
async def _step_fetch_code(ctx: StepContext, step: ProvisioningStep) -> str:
    """fetchSIM by ICCID → activation code, validated and stored encrypted
    (docs/sft-platform.md#fetchsim)."""
    esim = ctx.esim
    sim = await ctx.client.find_sim(esim.iccid, priority=PRIORITY)
    if sim is None:
        raise StepError("ICCID not found on the platform", retryable=False)
    if sim.endpoint_id and sim.endpoint_id != esim.endpoint_id:
        raise StepError("the SIM is linked to another endpoint", retryable=False)
    text = sim.activation_code
    if not text and sim.smdp_address and sim.matching_id:
        text = f"LPA:1${sim.smdp_address}${sim.matching_id}"
    if not text:
        raise StepError("the platform returned no activation code yet", retryable=True)
    try:
        code = ActivationCode.parse(text)
    except InvalidActivationCode as exc:  # messages never contain the matching ID
        raise StepError(
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


# --- deliver ---------------------------------------------------------------------------------
async def _step_deliver(ctx: StepContext, step: ProvisioningStep) -> str:
    """Capture the hold, queue the email and mark the order delivered (committed with the
    step's ``done``)."""
    order = ctx.order
    if order.kind == PurchaseKind.NEW_ESIM and not ctx.esim.activation_code_enc:
        raise StepError("no activation code stored", retryable=False)
    await capture_with_delivery(ctx.session, order.payment_id, ctx.capture)
    user = ctx.capture.buyer  # read with the payment
    if user is None or user.id != order.user_id:
        user = await ctx.session.get(User, order.user_id) if order.user_id is not None else None
    plan = await ctx.session.get(Plan, order.plan_id)
    detail = "no recipient"
    gift = None
    if order.kind == PurchaseKind.NEW_ESIM:
        try:  # a gift: the claim email, not the QR (docs/business-rules.md#gifts)
            if ctx.esim.gift_pending:  # only a gift's eSIM: no query for the others
                gift = await gifts.deliver(ctx.session, order, public_url=ctx.public_url)
        except ValueError as exc:
            log.warning("gift email not queued: %s", exc, extra={"order_id": order.id})
            gift = "gift email not queued (invalid address)"
    if gift is not None:
        detail = gift
    elif user is not None:
        lang = email.recipient_locale(user)  # docs/i18n.md#emails
        # The seller's name of the plan in that language (docs/i18n.md#plan-texts); no
        # query for English.
        texts = await plan_texts.texts_for(ctx.session, [order.plan_id], locale=lang)
        title = plan_texts.plan_title(plan, texts) if plan else order.plan_id
        if order.kind == PurchaseKind.NEW_ESIM:
            message = email_messages.installation_email(
                order, ctx.esim, title=title, locale=lang, public_url=ctx.public_url
            )
        else:
            message = email_messages.topup_email(
                order, ctx.esim, title=title, locale=lang, public_url=ctx.public_url
            )
        try:
            await email.enqueue(ctx.session, to=user.email, user_id=user.id, **message)
            detail = f"{message['kind']} email queued"
        except ValueError as exc:  # bad address: the account page still has everything
            log.warning("delivery email not queued: %s", exc, extra={"order_id": order.id})
            detail = "email not queued (invalid address); install page available"
    now = utcnow()
    order.status = OrderStatus.DELIVERED
    order.delivered_at = now
    order.last_error = None
    order.next_attempt_at = None
    order.updated_at = now
    ctx.session.add(order)
    return detail


HANDLERS: dict[str, StepHandler] = {
    StepName.ACTIVATE: _step_activate,
    StepName.SUBSCRIBE: _step_subscribe,
    StepName.FETCH_CODE: _step_fetch_code,
    StepName.DELIVER: _step_deliver,
}

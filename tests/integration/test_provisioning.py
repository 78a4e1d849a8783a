"""Provisioning against the SFT simulator over a real loopback socket, with fault injection.

Expected platform state comes from docs/business-rules.md#provisioning-steps (endpoint Active, one
add-on instance of the plan per order) and from the simulator's own fetchSIM answer (activation
code), never from the code under test.
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    PLAN_ID,
    ProxyProvider,
    Sim,
    add_plan,
    add_user,
    buy,
    pay_checkout,
    sft_clients,
    sim_factory,
    stripe_get,
)
from sqlmodel import select

from travelsim import db
from travelsim.esim import ActivationCode, qr_png
from travelsim.keys import secret_box
from travelsim.models import Esim, Order, OutboxEmail, Payment, ProvisioningStep, User
from travelsim.services import checkout, email, installation, provisioning
from travelsim.services.payments import PaymentProvider, PaymentProviderError
from travelsim.settings import Settings
from travelsim.sft import SFTClient

FAST = {"backoff": (0.01,)}


class Progress:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    async def __call__(self, step: str, status: str) -> None:
        self.events.append((step, status))


async def get(model: Any, key: Any) -> Any:
    async with db.session() as s:
        return await s.get(model, key)


async def steps_of(order_id: str) -> list[ProvisioningStep]:
    async with db.session() as s:
        rows = await s.exec(
            select(ProvisioningStep)
            .where(ProvisioningStep.order_id == order_id)
            .order_by(ProvisioningStep.seq)
        )
        return list(rows.all())


async def emails() -> list[OutboxEmail]:
    async with db.session() as s:
        return list((await s.exec(select(OutboxEmail).order_by(OutboxEmail.id))).all())


async def paid_order(user: User, client: SFTClient, **kw: Any) -> Order:
    outcome = await buy(user, client, **kw)
    assert outcome.status == "paid" and outcome.order_id
    order = await get(Order, outcome.order_id)
    assert order is not None
    return order  # type: ignore[no-any-return]


def subscriptions(sim: Sim, endpoint_id: str) -> int:
    return int(sim.state()["subscriptionsPerEndpoint"].get(endpoint_id, 0))


async def wait_for_calls(sim: Sim, operation: str, n: int) -> list[dict[str, Any]]:
    """The logged calls of ``operation`` once at least ``n`` are logged (or after 5 s)."""
    for _ in range(100):
        calls = sim.calls(operation)
        if len(calls) >= n:
            await asyncio.sleep(0.2)  # would a further one show up?
            return sim.calls(operation)
        await asyncio.sleep(0.05)
    return sim.calls(operation)


def state_changing_calls(sim: Sim) -> list[dict[str, Any]]:
    return [
        c for c in sim.calls() if c["method"] in ("POST", "PATCH") and c["operation"] != "login"
    ]


async def test_happy_path_delivers_exactly_once(
    any_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=3)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()
    order = await paid_order(user, client)
    esim = await get(Esim, order.esim_id)
    progress = Progress()

    done = await provisioning.run_order(order.id, client=client, on_progress=progress, **FAST)

    assert done.status == "delivered" and done.delivered_at is not None
    assert [(s.name, s.status, s.attempts) for s in await steps_of(order.id)] == [
        ("activate", "done", 1),
        ("subscribe", "done", 1),
        ("fetch_code", "done", 1),
        ("deliver", "done", 1),
    ]
    # Delivered, so charged: the hold is captured (at localstripe too).
    payment = await get(Payment, order.payment_id)
    assert payment.status == "succeeded" and payment.captured_at is not None
    assert stripe_get(f"payment_intents/{payment.provider_ref}")["status"] == "succeeded"
    assert progress.events == [
        ("order", "provisioning"),
        ("activate", "running"),
        ("activate", "done"),
        ("subscribe", "running"),
        ("subscribe", "done"),
        ("fetch_code", "running"),
        ("fetch_code", "done"),
        ("deliver", "running"),
        ("deliver", "done"),
        ("order", "delivered"),
    ]
    # The platform: endpoint Active, exactly one add-on of the plan, the one the order stored.
    assert sim.endpoint_status(esim.endpoint_id) == "Active"
    addons = sim.addons(esim.endpoint_id)
    assert [(a["planId"], a["uniqueId"]) for a in addons] == [(PLAN_ID, done.addon_unique_id)]
    ops = [c["operation"] for c in state_changing_calls(sim)]
    assert sorted(ops) == ["endpointlifecyclechange", "subscribeaddon"]

    # The stored code decrypts to exactly the platform's activation code.
    platform_code = sim.sim_row(esim.iccid)["activationCode"]
    esim = await get(Esim, order.esim_id)
    assert esim.activation_code_enc and platform_code["matchingId"] not in esim.activation_code_enc
    assert secret_box().decrypt(esim.activation_code_enc) == platform_code["textQrCode"]
    assert esim.confirmation_code_required is False

    # One installation email: QR inline, link to the install page, no matching ID in text.
    (mail,) = await emails()
    assert (mail.kind, mail.to_address, mail.user_id) == ("installation", user.email, user.id)
    link = f"{any_db.public_url}/esims/{esim.id}/install"
    assert link in mail.body_text and mail.body_html and link in mail.body_html
    assert platform_code["smDpPlusAdress"] in mail.body_text
    for body in (mail.body_text, mail.body_html):
        assert platform_code["matchingId"] not in body
        assert "esimsetup" not in body  # one-tap links carry the code: install page only
    # The QR is a deferred attachment: the outbox keeps a reference, never the code in
    # clear; it is rendered when the message is built (sending, demo mailbox).
    (att,) = mail.attachments
    assert (att["content_id"], att["content_type"]) == ("esim-qr", "image/png")
    assert att["render"] == f"esim-qr:{esim.id}" and "data_b64" not in att
    expected_qr = qr_png(ActivationCode.parse(platform_code["textQrCode"]))
    async with db.session() as s:
        (rendered,) = await email.resolve_attachments(s, mail)
        assert base64.b64decode(rendered["data_b64"]) == expected_qr
        images = [
            p
            for p in email.build_message(mail, any_db, [rendered]).walk()
            if p.get_content_type() == "image/png"
        ]
        assert [(p["Content-ID"], p.get_content()) for p in images] == [("<esim-qr>", expected_qr)]
        # Only for the eSIM's owner: a row addressed to someone else renders nothing.
        stranger = mail.model_copy(update={"user_id": (user.id or 0) + 1000})
        with pytest.raises(LookupError):
            await email.resolve_attachments(s, stranger)
    with pytest.raises(ValueError):
        email.build_message(mail, any_db)  # never sent unrendered
    assert 'src="cid:esim-qr"' in mail.body_html

    # The install page data: owner only.
    async with db.session() as s:
        view = await installation.install_view(s, user=user, esim_id=esim.id)
        assert view is not None
        assert (view.status, view.smdp_address, view.matching_id, view.lpa) == (
            "ready",
            platform_code["smDpPlusAdress"],
            platform_code["matchingId"],
            platform_code["textQrCode"],
        )
        assert view.ios_link == (
            "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata="
            + quote(platform_code["textQrCode"], safe="")
        )
        assert view.android_link == (
            "https://esimsetup.android.com/esim_qrcode_provisioning?carddata="
            + quote(platform_code["textQrCode"], safe="")
        )
        assert platform_code["matchingId"] not in repr(view)
        assert view.order_reference == order.reference
        assert await installation.qr_png_for(s, user=user, esim_id=esim.id) == expected_qr
        stranger = await add_user()
        assert await installation.install_view(s, user=stranger, esim_id=esim.id) is None
        assert await installation.qr_png_for(s, user=stranger, esim_id=esim.id) is None
        assert await installation.install_view(s, user=user, esim_id=10_000) is None

    # Re-running a delivered order changes nothing and calls nothing on SFT.
    sim.clear_calls()
    again = await provisioning.run_order(order.id, client=client, **FAST)
    assert again.status == "delivered"
    assert sim.calls() == []
    assert len(await emails()) == 1
    assert [s.attempts for s in await steps_of(order.id)] == [1, 1, 1, 1]


async def test_subscribe_timeout_after_commit_adopts_the_instance(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """SubscribeAddon is applied but its answer never arrives: the re-read finds the new
    instance and adopts its uniqueId; the platform shows ONE subscription."""
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url, timeout=1.0, long_timeout=1.0)
    await add_plan()
    order = await paid_order(await add_user(), client)
    esim = await get(Esim, order.esim_id)
    sim.fault("SubscribeAddon", "timeout_after_commit", latency_seconds=2, count=1)

    done = await provisioning.run_order(order.id, client=client, **FAST)

    assert done.status == "delivered"
    assert subscriptions(sim, esim.endpoint_id) == 1
    (addon,) = sim.addons(esim.endpoint_id)
    assert done.addon_unique_id == addon["uniqueId"]
    # The simulator logs a call when it answers: wait for the delayed answer.
    assert len(await wait_for_calls(sim, "subscribeaddon", 1)) == 1
    step = next(s for s in await steps_of(order.id) if s.name == "subscribe")
    assert (step.status, step.attempts) == ("done", 1)
    assert "adopted" in (step.detail or "")


class Crash(BaseException):
    """Stands for the process dying (not caught by the provisioning code)."""


class CrashAfterSubscribe(SFTClient):
    async def subscribe_addon(self, *args: Any, **kwargs: Any) -> Any:
        await super().subscribe_addon(*args, **kwargs)
        raise Crash


async def test_crash_after_subscribe_resumes_without_a_second_subscription(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    order = await paid_order(await add_user(), client)
    esim = await get(Esim, order.esim_id)
    crashing = CrashAfterSubscribe(sim.url, "demo", "demo", rate_budget=client._budget)
    try:
        with pytest.raises(Crash):
            await provisioning.run_order(order.id, client=crashing, **FAST)
    finally:
        await crashing.aclose()
    await db.async_engine().dispose()  # the crashed run's connections are gone too
    left = await get(Order, order.id)
    assert (left.status, left.addon_unique_id) == ("provisioning", None)
    assert [s.status for s in await steps_of(order.id)] == ["done", "running", "pending", "pending"]

    # Another run sees a live lease and leaves the order alone...
    sim.clear_calls()
    same = await provisioning.run_order(order.id, client=client, **FAST)
    assert same.status == "provisioning" and sim.calls() == []
    # ...until the lease is over (here: immediately).
    done = await provisioning.run_order(order.id, client=client, lease=timedelta(0), **FAST)
    assert done.status == "delivered"
    (addon,) = sim.addons(esim.endpoint_id)
    assert done.addon_unique_id == addon["uniqueId"]
    assert sim.calls("subscribeaddon") == []  # adopted, never re-sent
    assert sim.calls("endpointlifecyclechange") == []  # activate was done: skipped
    assert subscriptions(sim, esim.endpoint_id) == 1


async def test_activation_http500_is_retried_in_place(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    order = await paid_order(await add_user(), client)
    esim = await get(Esim, order.esim_id)
    sim.fault("EndPointLifeCycleChange", "http500", count=1)
    progress = Progress()

    done = await provisioning.run_order(order.id, client=client, on_progress=progress, **FAST)

    assert done.status == "delivered"
    activate = (await steps_of(order.id))[0]
    assert (activate.name, activate.status, activate.attempts) == ("activate", "done", 2)
    assert progress.events[1:4] == [
        ("activate", "running"),
        ("activate", "retrying"),
        ("activate", "running"),
    ]
    changes = sim.calls("endpointlifecyclechange")
    assert [c["status"] for c in changes] == [500, 200]
    # The status is re-read (fetchSIM?iccid=, simStatus) between the failed and the new send.
    assert [c for c in sim.calls("fetchsim") if changes[0]["seq"] < c["seq"] < changes[1]["seq"]]
    assert sim.endpoint_status(esim.endpoint_id) == "Active"


async def test_activation_timeout_after_commit_is_verified_not_resent(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url, timeout=1.0, long_timeout=1.0)
    await add_plan()
    order = await paid_order(await add_user(), client)
    sim.fault("EndPointLifeCycleChange", "timeout_after_commit", latency_seconds=2, count=1)

    done = await provisioning.run_order(order.id, client=client, **FAST)

    assert done.status == "delivered"
    activate = (await steps_of(order.id))[0]
    assert (activate.status, activate.attempts) == ("done", 1)
    assert len(await wait_for_calls(sim, "endpointlifecyclechange", 1)) == 1


class FailingVoidProvider(ProxyProvider):
    """localstripe, except that releasing a hold fails (Stripe unreachable at that moment)."""

    async def void(self, ref: str) -> None:
        self.calls["void"] += 1
        raise PaymentProviderError("provider_unavailable", "void failed")


@pytest.mark.parametrize(
    ("failing_void", "payment_status", "intent_status"),
    [(False, "voided", "canceled"), (True, "flagged", "requires_capture")],
)
async def test_persistent_failure_needs_attention_and_voids_payment(
    sqlite_db: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    failing_void: bool,
    payment_status: str,
    intent_status: str,
) -> None:
    provider: PaymentProvider | None = FailingVoidProvider() if failing_void else None
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    order = await paid_order(await add_user(), client)
    esim = await get(Esim, order.esim_id)
    sim.fault("EndPointLifeCycleChange", "http500", probability=1.0)
    progress = Progress()

    # A transient fault is retried automatically only within the retry window; with no
    # window left (here: none at all) the run gives up at once.
    failed = await provisioning.run_order(
        order.id,
        client=client,
        on_progress=progress,
        provider=provider,
        retry_window=timedelta(0),
        **FAST,
    )

    assert failed.status == "needs_attention"
    assert failed.last_error and failed.last_error.startswith("activate:")
    assert "automatic retries" in failed.last_error
    assert [(s.status, s.attempts) for s in await steps_of(order.id)] == [
        ("failed", 3),
        ("pending", 0),
        ("pending", 0),
        ("pending", 0),
    ]
    assert progress.events[-2:] == [("activate", "failed"), ("order", "needs_attention")]
    assert [e for e in progress.events if e == ("activate", "retrying")] == [
        ("activate", "retrying")
    ] * 2
    payment = await get(Payment, order.payment_id)
    assert payment.status == payment_status
    # Given up: the hold is released at Stripe (or, when that failed, flagged for staff
    # with the hold still there).
    assert stripe_get(f"payment_intents/{payment.provider_ref}")["status"] == intent_status
    assert len(sim.calls("endpointlifecyclechange")) == 3
    assert sim.endpoint_status(esim.endpoint_id) == "Pre-Active"
    assert await emails() == []
    async with db.session() as s:
        view = await installation.install_view(
            s, user=await get(User, order.user_id), esim_id=esim.id
        )
    assert view is not None and view.status == "needs_attention" and view.lpa is None

    # Re-running a needs_attention order does nothing.
    sim.clear_faults()
    sim.clear_calls()
    again = await provisioning.run_order(order.id, client=client, **FAST)
    assert again.status == "needs_attention" and sim.calls() == []


async def test_platform_refusal_fails_without_retry(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    """A plan the platform does not know: SubscribeAddon is refused (business error), which
    another attempt cannot fix."""
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan("999999")
    order = await paid_order(await add_user(), client, plan_id="999999")

    failed = await provisioning.run_order(order.id, client=client, **FAST)

    assert failed.status == "needs_attention"
    steps = await steps_of(order.id)
    assert [(s.name, s.status, s.attempts) for s in steps[:2]] == [
        ("activate", "done", 1),
        ("subscribe", "failed", 1),
    ]
    assert len(sim.calls("subscribeaddon")) == 1
    payment = await get(Payment, order.payment_id)
    assert payment.status == "voided"
    assert stripe_get(f"payment_intents/{payment.provider_ref}")["status"] == "canceled"


async def test_topup_subscribes_a_second_instance_on_the_same_esim(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> None:
    sim = sim_factory(esims=2)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()
    first = await provisioning.run_order((await paid_order(user, client)).id, client=client)
    esim = await get(Esim, first.esim_id)

    async with db.session() as s:
        c = await checkout.start_checkout(
            s, user=user, plan_id=PLAN_ID, destination="FR", kind="topup", esim_id=esim.id
        )
        assert c.reserved_until is None
    outcome = await pay_checkout(user, c.id)
    assert outcome.status == "paid" and outcome.order_id
    sim.clear_calls()
    second = await provisioning.run_order(outcome.order_id, client=client, **FAST)

    assert second.status == "delivered" and second.esim_id == esim.id
    assert (await get(Payment, second.payment_id)).status == "succeeded"
    assert [s.name for s in await steps_of(second.id)] == ["activate", "subscribe", "deliver"]
    ids = sorted(a["uniqueId"] for a in sim.addons(esim.endpoint_id) if a["planId"] == PLAN_ID)
    assert sorted([first.addon_unique_id, second.addon_unique_id]) == ids
    assert len(ids) == 2 and ids[0] != ids[1]
    assert sim.calls("endpointlifecyclechange") == []  # already Active (re-read)
    assert len(sim.calls("subscribeaddon")) == 1
    kinds = [m.kind for m in await emails()]
    assert kinds == ["installation", "topup"]
    # Somebody else cannot top up this eSIM.
    async with db.session() as s:
        with pytest.raises(checkout.CheckoutError) as exc:
            await checkout.start_checkout(
                s,
                user=await add_user(),
                plan_id=PLAN_ID,
                destination="FR",
                kind="topup",
                esim_id=esim.id,
            )
    assert exc.value.code == "not_found"

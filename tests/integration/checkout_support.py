"""Helpers shared by the purchase-backend tests (inventory, checkout, provisioning).

No tests here. The SFT simulator runs under uvicorn on a real loopback socket
(``sim_fixtures.start_sim_server``) with no rate limit; the portal's own SFTClient talks to it
with a generous local budget and short back-offs. Databases are the migrated real ones of
``tests/conftest.py`` (``sqlite_db`` / ``pg_db`` / ``any_db``).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sim_fixtures import SimApi, SimServer, start_sim_server

from tests import stripe_support
from travelsim import db
from travelsim.models import Payment, Plan, User
from travelsim.services import checkout, checkout_outcome, checkout_payment, consent
from travelsim.services.admin import Staff
from travelsim.services.order_creation import StartProvisioning
from travelsim.services.payments import (
    CardInfo,
    ChargeResult,
    PaymentProvider,
    StripeProvider,
    get_provider,
)
from travelsim.sft import LocalRateBudget, SFTClient

PLAN_ID = "870101"  # simulator catalogue: "France 1 GB 7 days"
PRICE_MINOR = 990
CURRENCY = "EUR"
CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0002"
CARD_3DS = "4000 0025 0000 3155"

_emails = itertools.count(1)


def make_client(url: str, **kwargs: Any) -> SFTClient:
    kwargs.setdefault("rate_budget", LocalRateBudget(1000.0))
    kwargs.setdefault("retry_backoff", 0.02)
    kwargs.setdefault("retry_backoff_max", 0.1)
    kwargs.setdefault("rate_limit_backoff", 0.1)
    kwargs.setdefault("rate_limit_backoff_max", 0.5)
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("long_timeout", 5.0)
    return SFTClient(url, "demo", "demo", **kwargs)


class Sim:
    """A running simulator plus a synchronous control/API client for assertions."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.url = server.url
        self.api = SimApi(server.url)
        assert self.api.login().status_code == 200

    def ctl(self, method: str, path: str, body: Any = None) -> Any:
        r = self.api.ctl(method, path, body)
        assert r.status_code == 200, r.text
        return r.json()

    def fault(self, operation: str, kind: str, **options: Any) -> None:
        self.ctl("POST", "faults", {"operation": operation, "kind": kind, **options})

    def clear_faults(self) -> None:
        self.ctl("DELETE", "faults")

    def calls(self, operation: str | None = None) -> list[dict[str, Any]]:
        path = "calls?limit=5000" + (f"&operation={operation}" if operation else "")
        return list(self.ctl("GET", path)["calls"])

    def clear_calls(self) -> None:
        self.ctl("DELETE", "calls")

    def state(self) -> dict[str, Any]:
        return dict(self.ctl("GET", "state"))

    def sim_row(self, iccid: str) -> dict[str, Any]:
        rows = self.api.resp(self.api.get("fetchSIM", iccid=iccid))["responseParam"]["rows"]
        assert len(rows) == 1
        return dict(rows[0])

    def endpoint_status(self, endpoint_id: str) -> str:
        info = self.api.resp(self.api.get("GetEndPointProfile", endPointId=endpoint_id))["info"]
        return str(info["basicInfo"]["status"])

    def addons(self, endpoint_id: str) -> list[dict[str, Any]]:
        return self.api.addons(endPointId=endpoint_id)

    def close(self) -> None:
        self.api.close()
        self.server.stop()


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[Callable[..., Sim]]:
    """``sim_factory(esims=N)`` starts a simulator seeded with N eSIMs (no rate limit)."""
    started: list[Sim] = []

    def factory(esims: int = 10, **overrides: Any) -> Sim:
        server = start_sim_server(
            tmp_path / f"sim{len(started)}.db", seed_esims=esims, rate_limit_tps=0, **overrides
        )
        sim = Sim(server)
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        sim.close()


@pytest.fixture
async def sft_clients() -> AsyncIterator[Callable[..., SFTClient]]:
    """``sft_clients(url, **kw)`` builds SFTClients closed at teardown."""
    clients: list[SFTClient] = []

    def factory(url: str, **kwargs: Any) -> SFTClient:
        client = make_client(url, **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()
    await db.async_engine().dispose()


async def add_plan(
    plan_id: str = PLAN_ID,
    *,
    on_sale: bool = True,
    destinations: list[str] | None = None,
) -> None:
    """A priced plan as the catalogue sync + seed would leave it (values from the simulator
    catalogue: 1 GB = 1,073,741,824 bytes, 7 days, On Usage)."""
    async with db.session() as s:
        s.add(
            Plan(
                plan_id=plan_id,
                sft_name="France 1 GB 7 days",
                volume_bytes=1_073_741_824,
                validity_days=7,
                activated_by="on_usage",
                sft_countries=["FR"],
                display_name="France 1 GB",
                price_minor=PRICE_MINOR,
                currency=CURRENCY,
                destinations=destinations if destinations is not None else ["FR"],
                on_sale=on_sale,
            )
        )
        await s.commit()


async def add_user(email: str | None = None) -> User:
    async with db.session() as s:
        user = User(email=email or f"traveler{next(_emails)}@example.com", password_hash="x")
        s.add(user)
        await s.commit()
        await s.refresh(user)
        return user


async def make_staff(email: str = "boss@example.com") -> Staff:
    """A new account with the staff role, as the admin services take it."""
    user = await add_user(email)
    async with db.session() as s:
        row = await s.get(User, user.id)
        assert row is not None
        row.is_staff = True
        s.add(row)
        await s.commit()
    assert user.id is not None
    return Staff(user.id, email)


def card_token(number: str, base: str | None = None) -> str:
    """A single-use card token for ``number`` (spaces allowed) on the localstripe at
    ``base`` (default: the one ``stripe_config()`` names, i.e. the session fixture
    ``localstripe``), made as Stripe.js makes it in the browser
    (``tests.stripe_support.card_token``)."""
    from travelsim.stripe_config import stripe_config

    return stripe_support.card_token(base or stripe_config().api_base, number.replace(" ", ""))


async def card_token_async(number: str, base: str | None = None) -> str:
    """:func:`card_token` off the event loop (the browser makes it, not the portal; many
    concurrent buyers do not wait on each other's token)."""
    return await asyncio.to_thread(card_token, number, base)


async def pay_checkout(
    user: User,
    checkout_id: str,
    *,
    card: str = CARD_OK,
    provider: PaymentProvider | None = None,
    keep_card: bool = False,
    device_confirmed: bool = True,
    start_provisioning: StartProvisioning | None = None,
    token_base: str | None = None,
    accept_terms: bool = True,
    **kwargs: Any,
) -> checkout_outcome.PayOutcome:
    """``checkout_payment.pay`` of ``checkout_id`` in a fresh session with a new ``card``
    number tokenised on the provider's localstripe (what the browser sends: only the
    token; ``token_base``: the Stripe the browser reaches, default the provider's).
    ``accept_terms``: the traveler ticked the terms and immediate-start boxes (recorded with
    this payment; ``False``: only what the checkout already records; an ``acceptance=`` in
    ``kwargs`` wins).
    ``kwargs`` go to ``pay`` (e.g. ``payment_window_minutes``)."""
    prov = provider or get_provider()
    async with db.session() as s:
        return await checkout_payment.pay(
            s,
            prov,
            checkout_id=checkout_id,
            user=user,
            card=checkout_payment.NewCard(await card_token_async(card, token_base or _base(prov))),
            device_confirmed=device_confirmed,
            keep_card=keep_card,
            start_provisioning=start_provisioning,
            **{"acceptance": consent.Acceptance.given_now() if accept_terms else None, **kwargs},
        )


def _base(provider: PaymentProvider) -> str:
    from travelsim.stripe_config import stripe_config

    if isinstance(provider, StripeProvider):
        return provider.api_base
    inner = getattr(provider, "inner", None)  # a wrapping test provider
    if inner is not None:
        return _base(inner)
    return stripe_config().api_base


async def pass_3ds(
    user: User,
    outcome: checkout_outcome.PayOutcome,
    *,
    success: bool = True,
    provider: PaymentProvider | None = None,
    start_provisioning: StartProvisioning | None = None,
) -> checkout_outcome.PayOutcome:
    """What the browser does with a ``requires_action`` outcome: the 3-D Secure dialog
    (``tests.stripe_support.authenticate_3ds``, passed or failed) on the outcome's
    PaymentIntent, then ``checkout_payment.confirm_payment`` (a fresh session)."""
    prov = provider or get_provider()
    assert outcome.status == "requires_action" and outcome.client_secret, outcome
    ref = await intent_of(outcome.payment_id)
    stripe_support.authenticate_3ds(_base(prov), ref, outcome.client_secret, success)
    async with db.session() as s:
        return await checkout_payment.confirm_payment(
            s,
            prov,
            checkout_id=outcome.checkout_id,
            user=user,
            start_provisioning=start_provisioning,
        )


async def intent_of(payment_id: int | None) -> str:
    """The PaymentIntent id (``pi_…``) of payment ``payment_id``."""
    async with db.session() as s:
        payment = await s.get(Payment, payment_id)
        assert payment is not None and payment.provider_ref, payment
        return payment.provider_ref


def stripe_get(path: str, base: str | None = None) -> dict[str, Any]:
    """``GET <base>/v1/<path>`` on localstripe with the secret key (what staff would see in
    the Stripe dashboard), as a dict."""
    import httpx

    from travelsim.stripe_config import stripe_config

    config = stripe_config()
    r = httpx.get(
        f"{base or config.api_base}/v1/{path}",
        headers={"Authorization": f"Bearer {config.secret_key}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def stripe_intents(checkout_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Every PaymentIntent at the session's localstripe (``GET /v1/payment_intents``, all of
    them: localstripe has no page limit), or those whose ``metadata.checkout_id`` is one of
    ``checkout_ids`` (the localstripe is shared by the whole session)."""
    listed = stripe_get("payment_intents?limit=100000")["data"]
    return [
        pi
        for pi in listed
        if checkout_ids is None or (pi.get("metadata") or {}).get("checkout_id") in checkout_ids
    ]


async def buy(
    user: User,
    client: SFTClient | None,
    *,
    card: str = CARD_OK,
    plan_id: str = PLAN_ID,
    provider: PaymentProvider | None = None,
    keep_card: bool = False,
) -> checkout_outcome.PayOutcome:
    """start_checkout + pay in fresh sessions (what the UI does across two requests), the
    card tokenised on localstripe as Stripe.js would. No provisioning is started: the tests
    run ``provisioning.run_order`` themselves."""
    async with db.session() as s:
        c = await checkout.start_checkout(
            s, user=user, plan_id=plan_id, destination="FR", client=client
        )
        checkout_id = c.id
    return await pay_checkout(user, checkout_id, card=card, provider=provider, keep_card=keep_card)


class ProxyProvider:
    """The real ``StripeProvider`` (``inner``; default ``get_provider()``, the session's
    localstripe) with every call counted in ``calls`` by method name. Tests subclass it to act
    at a precise moment of a real payment (e.g. between the hold and the order)."""

    name = "stripe"

    def __init__(self, inner: PaymentProvider | None = None) -> None:
        self.inner = inner or get_provider()
        self.calls: Counter[str] = Counter()

    async def ensure_customer(self, *, email: str, user_id: int, existing: str | None) -> str:
        self.calls["ensure_customer"] += 1
        return await self.inner.ensure_customer(email=email, user_id=user_id, existing=existing)

    async def attach_card(self, customer_id: str, token: str) -> CardInfo:
        self.calls["attach_card"] += 1
        return await self.inner.attach_card(customer_id, token)

    async def detach_card(self, customer_id: str, card_ref: str) -> None:
        self.calls["detach_card"] += 1
        await self.inner.detach_card(customer_id, card_ref)

    async def authorize(self, **kwargs: Any) -> ChargeResult:
        self.calls["authorize"] += 1
        return await self.inner.authorize(**kwargs)

    async def retrieve(self, ref: str) -> ChargeResult:
        self.calls["retrieve"] += 1
        return await self.inner.retrieve(ref)

    async def capture(self, ref: str) -> ChargeResult:
        self.calls["capture"] += 1
        return await self.inner.capture(ref)

    async def void(self, ref: str) -> None:
        self.calls["void"] += 1
        await self.inner.void(ref)

    async def refund(self, ref: str) -> None:
        self.calls["refund"] += 1
        await self.inner.refund(ref)

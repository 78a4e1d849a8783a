"""Attack: another traveler's eSIM, order, checkout or QR by URL, route or event argument;
secrets in browser-visible state; readable matching IDs in the database file.

Two travelers each own a delivered eSIM (in-process simulator, as the app runs it). The
attacker is signed in with a real session cookie and:

* requests the victim's QR image over HTTP (``/esims/{id}/qr.png``, the real routes app);
* calls EVERY event handler of EVERY traveler state (found programmatically) the way Reflex
  does (``EventHandler.fn(state, *args)``) from a forged tab: the route the handler reads is
  the victim's (``/esims/{id}``, ``/esims/{id}/install``, ``/orders/{id}``, receipt, top-up,
  ``/buy/...?checkout=<victim's open checkout>``), every id-like state var holds the victim's
  ids and every argument is the victim's. Nothing about the victim may change in the
  database, no payment may be attempted on the victim's checkout, and no state var (what the
  browser receives) may contain the victim's matching ID, activation code, ICCID, email,
  order reference or add-on id, the SFT password, or any session token;
* positive controls: the install page's load as the victim shows the victim's ICCID, and
  every secret written into a forged state var (string or dict) is found by the scan (so the
  scan would see a leak).

Admin handlers called by non-staff are covered by ``tests/integration/test_admin_access.py``
(every admin handler, found programmatically). Background handlers (``EsimState.refresh``,
``watch``) need Reflex's state proxy: the services they call are attacked directly.
The browser-level websocket scan is ``test_attack_browser.py``.
"""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from checkout_support import add_plan, add_user, buy, card_token
from reflex.utils.format import json_dumps
from sqlmodel import col, func, select

from tests.load.support import PLAN_ID
from tests.state_tabs import call, tab
from travelsim import db
from travelsim import state as state_pkg
from travelsim.keys import secret_box
from travelsim.models import (
    Checkout,
    Esim,
    Order,
    OutboxEmail,
    Payment,
    ReplacementRequest,
    User,
)
from travelsim.routes.app import build_routes_app
from travelsim.services import installation, provisioning, topup, usage_refresh
from travelsim.services.auth import sessions
from travelsim.services.esim_dashboard import esim_dashboard
from travelsim.settings import Settings, get_settings
from travelsim.sft import LocalRateBudget, reset_rate_budget
from travelsim.sft.factory import build_client
from travelsim.state.session import SessionState

SFT_PASSWORD = "sft-Pa55word-never-in-a-browser"


@dataclass
class Traveler:
    user: User
    token: str
    esim_id: int
    order_id: str
    order_reference: str
    addon_unique_id: str
    iccid: str
    matching_id: str
    lpa: str
    open_checkout_id: str = ""


async def sign_in(user: User) -> str:
    async with db.session() as s:
        token = await sessions.start_session(s, user, method="password")
        await s.commit()
    return token


async def delivered_traveler(email: str, client: Any) -> Traveler:
    user = await add_user(email)
    outcome = await buy(user, client)
    assert outcome.order_id
    order = await provisioning.run_order(outcome.order_id, client=client, backoff=(0.01,))
    assert order.status == "delivered" and order.addon_unique_id
    async with db.session() as s:
        esim = await s.get(Esim, order.esim_id)
    assert esim is not None and esim.id is not None and esim.activation_code_enc
    lpa = secret_box().decrypt(esim.activation_code_enc)
    return Traveler(
        user=user,
        token=await sign_in(user),
        esim_id=esim.id,
        order_id=order.id,
        order_reference=order.reference,
        addon_unique_id=order.addon_unique_id,
        iccid=esim.iccid,
        matching_id=lpa.rsplit("$", 1)[-1],
        lpa=lpa,
    )


@dataclass
class World:
    settings: Settings
    victim: Traveler
    attacker: Traveler


@pytest.fixture
async def world(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[World]:
    # A simulator of our own (fast, with a distinctive password) for the whole app.
    monkeypatch.setenv("SFT_SIM_DB_PATH", str(tmp_path / "sim.db"))
    monkeypatch.setenv("SFT_SIM_RATE_LIMIT_TPS", "0")
    monkeypatch.setenv("SFT_SIM_PASSWORD", SFT_PASSWORD)
    monkeypatch.setenv("SFT_PASSWORD", SFT_PASSWORD)
    reset_rate_budget(LocalRateBudget(500.0))
    settings: Settings = request.getfixturevalue("sqlite_db")
    assert get_settings().sft_password.get_secret_value() == SFT_PASSWORD
    await add_plan()
    client = build_client(settings)
    try:
        victim = await delivered_traveler("victim@example.com", client)
        attacker = await delivered_traveler("attacker@example.com", client)
        # The victim also has an open, unpaid checkout (reserved eSIM).
        async with db.session() as s:
            from travelsim.services import checkout

            co = await checkout.start_checkout(
                s, user=victim.user, plan_id=PLAN_ID, destination="FR", client=client
            )
            victim.open_checkout_id = co.id
    finally:
        await client.aclose()
    yield World(settings, victim, attacker)
    await db.async_engine().dispose()
    reset_rate_budget()


# --- helpers --------------------------------------------------------------------------------
def traveler_states() -> list[type[SessionState]]:
    """Every traveler-facing state (subclasses of SessionState outside the admin module)."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(state_pkg.__path__):
        importlib.import_module(f"travelsim.state.{info.name}")
    found: list[type[SessionState]] = []
    todo: list[type[Any]] = [SessionState]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if not sub.__module__.startswith("travelsim.state.admin"):
                found.append(sub)
    return [SessionState, *found]


def victim_url(cls: type[Any], v: Traveler) -> str:
    name = cls.__name__
    if name == "InstallState":
        return f"/esims/{v.esim_id}/install"
    if name == "TopupState":
        return f"/esims/{v.esim_id}/topup"
    if name == "EsimState":
        return f"/esims/{v.esim_id}"
    if name == "ReceiptState":
        return f"/orders/{v.order_id}/receipt"
    if name in ("OrderState", "GiftPanelState"):
        return f"/orders/{v.order_id}"
    if name in ("BuyState", "GiftCheckoutState"):
        return f"/buy/{PLAN_ID}?to=FR&checkout={v.open_checkout_id}"
    return f"/esims/{v.esim_id}"


def forge(state: Any, v: Traveler) -> None:
    """What a forged tab can put in its own state: the victim's ids everywhere."""
    values: dict[str, Any] = {
        "esim_id": str(v.esim_id),
        "order_id": v.order_id,
        "checkout_id": v.open_checkout_id,
        "plan_id": PLAN_ID,
        "selected": PLAN_ID,
        "destination": "FR",
        "destinations": [{"code": "FR", "label": "France"}],
        "device_esim": True,
        "device_unlocked": True,
        "step": "pay",
    }
    fields = type(state).get_fields()
    for name, value in values.items():
        if name in fields:
            setattr(state, name, value)


def arguments(fn: Any, v: Traveler) -> list[Any]:
    form = {
        "nickname": "pwned",
        "code": "123456",
        "email": v.user.email,
        "password": "correct horse battery",
    }
    values: list[Any] = []
    for name in list(inspect.signature(fn).parameters)[1:]:
        if name == "form":
            values.append(dict(form))
        elif name == "plan_id":
            values.append(PLAN_ID)
        elif name in ("value", "checked"):
            values.append(True)
        elif name == "code":
            values.append("FR")
        elif name in ("tz", "timezone"):
            values.append("Europe/Brussels")
        elif name == "token":  # a real card token of the attacker's (as Stripe.js makes it)
            values.append(card_token("4242 4242 4242 4242"))
        elif name == "status":
            values.append("succeeded")
        else:
            values.append(str(v.esim_id))
    return values


async def victim_snapshot(v: Traveler) -> dict[str, Any]:
    async with db.session() as s:
        esim = await s.get(Esim, v.esim_id, populate_existing=True)
        co = await s.get(Checkout, v.open_checkout_id, populate_existing=True)
        assert esim is not None and co is not None

        async def count(model: Any, *where: Any) -> int:
            return int((await s.exec(select(func.count()).select_from(model).where(*where))).one())

        return {
            "esim": (esim.user_id, esim.state, esim.nickname, esim.activation_code_enc),
            "checkout": (co.status, co.esim_id, co.reserved_until),
            "checkouts_on_esim": await count(Checkout, col(Checkout.esim_id) == v.esim_id),
            "payments": await count(Payment, col(Payment.checkout_id) == v.open_checkout_id),
            "orders": await count(Order, col(Order.esim_id) == v.esim_id),
            "replacements": await count(
                ReplacementRequest, col(ReplacementRequest.esim_id) == v.esim_id
            ),
            "emails": await count(OutboxEmail, col(OutboxEmail.user_id) == v.user.id),
        }


def secrets_of(world: World) -> dict[str, str]:
    v = world.victim
    return {
        "victim matching ID": v.matching_id,
        "victim activation code": v.lpa,
        "victim ICCID": v.iccid,
        "victim email": v.user.email,
        "victim order reference": v.order_reference,
        "victim add-on uniqueId": v.addon_unique_id,
        "victim session token": v.token,
        "attacker session token": world.attacker.token,
        "SFT password": SFT_PASSWORD,
    }


def leaks(state: Any, secrets: dict[str, str]) -> list[str]:
    """Which secrets appear in the state as Reflex serializes it for the browser (its own
    serializers: e.g. the request's cookie header is dropped from ``router.headers``)."""
    visible = json_dumps(state.dict())
    return [name for name, value in secrets.items() if value in visible]


# --- tests ----------------------------------------------------------------------------------
async def test_every_traveler_handler_refuses_a_forged_tab(world: World) -> None:
    v, secrets = world.victim, secrets_of(world)
    before = await victim_snapshot(v)
    states = traveler_states()
    assert {"BuyState", "TopupState", "EsimState", "InstallState", "ReceiptState"} <= {
        c.__name__ for c in states
    }
    called: list[str] = []
    skipped: list[str] = []
    for cls in states:
        for name, handler in cls.event_handlers.items():
            label = f"{cls.__name__}.{name}"
            if handler.is_background:
                skipped.append(label)
                continue
            state = tab(cls, world.attacker.token, victim_url(cls, v))
            forge(state, v)
            try:
                await call(handler, state, arguments(handler.fn, v))
            except Exception as exc:  # a refusal by exception is fine; a leak is not
                called.append(f"{label} (raised {type(exc).__name__})")
            else:
                called.append(label)
            root = state
            while root.parent_state is not None:
                root = root.parent_state
            found = leaks(root, secrets)
            assert not found, f"{label} put {found} in the browser-visible state"
            assert await victim_snapshot(v) == before, f"{label} changed the victim's data"
    assert len(called) >= 20, called
    print(f"\n{len(called)} handlers called from a forged tab: {', '.join(called)}")
    # Background events cannot run on a detached state. Each re-checks ownership inside:
    # poll_payment reads through checkout_outcome.payment_outcome (owned_checkout), and
    # remove_marked_card through saved_cards.remove_card (the card's user_id), and
    # AutoTopupState.watch through auto_topup.view (the signed-in user's own eSIM only).
    assert set(skipped) <= {
        "AutoTopupState.watch",
        "EsimState.watch",
        "EsimState.refresh",
        "OrderState.watch",
        "BuyState.poll_payment",
        "AccountState.remove_marked_card",
    }, skipped


async def test_scan_sees_a_leak_when_there_is_one(world: World) -> None:
    """Positive controls: the victim's own install page carries the victim's ICCID (real
    data, as served), and every secret the scan looks for is found when a forged state var
    holds it, as a plain string var and inside a dict var (the activation code itself is no
    longer state: docs/esim.md#security-installation-data-never-in-page-state)."""
    from travelsim.state.install import InstallState

    v = world.victim
    secrets = secrets_of(world)
    state = tab(InstallState, v.token, f"/esims/{v.esim_id}/install")
    await call(InstallState.event_handlers["load"], state, [])
    assert leaks(state, secrets) == ["victim ICCID"]
    for name, value in secrets.items():
        forged = tab(InstallState, v.token, f"/esims/{v.esim_id}/install")
        forged.esim_url = f"/leak/{value}"  # a deliberately leaking string var
        assert name in leaks(forged, secrets), name
        nested = tab(InstallState, v.token, f"/esims/{v.esim_id}/install")
        nested.support = {"email": "help@example.com", "url": value}  # inside a dict var
        assert name in leaks(nested, secrets), name


async def test_services_behind_background_handlers_refuse_a_foreign_esim(world: World) -> None:
    v, attacker = world.victim, world.attacker
    client = build_client(world.settings)
    try:
        outcome = await usage_refresh.refresh_now(
            client, user_id=attacker.user.id or 0, esim_id=v.esim_id, cooldown_seconds=0
        )
    finally:
        await client.aclose()
    assert outcome.status == "not_found"
    async with db.session() as s:
        uid = attacker.user.id or 0
        assert await esim_dashboard(s, user_id=uid, esim_id=v.esim_id, now=_now()) is None
        assert await installation.install_view(s, user=attacker.user, esim_id=v.esim_id) is None
        assert await installation.qr_png_for(s, user=attacker.user, esim_id=v.esim_id) is None
        assert (
            await topup.topup_offer(s, user_id=uid, esim_id=v.esim_id, plan_id=PLAN_ID, now=_now())
            is None
        )


def _now() -> Any:
    from travelsim.models import utcnow

    return utcnow()


async def test_victims_qr_by_url(world: World) -> None:
    v = world.victim
    transport = httpx.ASGITransport(app=build_routes_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:

        async def qr(token: str | None, esim_id: int) -> httpx.Response:
            cookie = {"cookie": f"{sessions.COOKIE_NAME}={token}"} if token else {}
            return await http.get(f"/esims/{esim_id}/qr.png", headers=cookie)

        stolen = await qr(world.attacker.token, v.esim_id)
        anonymous = await qr(None, v.esim_id)
        unknown = await qr(world.attacker.token, 999_999)
        own = await qr(v.token, v.esim_id)
    assert (stolen.status_code, anonymous.status_code) == (404, 404)
    assert stolen.content == unknown.content  # indistinguishable from an unknown id
    assert not stolen.content.startswith(b"\x89PNG")
    assert own.status_code == 200 and own.content.startswith(b"\x89PNG")
    assert own.headers["cache-control"] == "private, no-store"


async def test_database_file_holds_no_readable_matching_id(world: World) -> None:
    """Every matching ID the simulator knows (read from ITS database, independently of the
    portal) is absent from the portal's SQLite file and its WAL, byte for byte."""
    sim_db = get_settings().simulator_db_path
    with sqlite3.connect(sim_db) as conn:
        matching_ids = [row[0] for row in conn.execute("SELECT matching_id FROM sim_sims")]
    assert world.victim.matching_id in matching_ids and len(matching_ids) >= 2
    portal = Path(world.settings.sync_database_url.split("///", 1)[1])
    files = [p for p in portal.parent.glob(portal.name + "*") if p.is_file()]
    assert portal in files
    blob = b"".join(p.read_bytes() for p in files)
    assert len(blob) > 0
    readable = [m for m in matching_ids if m.encode() in blob or m.lower().encode() in blob]
    assert readable == []
    # ...while the delivered eSIMs' ICCIDs (not secret) are there: the scan reads real data.
    assert world.victim.iccid.encode() in blob

"""Attack: the eSIM page and the installation data of another traveler
(docs/esim.md#security-installation-data-never-in-page-state).

The same two delivered travelers as ``test_attack.py`` (its ``world`` fixture and its forged
tab helpers ``tab()``/``forge()``/``call()``). The attacker, signed in with a real session
cookie, drives the eSIM page's real handlers with the victim's id:

* ``EsimState.load`` on ``/esims/<victim's id>``: "not found", no victim id in the state, no
  "being viewed" mark for the victim's eSIM (read from ``services.jobs.viewed``);
* ``EsimState.watch`` (a background handler, run through Reflex's own ``StateProxy`` and an
  in-memory state manager, as the app runs it) from a tab forged to hold the victim's id:
  it returns at once, writes no mark and never subscribes;
* ids 1..500 walked by one attacker: the viewed store stays empty;
* the owner's own page still marks their eSIM (the marks still work);
* the installation data route (``/esims/{id}/install.json``): foreign/unknown → bodiless 404,
  signed out → 401, other sites → 403, owner → 200 ``private, no-store``;
* the owner's install page state, in memory and in Reflex's Redis state manager, holds no
  installation secret.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.proxy import StateProxy
from reflex_base.event.context import EventContext

from tests.load.test_attack import World, call, forge, leaks, tab, world  # noqa: F401 - fixture
from travelsim.routes.app import build_routes_app
from travelsim.services import live
from travelsim.services.auth import sessions
from travelsim.services.jobs import viewed
from travelsim.state.esim import EsimState


@pytest.fixture
def pair(world: World) -> World:  # noqa: F811 - test_attack's fixture, imported above
    """The victim and the attacker of ``test_attack.world``."""
    return world


@pytest.fixture(autouse=True)
def _no_marks() -> Any:
    viewed.clear_viewed()
    yield
    viewed.clear_viewed()


def _root(state: Any) -> Any:
    while state.parent_state is not None:
        state = state.parent_state
    return state


async def _enqueue(token: str, *events: Any) -> None:
    return None


async def run_background(handler: Any, state: Any, timeout: float = 5.0) -> float:
    """Run the background ``handler`` on ``state`` the way Reflex does (a ``StateProxy``
    over a state manager holding the tab's tree); returns the seconds it ran."""
    manager = StateManagerMemory()  # type: ignore[abstract] # overloads confuse mypy
    token = "forged-tab-token"
    manager.states[token] = _root(state)
    ctx = EventContext(token=token, state_manager=manager, enqueue_impl=_enqueue)
    reset = EventContext.set(ctx)
    started = time.monotonic()
    try:
        await asyncio.wait_for(handler.fn(StateProxy(state)), timeout)
    finally:
        EventContext.reset(reset)
        await manager.close()
    return time.monotonic() - started


async def test_probe_esim_page_load_of_a_foreign_id(pair: World) -> None:
    v, attacker = pair.victim, pair.attacker
    state = tab(EsimState, attacker.token, f"/esims/{v.esim_id}")
    events = await _load(state)
    assert state.not_found is True
    assert str(v.esim_id) != state.esim_id and state.esim_id == ""
    assert v.iccid not in str(_root(state).dict())
    assert events is None  # no watch, no timezone round trip
    assert v.esim_id not in viewed.viewed_esims()
    assert viewed.viewed_esims() == set()


async def _load(state: Any) -> Any:
    return await EsimState.event_handlers["load"].fn(state)


async def test_probe_esim_watch_of_a_forged_id_exits_at_once(
    pair: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    v, attacker = pair.victim, pair.attacker
    monkeypatch.setattr(live, "watching", _refuse_watch)
    state = tab(EsimState, attacker.token, f"/esims/{v.esim_id}")
    forge(state, v)  # the tab claims the victim's id
    assert state.esim_id == str(v.esim_id)
    seconds = await run_background(EsimState.event_handlers["watch"], state)
    assert seconds < 2.0
    assert viewed.viewed_esims() == set()
    assert state.watching is False


def _refuse_watch(esim_id: int) -> Any:
    raise AssertionError(f"the watch subscribed to eSIM {esim_id}")


async def test_probe_walking_ids_leaves_the_viewed_store_empty(pair: World) -> None:
    attacker = pair.attacker
    kept: list[str] = []
    for esim_id in range(1, 501):
        if esim_id == attacker.esim_id:
            continue
        state = tab(EsimState, attacker.token, f"/esims/{esim_id}")
        await _load(state)
        kept += [state.esim_id] if state.esim_id else []
    assert viewed.viewed_esims() == set()
    assert kept == []


async def test_owner_page_marks_its_esim(pair: World) -> None:
    v = pair.victim
    state = tab(EsimState, v.token, f"/esims/{v.esim_id}")
    events = await _load(state)
    assert state.not_found is False and state.esim_id == str(v.esim_id)
    assert events  # timezone + watch
    assert viewed.viewed_esims() == {v.esim_id}


def test_viewed_marks_are_capped(sqlite_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(viewed, "MAX_VIEWED", 10)
    monkeypatch.delenv("REDIS_URL", raising=False)
    for esim_id in range(1, 50):
        viewed.mark_viewed(esim_id, seconds=60)
    assert viewed.viewed_esims() == set(range(1, 11))
    viewed.mark_viewed(3, seconds=60)  # renewing a mark is always fine
    assert 3 in viewed.viewed_esims()


# --- the installation data route and the install page's state -------------------------------
def _secrets(v: Any) -> dict[str, str]:
    """The installation secrets of traveler ``v``: what no state var may carry."""
    from urllib.parse import quote

    return {
        "matching ID": v.matching_id,
        "activation code": v.lpa,
        "activation code (URL-encoded)": quote(v.lpa, safe=""),
    }


async def test_probe_install_json_route(pair: World) -> None:
    v, attacker = pair.victim, pair.attacker
    transport = httpx.ASGITransport(app=build_routes_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:3000") as http:

        async def get(token: str | None, esim_id: int, **headers: str) -> httpx.Response:
            if token:
                headers["cookie"] = f"{sessions.COOKIE_NAME}={token}"
            return await http.get(f"/esims/{esim_id}/install.json", headers=headers)

        stolen = await get(attacker.token, v.esim_id)
        unknown = await get(attacker.token, 999_999)
        anonymous = await get(None, v.esim_id)
        cross_site = await get(v.token, v.esim_id, **{"sec-fetch-site": "cross-site"})
        same_site = await get(v.token, v.esim_id, **{"sec-fetch-site": "same-site"})
        foreign = await get(v.token, v.esim_id, origin="https://evil.example")
        own = await get(v.token, v.esim_id, **{"sec-fetch-site": "same-origin"})
    assert (stolen.status_code, stolen.content) == (404, b"")
    assert (unknown.status_code, unknown.content) == (404, b"")
    assert (anonymous.status_code, anonymous.content) == (401, b"")
    for refused in (cross_site, same_site, foreign):
        assert (refused.status_code, refused.content) == (403, b"")
    for answer in (stolen, unknown, anonymous, cross_site, own):
        assert answer.headers["cache-control"] == "private, no-store"
    assert own.status_code == 200
    body = own.json()
    assert body["activation_code"] == v.lpa and body["matching_id"] == v.matching_id
    assert body["smdp_address"] == v.lpa.split("$")[1]
    assert body["ios_link"].startswith("https://esimsetup.apple.com/")
    assert body["android_link"].startswith("https://esimsetup.android.com/")


async def test_probe_install_page_state_holds_no_activation_data(pair: World) -> None:
    """The owner's own install page: its state (what the websocket sends and the state store
    keeps) holds none of the installation secrets, only what the page needs around them."""
    from travelsim.state.install import InstallState

    v = pair.victim
    state = tab(InstallState, v.token, f"/esims/{v.esim_id}/install")
    await call(InstallState.event_handlers["load"], state, [])
    assert state.ready is True and state.not_found is False
    assert leaks(_root(state), _secrets(v)) == []
    assert leaks(_root(state), {"ICCID": v.iccid}) == ["ICCID"]  # the page's own data


async def test_install_page_of_a_foreign_id_keeps_nothing(pair: World) -> None:
    from travelsim.state.install import InstallState

    v, attacker = pair.victim, pair.attacker
    state = tab(InstallState, attacker.token, f"/esims/{attacker.esim_id}/install")
    await call(InstallState.event_handlers["load"], state, [])
    assert state.esim_id == str(attacker.esim_id)
    _root(state).router = type(state.router).from_router_data(
        {
            "headers": {"cookie": f"{sessions.COOKIE_NAME}={attacker.token}"},
            "pathname": f"/esims/{v.esim_id}/install",
            "asPath": f"/esims/{v.esim_id}/install",
        }
    )
    await call(InstallState.event_handlers["load"], state, [])
    assert state.not_found is True and state.esim_id == "" and state.iccid == ""


@pytest.mark.redis
async def test_probe_redis_state_store_holds_no_activation_code(pair: World) -> None:
    """With several workers Reflex keeps each tab's state in Redis (plain pickles). The
    owner's install page, loaded through Reflex's own Redis state manager the way the app
    does (``modify_state``: load under the tab's lock, written back on exit), leaves no
    installation secret in any of the tab's keys, while its ICCID (the page's own data) is
    there: the scan reads what Reflex stored."""
    import uuid

    import redis.asyncio as aioredis
    from reflex.istate.data import RouterData
    from reflex.istate.manager.redis import StateManagerRedis
    from reflex.istate.manager.token import BaseStateToken

    from tests.harness import REDIS_URL, redis_client
    from travelsim.state.install import InstallState

    redis_client().close()  # skip locally / fail in CI without Redis
    v = pair.victim
    client = aioredis.Redis.from_url(REDIS_URL)
    manager = StateManagerRedis(redis=client)  # type: ignore[abstract]
    token = f"install-probe-{uuid.uuid4().hex}"
    path = f"/esims/{v.esim_id}/install"
    try:
        async with manager.modify_state(BaseStateToken(ident=token, cls=InstallState)) as root:
            root.router = RouterData.from_router_data(
                {
                    "headers": {"cookie": f"{sessions.COOKIE_NAME}={v.token}"},
                    "pathname": path,
                    "asPath": path,
                }
            )
            page = await root.get_state(InstallState)
            await call(InstallState.event_handlers["load"], page, [])
            assert page.ready is True
        stored = b""
        keys = [key async for key in client.scan_iter(match=f"{token}*")]
        for key in keys:
            kind = (await client.type(key)).decode()
            if kind == "string":
                stored += await client.get(key) or b""
            elif kind == "hash":
                fields = await client.hgetall(key)  # type: ignore[misc]
                stored += b"".join(name + value for name, value in fields.items())
        assert keys and v.iccid.encode() in stored  # positive control
        found = [name for name, value in _secrets(v).items() if value.encode() in stored]
        assert found == [], f"the Redis state store holds {found}"
    finally:
        keys = [key async for key in client.scan_iter(match=f"{token}*")]
        if keys:
            await client.delete(*keys)
        await manager.close()
        await client.aclose()


@pytest.mark.redis
def test_viewed_marks_are_capped_in_redis(sqlite_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared set (real Redis, a key of this test's own) takes no new member once
    ``MAX_VIEWED`` marks are live, while renewing a mark still works; what the scheduler
    reads is the capped set."""
    import uuid

    from tests.harness import REDIS_URL, redis_client
    from travelsim.settings import get_settings

    r = redis_client()
    key = f"travelsim:test-viewed-{uuid.uuid4().hex}"
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    get_settings.cache_clear()
    monkeypatch.setattr(viewed, "VIEWED_KEY", key)
    monkeypatch.setattr(viewed, "_viewed_redis", None)
    monkeypatch.setattr(viewed, "MAX_VIEWED", 10)
    try:
        for esim_id in range(1, 50):
            viewed.mark_viewed(esim_id, seconds=60)
            viewed._viewed.clear()  # as if each mark came from another worker
        shared = {int(m) for m in r.zrange(key, 0, -1)}
        assert shared == set(range(1, 11))
        before = r.zscore(key, "3")
        time.sleep(0.01)
        viewed.mark_viewed(3, seconds=120)  # a renewal is always taken
        assert r.zscore(key, "3") > before
        assert viewed.viewed_esims() == set(range(1, 11))
    finally:
        r.delete(key)
        r.close()
        get_settings.cache_clear()

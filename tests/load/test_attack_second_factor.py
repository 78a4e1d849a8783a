"""Attack: a leaked password alone, against a traveler who turned on two-step verification.

The victim owns a delivered eSIM (in-process simulator, real SQLite file) and has a
confirmed TOTP. The attacker knows the victim's password only: they sign in through the
real ``POST /auth/signin`` (routes app over ASGI), receive the session cookie the browser
would get (the one that still owes its second factor) and with it:

* request the victim's QR image (``/esims/{id}/qr.png``): no PNG;
* download the victim's data (``/account/export.json``): sent to the second factor;
* read the installation data (``/esims/{id}/install.json``): 401, no body; the install
  card (``/esims/{id}/card``, ``/card.pdf``): 404, no body;
* call EVERY event handler of EVERY traveler state (the programmatic walk of
  ``test_attack.py``) from a tab carrying that cookie, on the victim's own pages: every
  state stays signed out (``signed_in`` false, no email), nothing of the victim's changes in
  the database and no state var holds the activation code, matching ID, ICCID, order
  reference or add-on id. Only the second-factor page (``TotpState``) knows the pending
  session, to ask for the code.

Positive control: the same cookie, once the real ``POST /auth/totp`` accepted a correct
code, downloads the QR and the export and signs the states in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from sqlmodel import select

from tests.load.test_attack import (
    World,
    arguments,
    call,
    forge,
    leaks,
    tab,
    traveler_states,
    victim_snapshot,
    victim_url,
    world,
)
from travelsim import db
from travelsim.keys import secret_box
from travelsim.models import User, UserTotp, utcnow
from travelsim.routes.app import build_routes_app
from travelsim.services.auth import sessions, totp
from travelsim.services.auth.passwords import hash_password
from travelsim.settings import get_settings
from travelsim.state.session import SessionState

__all__ = ["world"]  # the fixture, shared with test_attack.py

PASSWORD = "victims leaked password"
#: The one state that may know a session owing its second factor: it asks for the code.
SECOND_FACTOR_STATES = {"TotpState"}


@pytest.fixture
async def totp_world(world: World) -> AsyncIterator[tuple[World, str]]:
    """``world`` whose victim has a password and a confirmed TOTP; yields the secret."""
    secret = totp.new_totp_secret()
    async with db.session() as s:
        user = await s.get(User, world.victim.user.id)
        assert user is not None
        user.password_hash = hash_password(PASSWORD)
        user.email_verified_at = utcnow()
        s.add(user)
        s.add(
            UserTotp(
                user_id=user.id or 0,
                secret_enc=secret_box().encrypt(secret),
                confirmed_at=utcnow(),
            )
        )
        await s.commit()
    yield world, secret


def _http() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_routes_app()), base_url="http://portal.test"
    )


def _origin() -> dict[str, str]:
    parts = urlsplit(get_settings().public_url)
    return {"Origin": f"{parts.scheme}://{parts.netloc}"}


async def _password_only_cookie(http: httpx.AsyncClient, email: str) -> str:
    """Sign in with the password through the real route; the cookie it sets."""
    response = await http.post(
        "/auth/signin", data={"email": email, "password": PASSWORD}, headers=_origin()
    )
    assert response.status_code == 303, response.text
    assert urlsplit(response.headers["location"]).path == "/security/totp"
    token = response.cookies.get(sessions.COOKIE_NAME)
    assert token, response.headers
    http.cookies.clear()
    return token


def _cookie(token: str) -> dict[str, str]:
    return {"cookie": f"{sessions.COOKIE_NAME}={token}"}


def _secrets(world: World) -> dict[str, str]:
    v = world.victim
    return {
        "matching ID": v.matching_id,
        "activation code": v.lpa,
        "ICCID": v.iccid,
        "order reference": v.order_reference,
        "add-on uniqueId": v.addon_unique_id,
        "session token": v.token,
    }


def _root(state: SessionState) -> SessionState:
    root = state
    while root.parent_state is not None:
        root = root.parent_state
    return root


async def _pass_totp(http: httpx.AsyncClient, token: str, secret: str) -> None:
    code = totp._totp(secret).now()
    response = await http.post(
        "/auth/totp", data={"code": code}, headers={**_origin(), **_cookie(token)}
    )
    assert response.status_code == 303
    assert urlsplit(response.headers["location"]).path == "/", response.headers["location"]


# --- HTTP -----------------------------------------------------------------------------------
async def test_probe_second_factor_qr_and_export(totp_world: tuple[World, str]) -> None:
    world, secret = totp_world
    v = world.victim
    async with _http() as http:
        token = await _password_only_cookie(http, v.user.email)
        qr = await http.get(f"/esims/{v.esim_id}/qr.png", headers=_cookie(token))
        export = await http.get("/account/export.json", headers=_cookie(token))
        install = await http.get(f"/esims/{v.esim_id}/install.json", headers=_cookie(token))
        cards = [
            await http.get(f"/esims/{v.esim_id}/{name}", headers=_cookie(token))
            for name in ("card", "card.pdf")
        ]
        assert install.status_code == 401 and install.content == b"", install.status_code
        assert [(c.status_code, c.content) for c in cards] == [(404, b""), (404, b"")]
        assert qr.status_code != 200 and not qr.content.startswith(b"\x89PNG"), qr.status_code
        assert export.status_code == 303, export.status_code
        assert urlsplit(export.headers["location"]).path == "/security/totp"
        assert v.user.email not in export.text and v.iccid not in export.text
        async with db.session() as s:
            assert await sessions.resolve_session(s, token) is None
            pending = await sessions.pending_user(s, token)
            assert pending is not None and pending.id == v.user.id
        assert await sessions.user_for_token(token) is None

        # Positive control: the same cookie after the real second-factor route.
        await _pass_totp(http, token, secret)
        qr = await http.get(f"/esims/{v.esim_id}/qr.png", headers=_cookie(token))
        export = await http.get("/account/export.json", headers=_cookie(token))
        install = await http.get(f"/esims/{v.esim_id}/install.json", headers=_cookie(token))
        card = await http.get(f"/esims/{v.esim_id}/card", headers=_cookie(token))
    assert card.status_code == 200 and v.matching_id in card.text
    assert qr.status_code == 200 and qr.content.startswith(b"\x89PNG")
    assert install.status_code == 200 and install.json()["matching_id"]
    assert export.status_code == 200 and v.iccid in export.text
    assert (await sessions.user_for_token(token)) is not None


# --- every traveler state -------------------------------------------------------------------
async def test_probe_second_factor_every_traveler_state(totp_world: tuple[World, str]) -> None:
    world, _secret = totp_world
    v = world.victim
    secrets = _secrets(world)
    async with _http() as http:
        token = await _password_only_cookie(http, v.user.email)
    before = await victim_snapshot(v)
    called: list[str] = []
    for cls in traveler_states():
        for name, handler in cls.event_handlers.items():
            label = f"{cls.__name__}.{name}"
            if handler.is_background:
                continue
            state = tab(cls, token, victim_url(cls, v))
            forge(state, v)
            try:
                await call(handler, state, arguments(handler.fn, v))
            except Exception as exc:  # a refusal by exception is fine; a leak is not
                called.append(f"{label} (raised {type(exc).__name__})")
            else:
                called.append(label)
            found = leaks(_root(state), secrets)
            assert not found, f"{label} put {found} in the browser-visible state"
            assert await victim_snapshot(v) == before, f"{label} changed the victim's data"
            if cls.__name__ not in SECOND_FACTOR_STATES:
                assert not state.signed_in, f"{label} signed the pending session in"
                assert state.user_email == "", f"{label} showed the email"
    assert len(called) >= 20, called


async def test_probe_second_factor_install_state(totp_world: tuple[World, str]) -> None:
    from travelsim.state.esim import EsimState
    from travelsim.state.install import InstallState

    world, secret = totp_world
    v = world.victim
    async with _http() as http:
        token = await _password_only_cookie(http, v.user.email)
        state = tab(InstallState, token, f"/esims/{v.esim_id}/install")
        await call(InstallState.event_handlers["load"], state, [])
        assert leaks(_root(state), _secrets(world)) == []
        assert not state.signed_in

        await _pass_totp(http, token, secret)
    # Positive control: the eSIM page of the verified session shows the eSIM.
    state = tab(EsimState, token, f"/esims/{v.esim_id}")
    await call(EsimState.event_handlers["load"], state, [])
    assert state.signed_in and state.user_email == v.user.email
    assert "ICCID" in leaks(_root(state), _secrets(world))


async def test_probe_second_factor_page_knows_the_pending_session(
    totp_world: tuple[World, str],
) -> None:
    """The second-factor page still asks the pending session for its code."""
    from travelsim.state.security import TotpState

    world, _secret = totp_world
    v = world.victim
    async with _http() as http:
        token = await _password_only_cookie(http, v.user.email)
    state = tab(TotpState, token, "/security/totp?next=%2Fesims")
    await call(TotpState.event_handlers["load"], state, [])
    assert state.mode == "verify" and state.next_path == "/esims"
    async with db.session() as s:
        assert (await s.exec(select(UserTotp))).first() is not None

"""Attack: event arguments of the wrong type and shape on every handler of every state.

A websocket client can send any JSON as an event's payload. Every foreground event handler
of every traveler state (``test_attack.traveler_states``), of the catalogue and of every
admin state (``ADMIN_STATES``) is called the way Reflex delivers an event: the payload
goes through Reflex's own ``_prepare_event_payload`` (its conversions, e.g. a string to an
``int``) and then to ``handler.fn(state, **payload)``, exactly as
``reflex_base.event.processor.base_state_processor.process_event`` does. The callers are
the real ones whose handlers would run furthest: the signed-in traveler on its own pages
(own ids in the URL and state) and a staff member with a full session (second factor
passed) on the admin pages.

Each argument in turn gets, instead of what the page sends: a dict, a list, a 1 MB string,
an int, ``None``, a nested ``{"$gt": ""}``, a huge and a negative int; a form (``dict``
argument) gets a string, a list, a nested value, a 1 MB value, no keys and only unknown
keys; and each payload also loses an argument or gains an unknown one. Asserted: no
exception escapes the handler (what Reflex would turn into a traceback and a generic error
toast), a value of the wrong type (for an ``Any`` argument: anything but a JSON scalar of
sane size) is answered with the "not understood" toast without the
handler's body running, and no row of the portal's database changes (the session rows'
``last_seen_at`` aside; a staff action that its service refuses, e.g. an empty form, adds
its ``refused`` audit row, by design).

Background handlers run on Reflex's state proxy and are called through the same check
(their bad payloads are refused before the body, which is what is asserted for them).
"""

from __future__ import annotations

import inspect
import sqlite3
import typing
from dataclasses import dataclass
from typing import Any

import pytest
from reflex.utils.format import json_dumps
from reflex_base.event.processor.base_state_processor import _prepare_event_payload

from tests.load.support import PLAN_ID
from tests.load.test_attack import (
    World,
    arguments,
    forge,
    sign_in,
    tab,
    traveler_states,
    victim_url,
    world,  # noqa: F401 - the two travelers' fixture
)
from travelsim import db
from travelsim.models import SessionFactor, User, utcnow
from travelsim.services.auth import sessions
from travelsim.state.admin import ADMIN_STATES
from travelsim.state.catalogue import CatalogueState
from travelsim.state.validation import NOT_UNDERSTOOD

HUGE = "x" * 1_000_000
NESTED = {"$gt": ""}
#: Wrong values for any argument (whatever its annotation).
WRONG: dict[str, Any] = {
    "dict": {"a": "b"},
    "list": ["a", "b"],
    "1 MB string": HUGE,
    "int": 12345,
    "None": None,
    "nested $gt": NESTED,
    "huge int": 10**30,
    "negative int": -(10**30),
}
#: Wrong values for a form (``dict`` argument).
WRONG_FORM: dict[str, Any] = {
    "string": "email=a@b.c",
    "list": [["email", "a@b.c"]],
    "nested $gt value": {"email": NESTED, "password": NESTED},
    "1 MB value": {"nickname": HUGE, "email": HUGE},
    "huge int value": {"count": 10**30},
}
#: Forms that are forms but miss every expected key (the body may run and must refuse).
SHAPELESS_FORMS: dict[str, Any] = {
    "no keys": {},
    "only unknown keys": {"unexpected": "x", "__class__": "y", "$where": "1"},
}


@pytest.fixture(autouse=True)
def test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test mode, said explicitly (an unset ``APP_ENV`` is no mode to rely on)."""
    monkeypatch.setenv("APP_ENV", "test")


@dataclass
class Staff:
    user: User
    token: str


async def full_staff(world: World) -> Staff:  # noqa: F811
    """The attacker's account made staff, with a second-factor-passed session."""
    async with db.session() as s:
        user = await s.get(User, world.attacker.user.id)
        assert user is not None
        user.is_staff = True
        s.add(user)
        await s.commit()
        await s.refresh(user)
    token = await sign_in(user)
    async with db.session() as s:
        row = await sessions.session_row(s, token)
        assert row is not None and row.id is not None
        factor = await s.get(SessionFactor, row.id)
        assert factor is not None
        factor.totp_verified_at = utcnow()
        s.add(factor)
        await s.commit()
    return Staff(user, token)


def database_rows(world: World) -> list[str]:  # noqa: F811
    """Every row of the portal's SQLite file as SQL text, session rows left out (every
    resolved session bumps its ``last_seen_at``)."""
    path = world.settings.sync_database_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        return [line for line in conn.iterdump() if "session" not in line.split("VALUES")[0]]


async def deliver(handler: Any, state: Any, payload: dict[str, Any]) -> list[Any]:
    """Reflex's delivery (``process_event``): transform the payload, call ``fn(state,
    **payload)``, drain a generator; what the handler returned or yielded."""
    prepared = _prepare_event_payload(handler, payload)
    result = handler.fn(state, **prepared)
    if inspect.isasyncgen(result):
        return [event async for event in result]
    if inspect.isawaitable(result):
        result = await result
    return [result]


def refused(events: list[Any]) -> bool:
    return any(NOT_UNDERSTOOD in json_dumps(str(e)) for e in events if e is not None)


#: Values an ``Any`` argument may take (a JSON scalar a page could send): not refused.
SCALARS_FOR_ANY = {"int", "None"}


def attacks(
    params: list[str], good: dict[str, Any], hints: dict[str, Any]
) -> list[tuple[str, dict[str, Any], bool]]:
    """(label, payload, must be refused?) for every bad variant of the good payload."""
    out: list[tuple[str, dict[str, Any], bool]] = []
    for name in params:
        is_form = isinstance(good[name], dict)
        for label, value in (WRONG_FORM if is_form else WRONG).items():
            scalar_for_any = hints.get(name, Any) is Any and label in SCALARS_FOR_ANY
            out.append((f"{name}={label}", {**good, name: value}, not scalar_for_any))
        if not is_form:
            for label, value in WRONG_FORM.items():
                if label != "string":
                    out.append((f"{name}=form {label}", {**good, name: value}, True))
        else:
            for label, value in SHAPELESS_FORMS.items():
                out.append((f"{name}={label}", {**good, name: value}, False))
        missing = {k: v for k, v in good.items() if k != name}
        out.append((f"{name} missing", missing, True))
    out.append(("unknown argument", {**good, "injected": "x"}, True))
    return out


def admin_arguments(params: list[str], esim_id: int, order_id: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in params:
        if name == "form":
            values[name] = {"query": "", "state": "any", "note": "", "megabytes": "0"}
        elif name == "order_id":
            values[name] = order_id
        elif name in ("esim_id", "user_id"):
            values[name] = str(esim_id)
        elif name == "plan_id":
            values[name] = PLAN_ID
        elif name == "column":
            values[name] = "status"
        else:
            values[name] = "nobody@example.com"
    return values


@pytest.mark.timeout(600)
async def test_probe_wrong_type_event_arguments_on_every_handler(world: World) -> None:  # noqa: F811
    own = world.attacker
    staff = await full_staff(world)
    targets: list[tuple[type[Any], str | None, str, bool]] = [
        (cls, own.token, victim_url(cls, own), False) for cls in traveler_states()
    ]
    targets.append((CatalogueState, own.token, "/", False))
    targets += [(cls, staff.token, "/admin", True) for cls in ADMIN_STATES]
    before = database_rows(world)
    escaped: list[str] = []
    not_refused: list[str] = []
    calls = 0
    for cls, token, url, is_admin in targets:
        for name, handler in cls.event_handlers.items():
            if name == "setvar" or name in ("hydrate", "set_is_hydrated", "hydrate_and_load"):
                continue  # Reflex's own handlers, not the portal's
            params = list(inspect.signature(handler.fn).parameters)[1:]
            if is_admin:
                good = admin_arguments(params, own.esim_id, own.order_id)
            else:
                good = dict(zip(params, arguments(handler.fn, own), strict=True))
            for label, payload, wrong_type in attacks(
                params, good, typing.get_type_hints(handler.fn)
            ):
                if handler.is_background and not wrong_type:
                    continue  # the body needs Reflex's state proxy
                state = tab(cls, token, url)
                if not is_admin:
                    forge(state, own)
                where = f"{cls.__name__}.{name}({label})"
                calls += 1
                try:
                    events = await deliver(handler, state, payload)
                except Exception as exc:
                    escaped.append(f"{where}: {type(exc).__name__}: {str(exc)[:80]}")
                    continue
                if wrong_type and not refused(events):
                    not_refused.append(where)
    after = database_rows(world)
    # A staff action refused by its service is audited (outcome "refused"): the only rows
    # a bad event may add; nothing else may appear, change or go.
    audited = [r for r in after if r.startswith('INSERT INTO "audit_log"') and "'refused'" in r]
    changed = [r for r in after if r not in before and r not in audited]
    changed += [r for r in before if r not in after]
    print(f"\n{calls} bad events delivered, {len(audited)} refused staff actions audited")
    assert escaped == [], f"{len(escaped)} exceptions escaped, e.g. {escaped[:12]}"
    assert not_refused == [], f"{len(not_refused)} not refused, e.g. {not_refused[:12]}"
    assert changed == [], f"a bad event changed the database: {changed[:5]}"
    assert calls > 500

"""The event-argument check (``travelsim.state.validation``) is on every handler Reflex
creates for the portal's states and is transparent to Reflex: same signature, type hints,
background flag; a refused call never runs the body."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from travelsim.state.admin.orders import AdminOrdersState
from travelsim.state.catalogue import CatalogueState
from travelsim.state.esim import EsimState
from travelsim.state.validation import (
    NOT_UNDERSTOOD,
    TEXT_MAX,
    ArgumentError,
    check_arguments,
    validated,
)


def test_every_portal_handler_is_checked() -> None:
    for cls in (EsimState, CatalogueState, AdminOrdersState):
        for name, handler in cls.event_handlers.items():
            if name == "setvar":
                continue
            if name in ("hydrate", "set_is_hydrated", "hydrate_and_load"):
                continue  # Reflex's own, inherited from rx.State
            assert getattr(handler.fn, "_travelsim_validated", False), f"{cls.__name__}.{name}"


def test_reflex_still_sees_the_handler_as_written() -> None:
    rename = EsimState.event_handlers["rename"]
    assert list(inspect.signature(rename.fn).parameters) == ["self", "form"]
    assert rename._get_type_hints()["form"] == dict[str, Any]
    assert EsimState.event_handlers["watch"].is_background
    assert not rename.is_background


def _sig(fn: Any) -> inspect.Signature:
    return inspect.signature(fn)


def test_check_arguments() -> None:
    def handler(self: Any, code: str, form: dict[str, Any], tz: Any = "") -> None: ...

    sig, hints = _sig(handler), {"code": str, "form": dict[str, Any], "tz": Any}
    check_arguments(sig, hints, (), {"code": "FR", "form": {"a": "b", "n": 1}, "tz": None})
    bad: list[dict[str, Any]] = [
        {"code": 1, "form": {}},
        {"code": {"$gt": ""}, "form": {}},
        {"code": "x" * (TEXT_MAX + 1), "form": {}},
        {"code": "FR", "form": {"email": {"$gt": ""}}},
        {"code": "FR", "form": {"n": 10**30}},
        {"code": "FR", "form": {}, "tz": ["Europe/Paris"]},
        {"code": "FR"},
        {"code": "FR", "form": {}, "extra": 1},
    ]
    for kwargs in bad:
        with pytest.raises(ArgumentError):
            check_arguments(sig, hints, (), kwargs)


async def test_a_refused_call_never_runs_the_body() -> None:
    ran: list[str] = []

    async def handler(self: Any, code: str) -> None:
        ran.append(code)

    async def gen(self: Any, code: str) -> Any:
        ran.append(code)
        yield None

    def plain(self: Any, code: str) -> None:
        ran.append(code)

    refused = await validated(handler)(None, code=5)
    assert NOT_UNDERSTOOD in str(refused)
    assert [e async for e in validated(gen)(None, code=[1])] and ran == []
    assert NOT_UNDERSTOOD in str(validated(plain)(None))
    await validated(handler)(None, code="FR")
    assert ran == ["FR"]

"""The time-zone mixin (``state/timezone.py``): every state that shows dates asks the browser
for its IANA zone the same way and keeps it in its own ``tz``, and the browser's answer reaches
that state's own ``set_timezone`` (docs/esim.md#time-zone-names)."""

from __future__ import annotations

from typing import Any

import pytest
from reflex.state import State

from travelsim.state.account import AccountState
from travelsim.state.esim import EsimState
from travelsim.state.status import StatusState
from travelsim.state.timezone import ASK_ZONE, TimezoneMixin

STATES = [AccountState, EsimState, StatusState]


def instance(cls: type[Any]) -> Any:
    root = State(_reflex_internal_init=True)  # type: ignore[call-arg]
    return root.get_substate(cls.get_full_name().split(".")[1:])


@pytest.mark.parametrize("cls", STATES)
def test_each_state_has_its_own_zone_and_handler(cls: type[Any]) -> None:
    assert issubclass(cls, TimezoneMixin)
    assert "tz" in cls.base_vars  # a var of this state, not shared with the others
    assert cls.event_handlers["set_timezone"].fn.__qualname__ == f"{cls.__name__}.set_timezone"


@pytest.mark.parametrize("cls", STATES)
def test_the_browser_answers_to_the_concrete_state(cls: type[Any]) -> None:
    spec = instance(cls)._ask_timezone()
    (_, script), (_, callback) = spec.args
    assert script._var_value == ASK_ZONE == "Intl.DateTimeFormat().resolvedOptions().timeZone"
    assert f'ReflexEvent("{cls.get_full_name()}.set_timezone", {{tz:_result}})' in (
        callback._var_value
    )


async def test_set_timezone_keeps_the_zone_then_reformats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []

    async def on_timezone(self: Any) -> None:
        seen.append(self.tz)

    monkeypatch.setattr(StatusState, "_on_timezone", on_timezone)
    state = instance(StatusState)
    handler = StatusState.event_handlers["set_timezone"].fn
    await handler(state, "Asia/Tokyo")
    await handler(state, "X" * 100)
    await handler(state, None)
    assert seen == ["Asia/Tokyo", "X" * 64, ""]
    assert state.tz == ""

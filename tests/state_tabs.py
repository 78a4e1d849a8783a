"""Driving Reflex event handlers without a browser, the way Reflex calls them
(``EventHandler.fn(state, *args)``), from a tab whose router carries a session cookie and a
URL: what a forged websocket frame can do. Used by the forged-tab probes."""

from __future__ import annotations

import inspect
from typing import Any

from reflex.istate.data import RouterData
from reflex.state import State

from travelsim.services.auth import sessions
from travelsim.state.session import SessionState


def tab(cls: type[SessionState], token: str | None, url: str) -> Any:
    """A state of ``cls`` whose router carries the session cookie and ``url``, as the
    websocket handshake and page navigation set them."""
    root = State(_reflex_internal_init=True)  # type: ignore[call-arg]
    cookie = f"{sessions.COOKIE_NAME}={token}" if token else ""
    root.router = RouterData.from_router_data(
        {"headers": {"cookie": cookie}, "pathname": url.split("?")[0], "asPath": url}
    )
    return root.get_substate(cls.get_full_name().split(".")[1:])


async def call(handler: Any, state: Any, args: list[Any]) -> list[Any]:
    """Run ``handler`` (an ``EventHandler``) on ``state`` with ``args`` to its end; returns
    what it yielded or returned (redirects, follow-up events)."""
    result = handler.fn(state, *args)
    out: list[Any] = []
    if inspect.isasyncgen(result):
        async for step in result:
            out.append(step)
    elif inspect.isawaitable(result):
        out.append(await result)
    else:
        out.append(result)
    return out

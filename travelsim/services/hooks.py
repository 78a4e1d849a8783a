"""A small registry of async hooks: what runs after a lower service committed something that
a higher one acts on, without the lower one importing the higher (docs/architecture.md#callbacks).

``figures_hooks`` (new usage figures) and ``order_hooks`` (an order given up) each hold one
:class:`Hooks`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, ParamSpec

__all__ = ["Hooks"]

log = logging.getLogger(__name__)

P = ParamSpec("P")


class Hooks(Generic[P]):
    """Hooks called with the same arguments, in registration order. ``name`` is for the
    log line of a failing hook."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._hooks: list[Callable[P, Awaitable[object]]] = []

    def register(self, hook: Callable[P, Awaitable[object]]) -> None:
        """Add ``hook`` (once: registering it again changes nothing)."""
        if hook not in self._hooks:
            self._hooks.append(hook)

    async def run(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Await every hook. A failing hook is logged and the others still run: what the
        caller committed stands either way."""
        for hook in list(self._hooks):
            try:
                await hook(*args, **kwargs)
            except Exception:
                log.exception("%s hook failed", self.name)

"""What runs once an eSIM's usage figures were committed (docs/architecture.md#callbacks).

The usage sync (``usage_sync.sync_esims``) and the callback processing
(``callbacks.apply_pending``) call :func:`figures_changed` after their commits. Features that
act on new figures (the automatic top-up, ``services.auto_topup_fire``) register a hook here,
so the two writers do not import them (they sit below the payment services that import the
provisioning runner, which itself runs the usage sync).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from travelsim.db import SessionFactory
from travelsim.services.hooks import Hooks

__all__ = ["FiguresHook", "figures_changed", "register"]

#: ``hook(esim_ids, session_factory)``: called with the eSIMs whose figures were stored.
FiguresHook = Callable[[list[int], SessionFactory], Awaitable[object]]

_hooks: Hooks[[list[int], SessionFactory]] = Hooks("figures")


def register(hook: FiguresHook) -> None:
    """Add ``hook`` (once: registering it again changes nothing)."""
    _hooks.register(hook)


async def figures_changed(esim_ids: Iterable[int], session_factory: SessionFactory) -> None:
    """Run every registered hook for ``esim_ids`` (duplicates dropped; nothing for none). A
    failing hook is logged and the others still run: the figures are stored either way."""
    ids = sorted(set(esim_ids))
    if ids:
        await _hooks.run(ids, session_factory)

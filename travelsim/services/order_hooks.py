"""What runs once an order was given up (``needs_attention``, its hold voided), after that
commit: features that started the order act on it (the automatic top-up stops its rule,
``services.auto_topup_fire``) without the provisioning runner importing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from travelsim.services.hooks import Hooks

__all__ = ["GivenUpHook", "given_up", "register_given_up"]

#: ``hook(order_id)``: the order was just committed ``needs_attention``. A hook opens its own
#: database session, so its failure never touches the caller's.
GivenUpHook = Callable[[str], Awaitable[object]]

_given_up: Hooks[[str]] = Hooks("order given up")


def register_given_up(hook: GivenUpHook) -> None:
    """Add ``hook`` (once)."""
    _given_up.register(hook)


async def given_up(order_id: str) -> None:
    """Run every registered hook for the given-up ``order_id``; a failing one is logged."""
    await _given_up.run(order_id)

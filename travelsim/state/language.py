"""The language of a state's page: what its event handlers' texts are written in.

Every traveler page exists once per language (``/account``, ``/fr/account``: see
``travelsim.i18n``), and each event carries the route of the page that sent it
(``router.route_id``, the registered pattern such as ``/fr/esims/[esim_ref]``). Every handler of
a :class:`travelsim.state.validation.ValidatedEvents` state runs with that page's language
active (:func:`travelsim.i18n.using`), so an error, a figure or a redirect it makes is in the
traveler's language without the handler asking (docs/i18n.md#texts-made-at-run-time).
"""

from __future__ import annotations

from typing import Any

from travelsim import i18n


def page_locale(state: Any) -> str:
    """The language of the page ``state``'s current event came from (English when the route
    is unknown, e.g. outside an event)."""
    try:
        route = state.router.route_id or state.router.url.path
    except Exception:  # no router data (a state built outside an event)
        return i18n.DEFAULT
    return i18n.split_path(str(route or "/"))[0]

"""States of the staff admin pages (``/admin`` and below), one module per section. Thin:
they call ``travelsim.services.admin``. The staff gate, the notice line and the list
mechanism every section shares are in :mod:`travelsim.state.admin.base`."""

from __future__ import annotations

from travelsim.state.admin.base import AdminState
from travelsim.state.admin.catalogue import AdminCatalogueState
from travelsim.state.admin.esims import AdminEsimsState
from travelsim.state.admin.orders import AdminOrdersState
from travelsim.state.admin.outbox import AdminAuditState, AdminOutboxState
from travelsim.state.admin.overview import AdminOverviewState
from travelsim.state.admin.simulator import AdminSimState
from travelsim.state.admin.travelers import AdminTravelersState

#: Every admin state, for the access tests.
ADMIN_STATES: tuple[type[AdminState], ...] = (
    AdminOverviewState,
    AdminOrdersState,
    AdminTravelersState,
    AdminEsimsState,
    AdminCatalogueState,
    AdminOutboxState,
    AdminAuditState,
    AdminSimState,
)

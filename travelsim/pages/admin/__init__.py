"""Staff admin pages: overview, orders, travelers, eSIMs, catalogue, VAT rates, outbox, audit
log, reconciliation and simulator controls, one module per section; the frame and the
sections' paths are in :mod:`travelsim.pages.admin.layout`, the widgets in
:mod:`travelsim.components.admin_widgets`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from travelsim.pages.admin.catalogue import catalogue_page
from travelsim.pages.admin.esims import esims_page
from travelsim.pages.admin.layout import (
    AUDIT,
    CATALOGUE,
    ESIMS,
    ORDERS,
    OUTBOX,
    OVERVIEW,
    RECONCILIATION,
    SIMULATOR,
    TAX,
    TRAVELERS,
)
from travelsim.pages.admin.orders import orders_page
from travelsim.pages.admin.outbox import audit_page, outbox_page
from travelsim.pages.admin.overview import overview_page
from travelsim.pages.admin.reconciliation import reconciliation_page
from travelsim.pages.admin.simulator import simulator_page
from travelsim.pages.admin.tax import tax_page
from travelsim.pages.admin.travelers import travelers_page
from travelsim.state.admin.catalogue import AdminCatalogueState
from travelsim.state.admin.esims import AdminEsimsState
from travelsim.state.admin.orders import AdminOrdersState
from travelsim.state.admin.outbox import AdminAuditState, AdminOutboxState
from travelsim.state.admin.overview import AdminOverviewState
from travelsim.state.admin.reconciliation import AdminReconciliationState
from travelsim.state.admin.simulator import AdminSimState
from travelsim.state.admin.tax import AdminTaxState
from travelsim.state.admin.travelers import AdminTravelersState

#: (component, route, title, on_load) of the admin pages, appended to ``travelsim.PAGES``.
ADMIN_PAGES: list[tuple[Callable[[], rx.Component], str, str, Any]] = [
    (overview_page, OVERVIEW, "Admin", AdminOverviewState.load),
    (orders_page, ORDERS, "Admin: orders", AdminOrdersState.load),
    (travelers_page, TRAVELERS, "Admin: travelers", AdminTravelersState.load),
    (esims_page, ESIMS, "Admin: eSIMs", AdminEsimsState.load),
    (catalogue_page, CATALOGUE, "Admin: catalogue", AdminCatalogueState.load),
    (tax_page, TAX, "Admin: VAT rates", AdminTaxState.load),
    (outbox_page, OUTBOX, "Admin: outbox", AdminOutboxState.load),
    (audit_page, AUDIT, "Admin: audit log", AdminAuditState.load),
    (
        reconciliation_page,
        RECONCILIATION,
        "Admin: reconciliation",
        AdminReconciliationState.load,
    ),
    (simulator_page, SIMULATOR, "Admin: simulator", AdminSimState.load),
]

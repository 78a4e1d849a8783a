"""Builds the Reflex app: pages, API routes, lifespan tasks."""

from __future__ import annotations

import reflex as rx

from travelsim.pages.home import home
from travelsim.routes.app import build_routes_app
from travelsim.state.catalogue import CatalogueState

app = rx.App(
    api_transformer=build_routes_app(),
)
app.add_page(
    home,
    route="/",
    title="TravelSIM: travel eSIMs with live data balance",
    on_load=CatalogueState.load,
)

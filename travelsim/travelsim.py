"""Builds the Reflex app: pages, API routes, lifespan tasks."""

from __future__ import annotations

import reflex as rx

from travelsim.pages.account import account_page
from travelsim.pages.auth import signin, signup
from travelsim.pages.buy import buy
from travelsim.pages.home import home
from travelsim.pages.install import install_page
from travelsim.pages.order import order_page
from travelsim.routes.app import build_routes_app
from travelsim.state.account import AccountState
from travelsim.state.auth_pages import AuthPageState
from travelsim.state.buy import BuyState
from travelsim.state.catalogue import CatalogueState
from travelsim.state.install import InstallState
from travelsim.state.order import OrderState
from travelsim.state.session import SessionState

app = rx.App(api_transformer=build_routes_app())

app.add_page(
    home,
    route="/",
    title="TravelSIM: travel eSIMs with live data balance",
    on_load=[SessionState.load_session, CatalogueState.load],
)
app.add_page(signin, route="/signin", title="Sign in · TravelSIM", on_load=AuthPageState.load)
app.add_page(
    signup, route="/signup", title="Create account · TravelSIM", on_load=AuthPageState.load
)
app.add_page(buy, route="/buy/[buy_plan_id]", title="Checkout · TravelSIM", on_load=BuyState.load)
app.add_page(
    order_page, route="/orders/[order_ref]", title="Your order · TravelSIM", on_load=OrderState.load
)
app.add_page(
    install_page,
    route="/esims/[esim_ref]",
    title="Install your eSIM · TravelSIM",
    on_load=InstallState.load,
)
app.add_page(
    account_page, route="/account", title="My eSIMs · TravelSIM", on_load=AccountState.load
)

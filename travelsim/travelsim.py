"""Builds the Reflex app: pages, API routes, lifespan tasks."""

from __future__ import annotations

import reflex as rx

from travelsim import logs, startup
from travelsim.pages.account import account_page
from travelsim.pages.admin import ADMIN_PAGES
from travelsim.pages.auth import signin, signup
from travelsim.pages.buy import buy
from travelsim.pages.esim import esim_page
from travelsim.pages.home import home
from travelsim.pages.install import install_page
from travelsim.pages.order import order_page
from travelsim.pages.receipt import receipt_page
from travelsim.pages.security import (
    delete_account_page,
    forgot_password_page,
    reset_password_page,
    security_page,
    totp_page,
)
from travelsim.pages.status import status_page
from travelsim.pages.topup import topup_page
from travelsim.routes.app import build_routes_app
from travelsim.scheduler import scheduler_lifespan
from travelsim.services import live
from travelsim.state.account import AccountState
from travelsim.state.auth_pages import AuthPageState
from travelsim.state.buy import BuyState
from travelsim.state.catalogue import CatalogueState
from travelsim.state.esim import EsimState
from travelsim.state.install import InstallState
from travelsim.state.order import OrderState
from travelsim.state.receipt import ReceiptState
from travelsim.state.security import (
    DeleteAccountState,
    PasswordResetState,
    SecurityState,
    TotpState,
)
from travelsim.state.session import SessionState
from travelsim.state.status import StatusState
from travelsim.state.topup import TopupState

# Fail closed in every worker that imports the app (docs/architecture.md
# #security-modes-and-start-up-checks); rxconfig.py refuses the same for `reflex run`.
logs.configure(startup.checked_settings("app"))

app = rx.App(api_transformer=build_routes_app())

PAGES = [
    (
        home,
        "/",
        "Travel eSIMs with live data balance",
        [SessionState.load_session, CatalogueState.load],
    ),
    (signin, "/signin", "Sign in", AuthPageState.load),
    (signup, "/signup", "Create account", AuthPageState.load),
    (buy, "/buy/[buy_plan_id]", "Checkout", BuyState.load),
    (order_page, "/orders/[order_ref]", "Your order", OrderState.load),
    (receipt_page, "/orders/[order_ref]/receipt", "Receipt", ReceiptState.load),
    (account_page, "/account", "My eSIMs", AccountState.load),
    (esim_page, "/esims/[esim_ref]", "Your eSIM", EsimState.load),
    (install_page, "/esims/[esim_ref]/install", "Install your eSIM", InstallState.load),
    (topup_page, "/esims/[esim_ref]/topup", "Buy more data", TopupState.load),
    (security_page, "/security", "Security & privacy", SecurityState.load),
    (totp_page, "/security/totp", "Two-step verification", TotpState.load),
    (
        forgot_password_page,
        "/password/forgot",
        "Reset your password",
        PasswordResetState.load_forgot,
    ),
    (
        reset_password_page,
        "/password/reset",
        "Choose a new password",
        PasswordResetState.load_reset,
    ),
    (delete_account_page, "/account/delete", "Delete your account", DeleteAccountState.load),
    (status_page, "/status", "Service status", StatusState.load),
]
PAGES += ADMIN_PAGES
for component, route, title, on_load in PAGES:
    app.add_page(component, route=route, title=f"{title} · TravelSIM", on_load=on_load)

# Background jobs (usage sync, recovery, notifications, ...): one leader across workers.
app.register_lifespan_task(scheduler_lifespan)
# Live page updates across workers (Redis pub/sub when REDIS_URL is set).
app.register_lifespan_task(live.live_lifespan)

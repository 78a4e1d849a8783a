"""Builds the Reflex app: pages, API routes, lifespan tasks."""

from __future__ import annotations

import reflex as rx

from travelsim import i18n, logs, startup, urls
from travelsim.i18n import N_
from travelsim.pages.account import account_page
from travelsim.pages.admin import ADMIN_PAGES
from travelsim.pages.auth import signin, signup
from travelsim.pages.buy import buy
from travelsim.pages.content import content_page
from travelsim.pages.esim import esim_page
from travelsim.pages.gift import gift_claim_page
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
from travelsim.state.auto_topup import AutoTopupState
from travelsim.state.buy import BuyState
from travelsim.state.buy_consent import BuyConsentState
from travelsim.state.catalogue import CatalogueState
from travelsim.state.content import ContentState
from travelsim.state.currency import CurrencyState
from travelsim.state.device_check import DeviceCheckState
from travelsim.state.esim import EsimState
from travelsim.state.gift import GiftCheckoutState, GiftPanelState
from travelsim.state.gift_claim import GiftClaimState
from travelsim.state.install import InstallState
from travelsim.state.network_facts import CheckoutNetworkState, InstallNetworkState
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
from travelsim.state.tax_country import TaxCountryState
from travelsim.state.topup import TopupState
from travelsim.stripe_local import stripe_local_lifespan

# Fail closed in every worker that imports the app (docs/architecture.md
# #security-modes-and-start-up-checks); rxconfig.py refuses the same for `reflex run`.
logs.configure(startup.checked_settings("app"))

#: On every page: the web app manifest (installable app), its theme colour and touch icon, and
#: the script asset that registers the service worker (``assets/sw.js``; an asset, not an
#: inline script). Files in ``assets/`` are served at the site root
#: (docs/esim.md#offline-install-card).
HEAD = [
    rx.el.link(rel="manifest", href="/manifest.webmanifest"),
    rx.el.meta(name="theme-color", content="#12a594"),
    rx.el.link(rel="apple-touch-icon", href="/icons/apple-touch-icon.png"),
    rx.el.script(src="/sw-register.js", defer=True),
]

#: Contrast, inline-link, skip-link and reduced-motion rules over Radix Themes
#: (docs/accessibility.md#colours).
STYLESHEETS = ["/a11y.css"]

app = rx.App(api_transformer=build_routes_app(), head_components=HEAD, stylesheets=STYLESHEETS)

PAGES = [
    (
        home,
        "/",
        N_("Travel eSIMs with live data balance"),
        [SessionState.load_session, CatalogueState.load],
    ),
    (signin, "/signin", N_("Sign in"), AuthPageState.load),
    (signup, "/signup", N_("Create account"), AuthPageState.load),
    (
        buy,
        "/buy/[buy_plan_id]",
        N_("Checkout"),
        [
            BuyState.load,
            GiftCheckoutState.load,
            DeviceCheckState.load,
            CheckoutNetworkState.load,
            TaxCountryState.load,
            BuyConsentState.load,
        ],
    ),
    (order_page, "/orders/[order_ref]", N_("Your order"), [OrderState.load, GiftPanelState.load]),
    (receipt_page, "/orders/[order_ref]/receipt", N_("Receipt"), ReceiptState.load),
    (account_page, "/account", N_("My eSIMs"), AccountState.load),
    (esim_page, "/esims/[esim_ref]", N_("Your eSIM"), [EsimState.load, AutoTopupState.load]),
    (
        install_page,
        "/esims/[esim_ref]/install",
        N_("Install your eSIM"),
        [InstallState.load, InstallNetworkState.load],
    ),
    (topup_page, "/esims/[esim_ref]/topup", N_("Buy more data"), TopupState.load),
    (security_page, "/security", N_("Security & privacy"), SecurityState.load),
    (totp_page, "/security/totp", N_("Two-step verification"), TotpState.load),
    (
        forgot_password_page,
        "/password/forgot",
        N_("Reset your password"),
        PasswordResetState.load_forgot,
    ),
    (
        reset_password_page,
        "/password/reset",
        N_("Choose a new password"),
        PasswordResetState.load_reset,
    ),
    (delete_account_page, "/account/delete", N_("Delete your account"), DeleteAccountState.load),
    (status_page, "/status", N_("Service status"), StatusState.load),
    (gift_claim_page, urls.GIFT_CLAIM, N_("Claim your gift eSIM"), GiftClaimState.load),
    (content_page, "/terms", N_("Terms and conditions"), ContentState.load),
    (content_page, "/privacy", N_("Privacy notice"), ContentState.load),
    (content_page, "/imprint", N_("Legal notice"), ContentState.load),
    (content_page, "/cookies", N_("Cookies"), ContentState.load),
]
# Each traveler page once per language: English at its plain route, the others under their
# prefix, each copy built with its language active so its texts come from that catalog
# (docs/i18n.md#routes). Staff pages are English only.
if [p[1] for p in PAGES] != list(urls.TRAVELER_PAGES):
    raise RuntimeError("travelsim.urls.TRAVELER_PAGES must list these pages' routes")
for component, route, title, on_load in PAGES:
    # The header's currency menu needs the traveler's currency on every traveler page.
    loads = [CurrencyState.load, *(on_load if isinstance(on_load, list) else [on_load])]
    for locale in i18n.LOCALES:
        with i18n.using(locale):
            app.add_page(
                i18n.compiled_in(locale, component),
                route=i18n.localized(route, locale),
                title=f"{i18n.gettext(title)} · TravelSIM",
                on_load=loads,
            )
for component, route, title, on_load in ADMIN_PAGES:
    # Staff pages share the header, currency menu included: without its load a staff page
    # opened directly showed the menu as a bare icon.
    app.add_page(
        component,
        route=route,
        title=f"{title} · TravelSIM",
        on_load=[CurrencyState.load, on_load],
    )

# The embedded localstripe in demo/test (started, or its webhook registered) before the
# scheduler, whose jobs may read PaymentIntents; stopped after it (lifespan tasks unwind in
# reverse order).
app.register_lifespan_task(stripe_local_lifespan)
# Background jobs (usage sync, recovery, notifications, ...): one leader across workers.
app.register_lifespan_task(scheduler_lifespan)
# Live page updates across workers (Redis pub/sub when REDIS_URL is set).
app.register_lifespan_task(live.live_lifespan)

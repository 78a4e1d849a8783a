"""The Starlette app holding the portal's own HTTP routes (mounted before Reflex's)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route

from travelsim.routes.account import account_routes
from travelsim.routes.auth import auth_routes
from travelsim.routes.callbacks import callback_routes
from travelsim.routes.currency import currency_routes
from travelsim.routes.demo import mailbox
from travelsim.routes.esim import install_json, qr_png
from travelsim.routes.health import healthz
from travelsim.routes.http import CrossOriginGuard, RequestIdMiddleware
from travelsim.routes.install_card import install_card_routes
from travelsim.routes.locale import LocaleMiddleware, locale_routes
from travelsim.routes.metrics import metrics
from travelsim.routes.oidc import oidc_app
from travelsim.routes.security import security_routes
from travelsim.routes.simulator import SimulatorControls
from travelsim.routes.stripe_webhook import stripe_webhook_routes


def build_routes_app() -> Starlette:
    """Routes: ``/healthz``, ``/metrics`` (Prometheus, ``travelsim.routes.metrics``), the
    ``/auth/*`` form posts (``travelsim.routes.auth``) and the
    owner-only installation QR image (``travelsim.routes.esim``) and install card
    (``travelsim.routes.install_card``), the platform callbacks and
    the notification unsubscribe link (``travelsim.routes.callbacks``), Stripe's webhook
    events (``travelsim.routes.stripe_webhook``); password reset, second
    factor and sign-out everywhere (``travelsim.routes.security``), provider sign-in under
    ``/auth/oidc`` (``travelsim.routes.oidc``), data export and account deletion
    (``travelsim.routes.account``); in demo and test mode, the built-in simulator's controls
    under ``/_sim/`` for loopback clients (``travelsim.routes.simulator``).

    Every unsafe method from a foreign origin is refused with 403 before any route runs
    (:class:`travelsim.routes.http.CrossOriginGuard`, except the server-to-server
    receivers of ``SERVER_TO_SERVER``); Reflex adds its CORS middleware outside it. Traveler
    pages open in the traveler's language (:class:`travelsim.routes.locale.LocaleMiddleware`,
    and the switcher's ``/lang/{locale}``)."""
    return Starlette(
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(CrossOriginGuard),
            Middleware(LocaleMiddleware),
        ],
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *auth_routes(),
            *security_routes(),
            Mount("/auth/oidc", app=oidc_app()),
            *account_routes(),
            Route("/esims/{esim_id}/qr.png", qr_png, methods=["GET"]),
            Route("/esims/{esim_id}/install.json", install_json, methods=["GET"]),
            *install_card_routes(),
            Route("/demo/mailbox", mailbox, methods=["GET"]),
            *callback_routes(),
            *stripe_webhook_routes(),
            *locale_routes(),
            *currency_routes(),
            Route("/_sim/{path:path}", SimulatorControls()),
        ],
    )

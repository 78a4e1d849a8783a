"""Reflex configuration. Reads the portal settings and nothing else."""

import reflex as rx

from travelsim import startup
from travelsim.origins import allowed_origins

# Every `reflex` command (run, export, db ...) refuses weak settings before doing anything:
# one line each, exit status 1 (docs/architecture.md#security-modes-and-start-up-checks).
_settings = startup.checked_settings("reflex")

config = rx.Config(
    app_name="travelsim",
    frontend_port=_settings.frontend_port,
    backend_port=_settings.backend_port,
    api_url=f"http://localhost:{_settings.backend_port}",
    # Demo/test listen on loopback only unless DEMO_ALLOW_LAN=1 (travelsim.startup).
    backend_host=startup.listen_host(_settings),
    deploy_url=_settings.public_url,
    # Who may read answers with credentials (Reflex's CORS middleware on every layer) and
    # open the event websocket (socket.io): the public origin only, never Reflex's "*"
    # (docs/architecture.md#security-origins-csrf-and-event-arguments).
    cors_allowed_origins=allowed_origins(_settings),
    db_url=_settings.sync_database_url,
    redis_url=_settings.redis_url,
    # Per-tab state is a cache (the database is the source of truth) and never holds
    # installation data (docs/esim.md#security-installation-data-never-in-page-state):
    # memory for one worker, Redis (with expiry) for several.
    state_manager_mode="redis" if _settings.redis_url else "memory",
    # The client address of handlers (router.session.client_ip), read like the routes'
    # travelsim.routes.http.client_address (docs/architecture.md#rate-limits).
    trusted_proxy_hops=_settings.trusted_proxy_hops,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="teal", radius="large")),
        rx.plugins.SitemapPlugin(),
    ],
)

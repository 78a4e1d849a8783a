"""The Starlette app holding the portal's own HTTP routes (mounted before Reflex's)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from travelsim.routes.health import healthz


def build_routes_app() -> Starlette:
    """Routes: ``/healthz``. Later issues add auth, QR images and callbacks here."""
    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"])])

"""The web origins the portal trusts: who may read its answers (CORS), open its websocket
and post its forms (docs/architecture.md#security-origins-csrf-and-event-arguments).

An origin is ``scheme://host[:port]`` (RFC 6454), lower-case, the port left out when it is
the scheme's default, exactly as a browser writes it in an ``Origin`` header. Imported by
``rxconfig.py`` (Reflex's ``cors_allowed_origins``, for HTTP and socket.io) and by the
routes' cross-origin guard (``travelsim.routes.http``), so both read one list. Imports only
the settings.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from travelsim.settings import Settings

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """The origin of ``url`` as a browser serializes it (``https://example.com``,
    ``http://localhost:3000``), or ``None`` when ``url`` is not an absolute http(s) URL
    (``"null"``, a path, an unparsable port)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def allowed_origins(settings: Settings) -> list[str]:
    """The origins allowed to read the portal's answers with credentials and to open its
    websocket: ``PUBLIC_URL``'s origin; in demo and test mode also the development
    frontend's on loopback (``http://localhost:<FRONTEND_PORT>``, ``http://127.0.0.1:…``)
    when it differs (``reflex run`` without ``--env prod`` serves the pages on their own
    port; a developer may open either name). Never ``*``.

    Raises ``ValueError`` when ``PUBLIC_URL`` is not an absolute http(s) URL."""
    public = origin_of(settings.public_url)
    if public is None:
        raise ValueError(f"PUBLIC_URL is not an absolute http(s) URL: {settings.public_url!r}")
    origins = [public]
    if settings.app_env in ("demo", "test"):
        for host in ("localhost", "127.0.0.1"):
            dev = f"http://{host}:{settings.frontend_port}"
            if dev not in origins:
                origins.append(dev)
    return origins

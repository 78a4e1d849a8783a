"""Sign-in with an OpenID Connect provider: authorization code flow with PKCE, state and
nonce, through Authlib's Starlette integration.

- ``POST /auth/oidc/login`` (form: ``next``; same-origin check): redirect (302) to the
  provider's authorization endpoint with ``response_type=code``, ``scope`` from
  ``OIDC_SCOPES``, a random ``state``, a random ``nonce`` and a PKCE ``code_challenge``
  (S256). Authlib keeps ``state``, ``nonce``, the ``code_verifier``, the redirect URI and our
  ``next`` in a short-lived signed cookie (``travelsim_oidc``: HttpOnly, ``SameSite=Lax``,
  ``Path=/auth/oidc``, 10 minutes, ``Secure`` outside demo/test; Starlette's
  ``SessionMiddleware`` keyed with ``keys.signing_key("oidc-session")``).
- ``GET /auth/oidc/callback?code=&state=``: Authlib checks ``state`` against the cookie
  (single use), exchanges the code with the ``code_verifier`` and the client secret, and
  validates the ID token: signature against the provider's JWKS (re-fetched once for an
  unknown key id), ``iss`` equal to the discovered issuer, ``aud`` containing our client id,
  ``exp`` (and ``iat``) with 2 minutes of leeway, ``nonce`` equal to ours. Then
  :func:`travelsim.services.oidc.resolve_user` decides who it is, and the browser gets the
  same HttpOnly database session cookie as a password sign-in (rotated; the ID token is kept
  encrypted for the provider's end-session). Users with TOTP continue to the second-factor
  page; staff accounts are refused (``oidc_staff``) and an existing account linked by email
  is told so by email (:mod:`travelsim.services.oidc`). Any failure lands on
  ``/signin?error=oidc_…`` and signs nobody in.

Sign-out (``POST /auth/signout`` in :mod:`travelsim.routes.auth`) of a provider session
ends it here and then at the provider when its discovery offers ``end_session_endpoint``
(:func:`provider_logout_url`).

Configuration is read at request time (never while pages are built); without
``OIDC_ISSUER_URL`` and ``OIDC_CLIENT_ID`` these routes answer 404.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError
from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from travelsim import db, urls
from travelsim.keys import secret_box, signing_key
from travelsim.models import SessionFactor
from travelsim.routes.currency import remember_account_currency
from travelsim.routes.http import (
    cookie_token,
    forbidden,
    read_form,
    redirect,
    same_origin,
    set_session_cookie,
)
from travelsim.routes.locale import in_request_language, remember_account_language
from travelsim.services import oidc as oidc_service
from travelsim.services.auth.errors import AccountError
from travelsim.services.auth.sessions import start_session
from travelsim.services.auth.signin import after_signin_path, safe_next
from travelsim.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: Cookie holding the in-flight authorization (state, nonce, PKCE verifier), signed.
FLOW_COOKIE = "travelsim_oidc"
#: Lifetime of an in-flight authorization, seconds.
FLOW_MAX_AGE = 600
#: Accepted clock skew when checking ``exp`` / ``iat`` of ID tokens, seconds.
ID_TOKEN_LEEWAY = 120
_PROVIDER = "provider"

_registries: dict[tuple[str, str, str, str], Any] = {}


def callback_url(settings: Settings) -> str:
    """The redirect URI registered at the provider: ``{PUBLIC_URL}/auth/oidc/callback``."""
    return urls.absolute(urls.OIDC_CALLBACK, settings.public_url)


def provider_client(settings: Settings | None = None) -> Any | None:
    """The Authlib client (``StarletteOAuth2App``) for the configured provider, or ``None``
    when OIDC is not configured. One per configuration, so discovery and JWKS are cached."""
    cfg = settings or get_settings()
    if not cfg.oidc_enabled:
        return None
    assert cfg.oidc_issuer_url is not None and cfg.oidc_client_id is not None
    secret = cfg.oidc_client_secret.get_secret_value() if cfg.oidc_client_secret else ""
    key = (cfg.oidc_issuer_url, cfg.oidc_client_id, secret, cfg.oidc_scopes)
    client = _registries.get(key)
    if client is None:
        oauth = OAuth()
        client = oauth.register(
            _PROVIDER,
            client_id=cfg.oidc_client_id,
            client_secret=secret or None,
            server_metadata_url=(
                cfg.oidc_issuer_url.rstrip("/") + "/.well-known/openid-configuration"
            ),
            client_kwargs={
                "scope": cfg.oidc_scopes,
                "code_challenge_method": "S256",
                "timeout": 15.0,
            },
        )
        _registries[key] = client
    return client


def id_token_claims_options(issuer: str, client_id: str) -> dict[str, Any]:
    """What an ID token must say: ``iss`` exactly the discovered issuer, ``aud`` containing
    our client id, and ``sub``/``exp``/``iat`` present (``exp``/``iat`` are checked against
    the clock with :data:`ID_TOKEN_LEEWAY`; ``nonce`` and ``azp`` by Authlib)."""
    return {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }


async def _discovered_issuer(client: Any, settings: Settings) -> str:
    """The provider's ``issuer`` from discovery, which must equal ``OIDC_ISSUER_URL``
    (OpenID Connect Discovery 1.0 section 4.3; trailing slashes ignored). Raises ``ValueError``
    otherwise (a mix-up or a misconfiguration: nothing is trusted from that provider)."""
    metadata = await client.load_server_metadata()
    issuer = metadata.get("issuer")
    configured = (settings.oidc_issuer_url or "").rstrip("/")
    if not isinstance(issuer, str) or issuer.rstrip("/") != configured:
        raise ValueError("discovered issuer differs from OIDC_ISSUER_URL")
    return issuer


def _not_configured() -> Response:
    return PlainTextResponse("Sign-in with an identity provider is not configured.", 404)


async def login(request: Request) -> Response:
    """``POST /auth/oidc/login``: start the authorization code flow."""
    settings = get_settings()
    if not same_origin(request, settings):
        return forbidden()
    client = provider_client(settings)
    if client is None:
        return _not_configured()
    form = await read_form(request)
    request.session.clear()
    request.session["next"] = safe_next(form.get("next"))
    try:
        await _discovered_issuer(client, settings)
        response: Response = await client.authorize_redirect(request, callback_url(settings))
    except (httpx.HTTPError, OAuthError, ValueError, KeyError, RuntimeError):
        log.warning("identity provider discovery failed", exc_info=True)
        return redirect(urls.SIGN_IN, error="oidc_unavailable")
    return response


async def callback(request: Request) -> Response:
    """``GET /auth/oidc/callback``: finish the flow, validate the ID token, sign in."""
    settings = get_settings()
    client = provider_client(settings)
    if client is None:
        return _not_configured()
    next_path = safe_next(request.session.get("next"))
    try:
        issuer = await _discovered_issuer(client, settings)
        token = await client.authorize_access_token(
            request,
            leeway=ID_TOKEN_LEEWAY,
            claims_options=id_token_claims_options(issuer, client.client_id),
        )
    except OAuthError as exc:
        request.session.clear()
        code = "oidc_denied" if exc.error == "access_denied" else "oidc_failed"
        log.info("provider sign-in failed: %s", exc.error)
        return redirect(urls.SIGN_IN, error=code)
    except JoseError as exc:
        request.session.clear()
        log.info("provider ID token refused: %s", exc.error)
        return redirect(urls.SIGN_IN, error="oidc_failed")
    except httpx.HTTPError:
        request.session.clear()
        log.warning("identity provider unreachable during sign-in", exc_info=True)
        return redirect(urls.SIGN_IN, error="oidc_unavailable")
    except (ValueError, KeyError, TypeError):
        request.session.clear()
        log.warning("identity provider answer malformed", exc_info=True)
        return redirect(urls.SIGN_IN, error="oidc_failed")
    request.session.clear()
    claims = token.get("userinfo")
    id_token = token.get("id_token")
    if not claims or not isinstance(id_token, str):
        # No ID token: nothing was validated (an OAuth-only answer). Refuse.
        return redirect(urls.SIGN_IN, error="oidc_failed")
    async with db.session() as s:
        try:
            user, identity = await oidc_service.resolve_user(
                s,
                oidc_service.ProviderClaims.from_claims(claims),
                provider_name=settings.oidc_display_name,
                user_agent=request.headers.get("user-agent"),
            )
        except AccountError as exc:
            await s.rollback()
            return redirect(urls.SIGN_IN, error=exc.code)
        session_token = await start_session(
            s,
            user,
            method="oidc",
            previous_token=cookie_token(request),
            user_agent=request.headers.get("user-agent"),
            oidc_identity_id=identity.id,
            id_token=id_token,
        )
        target = await after_signin_path(s, user, session_token, next_path)
        await s.commit()
    response = redirect(target)
    set_session_cookie(response, session_token, settings)
    remember_account_language(response, user)
    remember_account_currency(response, user)
    return response


async def provider_logout_url(factor: SessionFactor | None) -> str | None:
    """Where to send the browser after ending a provider session locally: the provider's
    ``end_session_endpoint`` with ``id_token_hint``, ``client_id`` and
    ``post_logout_redirect_uri={PUBLIC_URL}/``; ``None`` for other sessions, when the
    provider offers no end-session, or when its discovery cannot be read."""
    if factor is None or factor.method != "oidc":
        return None
    settings = get_settings()
    client = provider_client(settings)
    if client is None:
        return None
    try:
        metadata = await client.load_server_metadata()
        if not metadata.get("end_session_endpoint"):
            return None
        hint = secret_box().decrypt(factor.id_token_enc) if factor.id_token_enc else None
        result = await client.create_logout_url(
            post_logout_redirect_uri=urls.absolute("/", settings.public_url),
            id_token_hint=hint,
            client_id=settings.oidc_client_id,
        )
    except Exception:
        log.warning("provider end-session unavailable", exc_info=True)
        return None
    return str(result["url"])


class _FlowSession:
    """``SessionMiddleware`` around the OIDC routes, built on the first request (so the
    signing key and cookie flags come from the runtime settings, never at import)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._wrapped: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._wrapped is None:
            settings = get_settings()
            self._wrapped = SessionMiddleware(
                self._app,
                secret_key=signing_key("oidc-session").hex(),
                session_cookie=FLOW_COOKIE,
                max_age=FLOW_MAX_AGE,
                path="/auth/oidc",
                same_site="lax",
                https_only=settings.secure_cookies,
            )
        await self._wrapped(scope, receive, send)


def oidc_app() -> ASGIApp:
    """The OIDC routes with their flow cookie, to mount at ``/auth/oidc``."""
    inner = Starlette(
        routes=[
            Route("/login", login, methods=["POST"]),
            # A new account and the link notice take the traveler's language (docs/i18n.md#emails).
            Route("/callback", in_request_language(callback), methods=["GET"]),
        ]
    )
    return _FlowSession(inner)

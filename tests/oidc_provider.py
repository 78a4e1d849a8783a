"""A real OpenID Connect provider for the tests, served by uvicorn on a loopback port.

It implements what the portal relies on, after OpenID Connect Core 1.0 and RFC 7636:

- ``GET /.well-known/openid-configuration`` (discovery) and ``GET /jwks`` (public RSA key);
- ``GET /authorize``: checks ``client_id``, the exact registered ``redirect_uri``,
  ``response_type=code``, ``scope`` containing ``openid``, a ``state``, a ``nonce`` and a PKCE
  ``code_challenge`` with method ``S256``; answers a small consent form where the tester
  picks who signs in (``sub``, ``email``, ``email_verified``) and, for failure tests, a
  ``fault``; ``POST /authorize`` approves (302 to ``redirect_uri?code=…&state=…``) or denies
  (``error=access_denied``);
- ``POST /token``: client authentication (``client_secret_basic`` or ``_post``), single-use
  codes bound to the redirect URI, PKCE check ``BASE64URL(SHA256(code_verifier)) ==
  code_challenge``, then an access token and an RS256 ID token (``iss``, ``sub``, ``aud``,
  ``exp`` 5 min, ``iat``, ``nonce``, ``email``, ``email_verified``);
- ``GET /logout`` (end-session): records the call and redirects to
  ``post_logout_redirect_uri``.

Faults (chosen per authorization on the consent form): ``state`` (the redirect carries a
different state), ``nonce`` (the ID token carries another nonce), ``expired`` (``exp`` an
hour ago), ``forged`` (signed with a different key under the same key id), ``audience``
(issued to another client), ``issuer`` (another issuer).

No portal code is imported here: the expected behaviour comes from the specifications.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

FAULTS = ("none", "state", "nonce", "expired", "forged", "audience", "issuer")


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: ``BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))``, no padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class Provider:
    """The provider's configuration and what it saw (for assertions)."""

    client_id: str
    client_secret: str
    redirect_uris: list[str]
    issuer: str = ""
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(
            2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"}
        )
    )
    forged_key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(
            2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"}
        )
    )
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    logouts: list[dict[str, str]] = field(default_factory=list)
    default_fault: str = "none"

    # --- endpoints ------------------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "end_session_endpoint": f"{self.issuer}/logout",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    def _check_authorize(self, params: dict[str, str]) -> str | None:
        """An error description, or ``None`` when the request is acceptable."""
        if params.get("client_id") != self.client_id:
            return "unknown client"
        if params.get("redirect_uri") not in self.redirect_uris:
            return "redirect_uri not registered"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if "openid" not in params.get("scope", "").split():
            return "scope must contain openid"
        if not params.get("state"):
            return "state missing"
        if not params.get("nonce"):
            return "nonce missing"
        if not params.get("code_challenge") or params.get("code_challenge_method") != "S256":
            return "PKCE S256 required"
        return None

    async def authorize_form(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.authorize_requests.append(params)
        problem = self._check_authorize(params)
        if problem:
            return HTMLResponse(f"<h1>Bad request</h1><p>{html.escape(problem)}</p>", 400)
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        options = "".join(
            f'<option value="{f}"{" selected" if f == self.default_fault else ""}>{f}</option>'
            for f in FAULTS
        )
        page = f"""<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Test IdP: sign in</title>
<style>body{{font-family:sans-serif;max-width:26em;margin:3em auto;padding:0 1em}}
label{{display:block;margin:.8em 0 .2em}}input[type=text],input[type=email],select{{width:100%;
padding:.4em}}button{{margin-top:1em;padding:.6em 1.2em}}</style></head><body>
<h1>Test IdP</h1><p>The application <b>{html.escape(self.client_id)}</b> asks who you are.</p>
<form method="post" action="/authorize">{hidden}
<label for="sub">Subject</label><input id="sub" type="text" name="sub" value="user-1">
<label for="email">Email</label><input id="email" type="email" name="email" value="">
<label><input type="checkbox" name="email_verified" value="true" checked> Email verified</label>
<label for="fault">Fault</label><select id="fault" name="fault">{options}</select>
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny">Deny</button>
</form></body></html>"""
        return HTMLResponse(page)

    async def authorize_submit(self, request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        problem = self._check_authorize(form)
        if problem:
            return HTMLResponse(f"<h1>Bad request</h1><p>{html.escape(problem)}</p>", 400)
        redirect_uri = form["redirect_uri"]
        if form.get("action") == "deny":
            query = urlencode({"error": "access_denied", "state": form["state"]})
            return RedirectResponse(f"{redirect_uri}?{query}", 302)
        fault = form.get("fault", "none")
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "client_id": form["client_id"],
            "redirect_uri": redirect_uri,
            "nonce": form["nonce"],
            "code_challenge": form["code_challenge"],
            "sub": form.get("sub") or "user-1",
            "email": form.get("email") or None,
            "email_verified": form.get("email_verified") == "true",
            "fault": fault,
            "expires": time.time() + 60,
        }
        state = "tampered-" + secrets.token_urlsafe(8) if fault == "state" else form["state"]
        return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", 302)

    def _client_auth(self, request: Request, form: dict[str, str]) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                raw = base64.b64decode(header[6:]).decode()
            except ValueError:
                return False
            from urllib.parse import unquote

            cid, _, secret = raw.partition(":")
            return unquote(cid) == self.client_id and unquote(secret) == self.client_secret
        return form.get("client_id") == self.client_id and secrets.compare_digest(
            form.get("client_secret", ""), self.client_secret
        )

    async def token(self, request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        record: dict[str, Any] = {"form": dict(form), "ok": False}
        self.token_requests.append(record)
        if not self._client_auth(request, form):
            return JSONResponse({"error": "invalid_client"}, 401)
        if form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        grant = self.codes.pop(form.get("code", ""), None)  # single use
        if grant is None or grant["expires"] < time.time():
            return JSONResponse({"error": "invalid_grant", "error_description": "code"}, 400)
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "redirect"}, 400)
        verifier = form.get("code_verifier", "")
        if not verifier or s256(verifier) != grant["code_challenge"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        record["ok"] = True
        record["pkce_verified"] = True
        now = int(time.time())
        fault = grant["fault"]
        claims: dict[str, Any] = {
            "iss": "https://evil.example" if fault == "issuer" else self.issuer,
            "sub": grant["sub"],
            "aud": "another-client" if fault == "audience" else self.client_id,
            "iat": now - 4000 if fault == "expired" else now,
            "exp": now - 3600 if fault == "expired" else now + 300,
            "nonce": "not-your-nonce" if fault == "nonce" else grant["nonce"],
        }
        if grant["email"]:
            claims["email"] = grant["email"]
            claims["email_verified"] = grant["email_verified"]
        key = self.forged_key if fault == "forged" else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, key)
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "openid email profile",
                "id_token": id_token,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def userinfo(self, request: Request) -> Response:
        return JSONResponse({"error": "not implemented in the test provider"}, 501)

    async def logout(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.logouts.append(params)
        target = params.get("post_logout_redirect_uri")
        if target:
            state = params.get("state")
            return RedirectResponse(target + (f"?{urlencode({'state': state})}" if state else ""))
        return HTMLResponse("<h1>Signed out of Test IdP</h1>")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize_form, methods=["GET"]),
                Route("/authorize", self.authorize_submit, methods=["POST"]),
                Route("/token", self.token, methods=["POST"]),
                Route("/userinfo", self.userinfo),
                Route("/logout", self.logout),
            ]
        )


@dataclass
class ProviderServer:
    """A :class:`Provider` served by uvicorn in a background thread."""

    provider: Provider
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def issuer(self) -> str:
        return self.provider.issuer

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_provider(
    *,
    redirect_uris: list[str],
    client_id: str = "travelsim-portal",
    client_secret: str | None = None,
    host: str = "127.0.0.1",
) -> ProviderServer:
    """Start a provider on a free loopback port; its issuer is ``http://<host>:<port>``."""
    provider = Provider(
        client_id=client_id,
        client_secret=client_secret or secrets.token_urlsafe(24),
        redirect_uris=redirect_uris,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    provider.issuer = f"http://{host}:{port}"
    server = uvicorn.Server(
        uvicorn.Config(
            provider.app(), log_level="warning", timeout_graceful_shutdown=1, lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("OIDC provider did not start")
        time.sleep(0.01)
    return ProviderServer(provider, server, thread)

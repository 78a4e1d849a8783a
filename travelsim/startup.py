"""Start-up checks: which settings a process may start with (fail closed).

Every entry point calls :func:`enforce` before it serves anything: ``rxconfig.py`` (so
``reflex run`` and every ``reflex`` command), the app module ``travelsim/travelsim.py`` (each
Granian worker), ``python -m travelsim.scheduler`` and ``python -m travelsim.cli``. The rules
are in docs/architecture.md#security-modes-and-start-up-checks:

* every mode: the device list loads (the shipped one and the seller's ``DEVICES_FILE``:
  :func:`devices_problem`), and so do the legal pages (``CONTENT_DIR``: ``content_problem``);
* every mode: a ``SFT_CALLBACK_TOKEN`` that is set must be at least
  :data:`MIN_CALLBACK_TOKEN_CHARS` characters (an empty one would let anyone post callbacks);
* ``demo``/``test``: they serve the demo mailbox (every traveler's links and QR codes), the
  seeded staff account and the simulator controls, so ``PUBLIC_URL`` must be loopback, or,
  with ``DEMO_ALLOW_LAN=1``, a private LAN address (RFC 1918 or an IPv6 unique local
  address), and then :func:`warnings` says so loudly;
* ``production``: a real SFT platform with real credentials, strong keys given in the
  environment (never files generated into ``DATA_DIR``), ``https://`` unless loopback, and
  a real Stripe account in live mode: ``STRIPE_SECRET_KEY`` (``sk_live_``/``rk_live_``),
  ``STRIPE_PUBLISHABLE_KEY`` (``pk_live_``), ``STRIPE_WEBHOOK_SECRET`` (``whsec_``), no test
  key and no ``STRIPE_API_BASE`` override (:mod:`travelsim.startup_stripe`);
* ``staging`` (the rehearsal of going live): production's rules, but Stripe test keys only
  and the SFT platform and any ``STRIPE_API_BASE`` on loopback (the standalone simulator and
  a localstripe), so it can move neither real money nor real eSIMs;
* ``demo``/``test`` also refuse a Stripe live key, and a ``STRIPE_SECRET_KEY`` (Stripe test
  mode) without its publishable key and webhook secret;
* every mode, mail (:func:`smtp_problems`): not both ``SMTP_TLS`` and ``SMTP_STARTTLS``, an
  ``SMTP_CA_FILE`` that exists, and no ``SMTP_USERNAME`` on a plain connection to a relay
  that is not on loopback (the password would travel in clear).

:func:`problems` returns every refusal at once, one line each; :func:`enforce` prints them
(stderr and the ``travelsim.startup`` log) and exits with status 1.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from dotenv import dotenv_values
from pydantic import SecretStr, ValidationError

from travelsim.services import content, devices
from travelsim.settings import Settings, get_settings
from travelsim.startup_stripe import (
    LIVE_KEY_PREFIXES,
    LIVE_SECRET_PREFIXES,
    TEST_KEY_PREFIXES,
    demo_stripe_problems,
    production_stripe_problems,
    staging_problems,
)

__all__ = [
    "KNOWN_DEMO_SECRETS",
    "LAN_NETWORKS",
    "LIVE_KEY_PREFIXES",
    "LIVE_SECRET_PREFIXES",
    "MIN_CALLBACK_TOKEN_CHARS",
    "MIN_SECRET_KEY_CHARS",
    "TEST_KEY_PREFIXES",
    "callback_token_problem",
    "checked_settings",
    "devices_problem",
    "enforce",
    "is_loopback_host",
    "listen_host",
    "problems",
    "serve_problems",
    "warnings",
]

log = logging.getLogger("travelsim.startup")

#: Shortest ``SFT_CALLBACK_TOKEN`` accepted (characters): 32 random characters are far beyond
#: guessing (``secrets.token_urlsafe(32)`` gives 43).
MIN_CALLBACK_TOKEN_CHARS = 32
#: Shortest ``SECRET_KEY`` accepted in production (characters).
MIN_SECRET_KEY_CHARS = 32
#: Placeholder values seen in examples and tutorials: never a production key.
KNOWN_DEMO_SECRETS = frozenset(
    {
        "demo",
        "test",
        "secret",
        "changeme",
        "change-me",
        "change_me",
        "travelsim",
        "travelsim-demo",
        "please-change-this-secret-key-in-production",
    }
)
#: Private LAN ranges ``DEMO_ALLOW_LAN=1`` accepts: RFC 1918 (IPv4) and RFC 4193 (IPv6 unique
#: local). Not ``ipaddress.is_private``, which also counts documentation ranges such as
#: 203.0.113.0/24 (RFC 5737) and would let a public-looking address through.
LAN_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_DEMO_MODES = ("demo", "test")


def is_loopback_host(host: str) -> bool:
    """``localhost`` (or a ``*.localhost`` name, RFC 6761) or a loopback IP address."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    ip = _ip(host)
    return ip is not None and ip.is_loopback


def _url_on_loopback(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and is_loopback_host(parts.hostname or "")


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_lan_host(host: str) -> bool:
    ip = _ip(host)
    return ip is not None and any(ip in net for net in LAN_NETWORKS)


def _public_host(settings: Settings) -> tuple[str, str]:
    """``(scheme, host)`` of ``PUBLIC_URL`` (lower case; host ``""`` when there is none)."""
    parts = urlsplit(settings.public_url.strip())
    return parts.scheme.lower(), (parts.hostname or "").lower()


def callback_token_problem(token: SecretStr | None) -> str | None:
    """The refusal line for ``SFT_CALLBACK_TOKEN``, or ``None`` (unset: receiver off; long
    enough: on)."""
    if token is None:
        return None
    length = len(token.get_secret_value())
    if length >= MIN_CALLBACK_TOKEN_CHARS:
        return None
    return (
        f"SFT_CALLBACK_TOKEN is set but {length} characters long: at least "
        f"{MIN_CALLBACK_TOKEN_CHARS} are needed (an empty or short token lets anyone post "
        "platform callbacks); unset it to turn the receiver off"
    )


def _demo_url_problem(settings: Settings) -> str | None:
    scheme, host = _public_host(settings)
    if scheme not in ("http", "https") or not host:
        return f"PUBLIC_URL {settings.public_url!r} is not an http(s) URL"
    if is_loopback_host(host):
        return None
    mode = settings.app_env
    if not settings.demo_allow_lan:
        return (
            f"APP_ENV={mode} refuses PUBLIC_URL {settings.public_url}: demo mode serves every "
            "traveler's emails (/demo/mailbox) and a seeded staff account, so it answers on "
            "loopback only (http://localhost:PORT); to try it on a phone on your own network "
            "set DEMO_ALLOW_LAN=1 with a private LAN address (e.g. http://192.168.1.20:3000)"
        )
    if not _is_lan_host(host):
        return (
            f"APP_ENV={mode} with DEMO_ALLOW_LAN=1 accepts only a private LAN address "
            f"(10.x, 172.16-31.x, 192.168.x, fc00::/7) in PUBLIC_URL, not {host}"
        )
    return None


def _key_file_matches(settings: Settings, name: str, value: str) -> bool:
    path: Path = settings.data_dir / name
    try:
        return path.read_text().strip() == value.strip()
    except OSError:
        return False


def _secret_key_problem(settings: Settings) -> str | None:
    if settings.secret_key is None:
        return (
            "SECRET_KEY is unset: production needs its own signing key (at least "
            f"{MIN_SECRET_KEY_CHARS} random characters); the key generated into DATA_DIR is "
            "for the demo only"
        )
    value = settings.secret_key.get_secret_value()
    if value.strip().lower() in KNOWN_DEMO_SECRETS:
        return "SECRET_KEY is a published placeholder value: generate a random one"
    if len(value) < MIN_SECRET_KEY_CHARS:
        return (
            f"SECRET_KEY is {len(value)} characters long: at least {MIN_SECRET_KEY_CHARS} "
            "random characters are needed"
        )
    if _key_file_matches(settings, "signing.key", value):
        return "SECRET_KEY is the demo key generated into DATA_DIR/signing.key: generate a new one"
    return None


def _encryption_key_problem(settings: Settings) -> str | None:
    if settings.encryption_key is None:
        return (
            "ENCRYPTION_KEY is unset: production needs its own Fernet key (the key generated "
            "into DATA_DIR is for the demo only)"
        )
    keys = [k.strip() for k in settings.encryption_key.get_secret_value().split(",") if k.strip()]
    if not keys:
        return "ENCRYPTION_KEY is empty: production needs its own Fernet key"
    for key in keys:
        try:
            Fernet(key.encode())
        except ValueError:
            return (
                "ENCRYPTION_KEY holds a value that is not a Fernet key (32 random bytes, "
                "url-safe base64: 44 characters)"
            )
        if key.lower() in KNOWN_DEMO_SECRETS or _key_file_matches(settings, "encryption.key", key):
            return (
                "ENCRYPTION_KEY is the demo key generated into DATA_DIR/encryption.key: "
                "generate a new one"
            )
    return None


def _production_problems(settings: Settings) -> list[str]:
    found: list[str] = []
    if settings.uses_simulator and settings.app_env == "staging":
        found.append(
            "SFT_BASE_URL is unset: staging talks to an SFT platform over HTTP like production: "
            "run the standalone simulator (make simulator) and set "
            "SFT_BASE_URL=http://127.0.0.1:8040"
        )
    elif settings.uses_simulator:
        found.append(
            "SFT_BASE_URL is unset: production refuses the built-in SFT simulator "
            "(set the platform's URL, e.g. https://sft.bics.com)"
        )
    demo_fields = [
        name
        for name, value in (
            ("SFT_USERNAME", settings.sft_username),
            ("SFT_PASSWORD", settings.sft_password.get_secret_value()),
        )
        if value.strip().lower() in ("", "demo")
    ]
    if demo_fields:
        found.append(
            f"{' and '.join(demo_fields)} still the demo value: set the platform account's "
            "own credentials"
        )
    for problem in (_secret_key_problem(settings), _encryption_key_problem(settings)):
        if problem:
            found.append(problem)
    scheme, host = _public_host(settings)
    if scheme != "https" and not (scheme == "http" and is_loopback_host(host)):
        found.append(
            f"PUBLIC_URL {settings.public_url} is not https: production serves travelers "
            "over TLS only (plain http:// is accepted for loopback alone)"
        )
    if settings.app_env == "staging":
        found.extend(staging_problems(settings, _url_on_loopback))
    else:
        found.extend(production_stripe_problems(settings))
    return found


def smtp_problems(settings: Settings) -> list[str]:
    """The mail settings that cannot work or would leak: both TLS modes at once, a CA file
    that is not there, and (outside loopback) a password sent without TLS."""
    found: list[str] = []
    if settings.smtp_tls and settings.smtp_starttls:
        found.append(
            "SMTP_TLS and SMTP_STARTTLS are both set: choose one (SMTP_TLS for implicit TLS on "
            "port 465, SMTP_STARTTLS for port 587)"
        )
    if settings.smtp_ca_file is not None and not settings.smtp_ca_file.is_file():
        found.append(f"SMTP_CA_FILE {settings.smtp_ca_file} is not a file")
    plain, host = not (settings.smtp_tls or settings.smtp_starttls), settings.smtp_host or ""
    if host and settings.smtp_username and plain and not is_loopback_host(host):
        found.append(
            "SMTP_USERNAME is set without SMTP_TLS or SMTP_STARTTLS: the password would cross "
            "the network in clear (docs/going-live.md#email)"
        )
    return found


def devices_problem(settings: Settings) -> str | None:
    """Why the device list (the shipped one merged with ``DEVICES_FILE``) cannot be used,
    or ``None`` (``services.devices.load_devices`` says what is wrong)."""
    try:
        devices.device_list(settings)
    except devices.DeviceListError as exc:
        return f"DEVICES_FILE: {exc}"
    return None


def problems(settings: Settings) -> list[str]:
    """Every reason ``settings`` may not start a process, one line each (rules in the module
    docstring); ``[]`` when it may start."""
    found: list[str] = []
    token = callback_token_problem(settings.sft_callback_token)
    if token:
        found.append(token)
    if settings.metrics_token is not None:
        length = len(settings.metrics_token.get_secret_value())
        if length < MIN_CALLBACK_TOKEN_CHARS:
            found.append(
                f"METRICS_TOKEN is set but {length} characters long: at least "
                f"{MIN_CALLBACK_TOKEN_CHARS} are needed; unset it to turn /metrics off"
            )
    found.extend(p for p in (devices_problem(settings), content.content_problem(settings)) if p)
    if settings.app_env in _DEMO_MODES:
        demo = _demo_url_problem(settings)
        if demo:
            found.append(demo)
        found.extend(demo_stripe_problems(settings))
    else:
        found.extend(_production_problems(settings))
    found.extend(smtp_problems(settings))
    return found


def serve_problems(
    settings: Settings, granian_workers: str | None, env_file: Path | None = Path(".env")
) -> list[str]:
    """What ``make serve`` needs beyond :func:`problems` (docs/going-live.md): several Granian
    workers (``granian_workers``, the ``GRANIAN_WORKERS`` environment variable, at least 2),
    Redis between them, PostgreSQL, an ``https://`` public URL and a trusted reverse proxy in
    front (staging, the rehearsal on one machine, may use ``http://`` on loopback).

    ``GRANIAN_WORKERS`` is read by Granian from the process environment only; when it is
    missing there but written in ``env_file`` (the portal's ``.env``, which only the portal's
    settings read) the refusal says so and where to put it instead."""
    found: list[str] = []
    workers = (granian_workers or "").strip()
    in_env_file = env_file is not None and _env_file_value(env_file, "GRANIAN_WORKERS")
    if not workers and in_env_file:
        found.append(
            f"GRANIAN_WORKERS is set in {env_file} only: Granian reads it from the process "
            "environment, never from .env; set it in the service's environment (systemd "
            "Environment=GRANIAN_WORKERS=4) or on the command line (GRANIAN_WORKERS=4 make serve)"
        )
    elif not workers:
        found.append(
            "GRANIAN_WORKERS is unset: make serve runs several backend workers "
            "(e.g. GRANIAN_WORKERS=4 make serve)"
        )
    elif not workers.isdigit() or int(workers) < 2:
        found.append(f"GRANIAN_WORKERS={workers}: make serve needs a whole number of at least 2")
    if not settings.redis_url:
        found.append(
            "REDIS_URL is unset: several workers share tab state and live updates through Redis"
        )
    if not settings.database_url:
        found.append("DATABASE_URL is unset: several workers need PostgreSQL, not a SQLite file")
    elif settings.is_sqlite:
        found.append("DATABASE_URL is SQLite: several workers need PostgreSQL")
    scheme, host = _public_host(settings)
    rehearsal = settings.app_env == "staging" and scheme == "http" and is_loopback_host(host)
    if scheme != "https" and not rehearsal:
        found.append(
            f"PUBLIC_URL {settings.public_url}: make serve is the public portal behind a TLS "
            "proxy; set the https:// address travelers use (links in emails are built from it)"
        )
    if settings.trusted_proxy_hops == 0:
        found.append(
            "TRUSTED_PROXY_HOPS=0: make serve runs behind a reverse proxy; set the number of "
            "proxies (1 for one nginx or Caddy) or every traveler shares the proxy's address"
        )
    return found


def _env_file_value(env_file: Path, name: str) -> str | None:
    """The non-empty value the dotenv file ``env_file`` gives ``name`` (case-insensitive,
    like the settings), or ``None``; a missing or unreadable file gives nothing."""
    try:
        values = dotenv_values(env_file)
    except OSError:
        return None
    return next((v for k, v in values.items() if k.upper() == name and v), None)


def listen_host(settings: Settings) -> str:
    """Where ``reflex run`` listens: ``127.0.0.1`` in ``demo``/``test`` (the demo mailbox and
    seeded staff never reachable from the network) unless ``DEMO_ALLOW_LAN=1``; else every
    interface (Reflex's default; ``make serve`` passes ``--backend-host``)."""
    if settings.app_env in _DEMO_MODES and not settings.demo_allow_lan:
        return "127.0.0.1"
    return "0.0.0.0"  # noqa: S104 - production and the LAN demo answer on the network


def warnings(settings: Settings) -> list[str]:
    """What an allowed start must say out loud: the LAN demo (``DEMO_ALLOW_LAN=1`` with a
    private LAN ``PUBLIC_URL``)."""
    if settings.app_env not in _DEMO_MODES:
        return []
    _scheme, host = _public_host(settings)
    if is_loopback_host(host) or not host or not _is_lan_host(host):
        return []
    return [
        f"WARNING: DEMO_ALLOW_LAN=1: the demo at {settings.public_url} is reachable from your "
        "network: anyone on it can read every traveler's emails at /demo/mailbox and sign in "
        "with the seeded staff account. Use a trusted network and stop the demo afterwards."
    ]


def checked_settings(
    process: str, extra: Callable[[Settings], list[str]] | None = None
) -> Settings:
    """The process settings (:func:`travelsim.settings.get_settings`) once :func:`enforce`
    allowed them (with ``extra(settings)``'s lines, e.g. :func:`serve_problems`). A value
    the settings cannot even parse (``APP_ENV=prod``, a ``STRIPE_LOCAL_PORT`` that is no port) is
    refused the same way, one ``refused: NAME: why`` line each, instead of a traceback.
    Raises ``SystemExit(1)`` when refused."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        lines = [
            f"{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        ]
        _refuse(process, os.environ.get("APP_ENV", "production"), lines, hint=False)
    enforce(settings, process=process, extra=extra(settings) if extra else None)
    return settings


def _overridden_mode(settings: Settings, env_file: Path = Path(".env")) -> str | None:
    """Why the mode is not the one ``.env`` names, when the environment's ``APP_ENV`` wins
    over it (``make serve`` sets ``production``): the line saying so, or ``None``."""
    written = (_env_file_value(env_file, "APP_ENV") or "").strip().lower()
    if not written or written == settings.app_env or "APP_ENV" not in os.environ:
        return None
    return (
        f"  ({env_file} says APP_ENV={written}, but the environment's APP_ENV="
        f"{settings.app_env} wins (make serve sets production); for the rehearsal: "
        "make serve APP_ENV=staging, docs/going-live.md#rehearse-on-one-machine)"
    )


def _refuse(
    process: str, mode: str, found: list[str], *, hint: bool, note: str | None = None
) -> NoReturn:
    print(f"TravelSIM refuses to start ({process}, APP_ENV={mode}):", file=sys.stderr)
    logged = log.hasHandlers()  # else logging's last resort would print each twice
    for line in found:
        print(f"  refused: {line}", file=sys.stderr)
        if logged:
            log.error("start refused: %s", line)
    if hint:
        print(
            "  (an unset APP_ENV means production: the local demo is `make demo`; "
            "going live: docs/going-live.md)",
            file=sys.stderr,
        )
    if note:
        print(note, file=sys.stderr)
    sys.stderr.flush()
    raise SystemExit(1)


def enforce(settings: Settings, *, process: str, extra: list[str] | None = None) -> None:
    """Refuse to start ``process`` (a name for the messages, e.g. ``"scheduler"``) when
    :func:`problems` (then ``extra``, e.g. :func:`serve_problems`) finds any: every line goes
    to stderr (``  refused: <line>``) and, when logging is configured, to the
    ``travelsim.startup`` log; then ``SystemExit(1)``. Allowed starts print :func:`warnings`
    to stderr, framed (and log them as warnings when logging is configured)."""
    found = problems(settings) + list(extra or [])
    if found:
        unset = settings.app_env == "production" and "APP_ENV" not in os.environ
        _refuse(process, settings.app_env, found, hint=unset, note=_overridden_mode(settings))
    for line in warnings(settings):
        print(f"\n{'!' * 78}\n{line}\n{'!' * 78}\n", file=sys.stderr)
        if log.hasHandlers():
            log.warning("%s", line)

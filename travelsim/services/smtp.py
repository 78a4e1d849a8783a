"""The SMTP connection of the outbox sender (``services.email.send_pending``): plain,
STARTTLS or implicit TLS, certificate and host name verified (docs/going-live.md#email).
Blocking (``smtplib``): the sender runs it in a worker thread."""

from __future__ import annotations

import smtplib
import ssl

from travelsim.settings import Settings

__all__ = ["SMTPConnectionFailed", "close", "connect", "describe", "reset", "tls_context"]

#: Timeout of each SMTP socket operation, in seconds.
SMTP_TIMEOUT_SECONDS = 30.0


class SMTPConnectionFailed(Exception):
    """Connecting, TLS or logging in failed: a problem of the server or of the
    configuration, never of one message, so it is always retried (never permanent)."""


def describe(error: BaseException) -> str:
    """Class and server answer of a failure (SMTP errors never carry the message body)."""
    return f"{type(error).__name__}: {error}"[:500]


def tls_context(settings: Settings) -> ssl.SSLContext:
    """The TLS client context of the SMTP connection: certificate and host name verified,
    against ``SMTP_CA_FILE`` when set, else the system's trust store; TLS 1.2 or newer."""
    cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def connect(settings: Settings) -> smtplib.SMTP:
    """One SMTP connection: plain, STARTTLS (``SMTP_STARTTLS``) or implicit TLS
    (``SMTP_TLS``, RFC 8314 section 3.3), then AUTH when ``SMTP_USERNAME`` is set. Raises
    :class:`SMTPConnectionFailed` (a temporary failure: the rows are retried)."""
    assert settings.smtp_host
    try:
        if settings.smtp_tls:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=SMTP_TIMEOUT_SECONDS,
                context=tls_context(settings),
            )
        else:
            conn = smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS
            )
    except OSError as exc:  # includes smtplib.SMTPException and ssl.SSLError
        raise SMTPConnectionFailed(describe(exc)) from exc
    try:
        conn.ehlo()
        if settings.smtp_starttls:
            conn.starttls(context=tls_context(settings))
            conn.ehlo()
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            conn.login(settings.smtp_username, password)
    except OSError as exc:
        close(conn)
        raise SMTPConnectionFailed(describe(exc)) from exc
    return conn


def reset(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.rset()
    except Exception:  # noqa: S110 - best effort; the next send reports a real error
        pass


def close(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except Exception:
        try:
            conn.close()
        except Exception:  # noqa: S110 - nothing left to do with a dead socket
            pass

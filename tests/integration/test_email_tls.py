"""The outbox over each SMTP security mode against a real aiosmtpd server on loopback with a
certificate of its own CA: implicit TLS (SMTP_TLS, port 465 style, RFC 8314), STARTTLS
(SMTP_STARTTLS) with AUTH, and plain; an untrusted certificate and a server demanding
STARTTLS are failures the outbox retries, never a message sent in clear."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from checkout_support import make_staff
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from sqlmodel import col, select

from tests.integration.test_email_smtp import Collector, free_port, load, queue
from travelsim import db
from travelsim.models import AuditLog
from travelsim.services import admin
from travelsim.services import email as email_service
from travelsim.settings import Settings
from travelsim.startup import smtp_problems


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_pki(folder: Path, tag: str) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate it signs for 127.0.0.1 and localhost: (ca.pem,
    server.pem, server.key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"Test relay CA {tag}"))
        .issuer_name(_name(f"Test relay CA {tag}"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, cert_pem, key_pem = (folder / f"{tag}-{n}" for n in ("ca.pem", "srv.pem", "srv.key"))
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_pem, cert_pem, key_pem


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


class Auth:
    """aiosmtpd authenticator accepting one login, recording every attempt."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, bool]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        ok = (data.login, data.password) == (b"portal", b"relay-password")
        self.attempts.append((mechanism, session.ssl is not None))
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Path, Path, Path]:
    return _write_pki(tmp_path, "relay")


def _start(**kw: Any) -> tuple[Controller, Collector, int]:
    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kw)
    controller.start()
    return controller, handler, port


@pytest.fixture
def implicit_tls(pki: tuple[Path, Path, Path]) -> Iterator[tuple[Collector, int]]:
    _ca, cert, key = pki
    controller, handler, port = _start(ssl_context=_server_context(cert, key))
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def starttls_required(pki: tuple[Path, Path, Path]) -> Iterator[tuple[Collector, int, Auth]]:
    _ca, cert, key = pki
    auth = Auth()
    controller, handler, port = _start(
        server_hostname="localhost",
        tls_context=_server_context(cert, key),
        require_starttls=True,
        authenticator=auth,
        auth_require_tls=True,
    )
    try:
        yield handler, port, auth
    finally:
        controller.stop()


def _settings(base: Settings, port: int, **kw: Any) -> Settings:
    return base.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, **kw})


@pytest.fixture
async def engines() -> Any:
    yield
    await db.async_engine().dispose()


async def test_implicit_tls_delivers(
    sqlite_db: Settings, engines: None, implicit_tls: tuple[Collector, int], pki: Any
) -> None:
    handler, port = implicit_tls
    settings = _settings(sqlite_db, port, smtp_tls=True, smtp_ca_file=pki[0])
    row_id = await queue(subject="Over implicit TLS")
    assert await email_service.send_pending(settings) == 1
    assert (await load(row_id)).status == "sent"
    [(_, rcpt, msg)] = handler.messages
    assert rcpt == ["ana@example.com"] and msg["Subject"] == "Over implicit TLS"


async def test_implicit_tls_refuses_a_certificate_it_does_not_trust(
    sqlite_db: Settings, engines: None, implicit_tls: tuple[Collector, int], tmp_path: Path
) -> None:
    """The system store (no SMTP_CA_FILE), or another CA, does not vouch for the relay: the
    connection fails before any byte of the message, and the row waits for a retry."""
    handler, port = implicit_tls
    other_ca = _write_pki(tmp_path, "other")[0]
    for ca in (None, other_ca):
        row_id = await queue()
        settings = _settings(sqlite_db, port, smtp_tls=True, smtp_ca_file=ca)
        assert await email_service.send_pending(settings) == 0
        row = await load(row_id)
        assert (row.status, row.attempts) == ("queued", 1)
        assert row.last_error and "CERTIFICATE_VERIFY_FAILED" in row.last_error
        assert row.next_attempt_at is not None
    assert handler.messages == []


async def test_starttls_with_auth_delivers(
    sqlite_db: Settings,
    engines: None,
    starttls_required: tuple[Collector, int, Auth],
    pki: Any,
) -> None:
    handler, port, auth = starttls_required
    settings = _settings(
        sqlite_db,
        port,
        smtp_starttls=True,
        smtp_ca_file=pki[0],
        smtp_username="portal",
        smtp_password=SecretStr("relay-password"),
    )
    row_id = await queue(subject="Over STARTTLS")
    sent = await email_service.send_pending(settings)
    assert sent == 1, (await load(row_id)).last_error
    assert (await load(row_id)).status == "sent"
    assert [m["Subject"] for _, _, m in handler.messages] == ["Over STARTTLS"]
    assert auth.attempts and all(over_tls for _, over_tls in auth.attempts)


async def test_a_plain_connection_to_a_relay_that_demands_starttls_sends_nothing(
    sqlite_db: Settings, engines: None, starttls_required: tuple[Collector, int, Auth]
) -> None:
    """Without SMTP_STARTTLS the relay answers 530 to MAIL FROM: the row is failed, nothing
    went out, and no password was offered in clear."""
    handler, port, auth = starttls_required
    row_id = await queue()
    assert await email_service.send_pending(_settings(sqlite_db, port)) == 0
    row = await load(row_id)
    assert row.status == "failed" and row.last_error and "530" in row.last_error
    assert handler.messages == [] and auth.attempts == []


def test_start_up_refuses_mail_settings_that_cannot_work_or_would_leak(
    sqlite_db: Settings, tmp_path: Path
) -> None:
    relay = {"smtp_host": "smtp.example.net", "smtp_port": 587}
    both = sqlite_db.model_copy(update={**relay, "smtp_tls": True, "smtp_starttls": True})
    assert any("both set" in p for p in smtp_problems(both))
    missing = sqlite_db.model_copy(update={**relay, "smtp_ca_file": tmp_path / "none.pem"})
    assert any("is not a file" in p for p in smtp_problems(missing))
    clear = sqlite_db.model_copy(update={**relay, "smtp_username": "portal"})
    assert any("in clear" in p for p in smtp_problems(clear))
    assert smtp_problems(clear.model_copy(update={"smtp_starttls": True})) == []
    loopback = clear.model_copy(update={"smtp_host": "127.0.0.1"})
    assert smtp_problems(loopback) == []


async def test_staff_see_a_failed_email_and_send_it_again_once_fixed(
    sqlite_db: Settings, engines: None, starttls_required: tuple[Collector, int, Auth], pki: Any
) -> None:
    """A relay misconfiguration fails the email (530); the home page counts it, staff send
    it again once SMTP_STARTTLS is set, it goes out, and both steps are audited."""
    handler, port, _auth = starttls_required
    row_id = await queue(subject="Second chance")
    await email_service.send_pending(_settings(sqlite_db, port))
    async with db.session() as s:
        assert await admin.failed_emails(s) == 1
        listed = await admin.list_outbox(s, status="failed")
    assert [(r["id"], r["can_resend"]) for r in listed.rows] == [(str(row_id), "1")]

    staff = await make_staff()
    outcome = await admin.send_again(staff, row_id)
    assert outcome.ok, outcome.message
    row = await load(row_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("queued", 0, None)
    fixed = _settings(sqlite_db, port, smtp_starttls=True, smtp_ca_file=pki[0])
    assert await email_service.send_pending(fixed) == 1
    assert [m["Subject"] for _, _, m in handler.messages] == ["Second chance"]
    async with db.session() as s:
        assert await admin.failed_emails(s) == 0

    again = await admin.send_again(staff, row_id)  # sent: never twice
    assert again.result == "refused" and "only a failed email" in again.message
    async with db.session() as s:
        audit = (
            await s.exec(
                select(AuditLog)
                .order_by(col(AuditLog.id))
                .where(AuditLog.action == "outbox.send_again")
            )
        ).all()
    assert [(a.result, a.target_id, a.actor) for a in audit] == [
        ("ok", str(row_id), "boss@example.com"),
        ("refused", str(row_id), "boss@example.com"),
    ]

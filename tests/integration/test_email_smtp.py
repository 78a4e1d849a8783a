"""Email outbox delivered over a real SMTP server on loopback (aiosmtpd), retries with
exponential backoff on a refused connection, ``failed`` after 5 attempts."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update
from sqlmodel import col, select

from travelsim import db
from travelsim.esim import ActivationCode, qr_png
from travelsim.keys import secret_box
from travelsim.models import Esim, OutboxEmail, User, utcnow
from travelsim.services import email as email_service
from travelsim.settings import Settings

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
QR_ATTACHMENT = {
    "filename": "esim-qr.png",
    "content_type": "image/png",
    "content_id": "qr-1",
    "data_b64": base64.b64encode(PNG_1PX).decode(),
}


class Collector:
    """aiosmtpd handler keeping every message; refuses recipients at ``refused.example``."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.endswith("@refused.example"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Collector, int]]:
    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
async def engines() -> AsyncIterator[None]:
    yield
    await db.async_engine().dispose()


async def queue(**kw: Any) -> int:
    values: dict[str, Any] = {
        "to": "ana@example.com",
        "subject": "Your eSIM for Japan",
        "text": "Scan the QR code from your eSIM settings.",
        "html": '<p>Scan the QR code:</p><img src="cid:qr-1" alt="eSIM QR code">',
        "kind": "installation",
        "attachments": [QR_ATTACHMENT],
    }
    values.update(kw)
    async with db.session() as s:
        row = await email_service.enqueue(s, **values)
        await s.commit()
        assert row.id is not None
        return row.id


async def load(row_id: int) -> OutboxEmail:
    async with db.session() as s:
        row = await s.get(OutboxEmail, row_id)
        assert row is not None
        return row


async def make_due(row_id: int) -> None:
    async with db.session() as s:
        await s.exec(
            update(OutboxEmail)
            .where(col(OutboxEmail.id) == row_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        await s.commit()


async def test_without_smtp_emails_stay_queued(sqlite_db: Settings, engines: None) -> None:
    row_id = await queue()
    assert sqlite_db.smtp_host is None
    assert await email_service.send_pending(sqlite_db) == 0
    row = await load(row_id)
    assert (row.status, row.attempts, row.sent_at) == ("queued", 0, None)


async def test_enqueue_does_not_commit(sqlite_db: Settings, engines: None) -> None:
    async with db.session() as s:
        await email_service.enqueue(s, to="ana@example.com", subject="x", text="y", kind="t")
        await s.rollback()
    async with db.session() as s:
        assert (await s.exec(select(OutboxEmail))).all() == []


@pytest.mark.parametrize(
    "kw",
    [
        {"to": "not an address"},
        {"to": "ana@example.com\r\nBcc: everyone@example.com"},
        {"subject": "Hi\r\nBcc: everyone@example.com"},
        {"subject": "x" * 201},
        {"attachments": [{**QR_ATTACHMENT, "data_b64": "***"}]},
        {"attachments": [{k: v for k, v in QR_ATTACHMENT.items() if k != "content_id"}]},
        {"attachments": [{**QR_ATTACHMENT, "content_type": "png"}]},
        {"attachments": [{**QR_ATTACHMENT, "render": "esim-qr:1"}]},  # both data and render
        {"attachments": [{**QR_ATTACHMENT, "data_b64": "", "render": "file:/etc/passwd"}]},
        {"attachments": [{**QR_ATTACHMENT, "data_b64": "", "render": "esim-qr:x"}]},
        {"locale": "it"},
        {"locale": "fr\r\nBcc: everyone@example.com"},
    ],
)
async def test_enqueue_rejects_bad_input(
    sqlite_db: Settings, engines: None, kw: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        await queue(**kw)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_delivers_over_smtp_with_inline_qr(
    request: pytest.FixtureRequest,
    database: str,
    smtp_server: tuple[Collector, int],
    engines: None,
) -> None:
    settings: Settings = request.getfixturevalue("sqlite_db" if database == "sqlite" else "pg_db")
    collector, port = smtp_server
    settings = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "mail_from": "TravelSIM <hello@travelsim.example>",
        }
    )
    row_id = await queue()
    second = await queue(to="bob@example.com", subject="Welcome", html=None, attachments=None)

    assert await email_service.send_pending(settings) == 2

    assert len(collector.messages) == 2
    mail_from, rcpt_tos, msg = collector.messages[0]
    assert mail_from == "hello@travelsim.example"
    assert rcpt_tos == ["ana@example.com"]
    assert msg["To"] == "ana@example.com"
    assert msg["Subject"] == "Your eSIM for Japan"
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().strip() == "Scan the QR code from your eSIM settings."
    html = msg.get_body(preferencelist=("html",))
    assert html is not None and 'src="cid:qr-1"' in html.get_content()
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1
    assert images[0]["Content-ID"] == "<qr-1>"
    assert images[0].get_content() == PNG_1PX
    assert collector.messages[1][2]["Subject"] == "Welcome"
    assert collector.messages[1][2].get_content_type() == "text/plain"

    for rid in (row_id, second):
        row = await load(rid)
        assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
        assert row.sent_at is not None
    # Nothing left to send: sending again delivers nothing twice.
    assert await email_service.send_pending(settings) == 0
    assert len(collector.messages) == 2


async def test_content_language_is_the_rows_language(
    sqlite_db: Settings, smtp_server: tuple[Collector, int], engines: None
) -> None:
    """Each message says the language it is written in (RFC 3282 ``Content-Language``): the
    ``locale`` it was queued with, English when none was given."""
    collector, port = smtp_server
    settings = sqlite_db.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    french = await queue(subject="Votre eSIM est prête", locale="fr")
    english = await queue(subject="Your eSIM is ready")
    assert (await load(french)).locale == "fr"
    assert (await load(english)).locale == "en"

    assert await email_service.send_pending(settings) == 2

    by_subject = {m["Subject"]: m for _f, _r, m in collector.messages}
    assert by_subject["Votre eSIM est prête"]["Content-Language"] == "fr"
    assert by_subject["Your eSIM is ready"]["Content-Language"] == "en"


async def test_deferred_esim_qr_is_rendered_only_when_sent(
    sqlite_db: Settings, smtp_server: tuple[Collector, int], engines: None
) -> None:
    """The installation email's QR is stored as a reference (``render``), rendered from the
    encrypted activation code when the message is built, and never written back."""
    collector, port = smtp_server
    settings = sqlite_db.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    lpa = "LPA:1$smdp.example.com$MATCHING-ID-0001"
    async with db.session() as s:
        user = User(email="ana@example.com", password_hash="x")
        s.add(user)
        await s.flush()
        esim = Esim(
            iccid="8944000000000000001",
            endpoint_id="900001",
            state="assigned",
            user_id=user.id,
            activation_code_enc=secret_box().encrypt(lpa),
        )
        s.add(esim)
        await s.commit()
    deferred = {**QR_ATTACHMENT, "data_b64": "", "render": f"esim-qr:{esim.id}"}
    row_id = await queue(user_id=user.id, attachments=[deferred])
    stored = (await load(row_id)).attachments
    assert stored == [{k: v for k, v in deferred.items() if k != "data_b64"}]

    assert await email_service.send_pending(settings) == 1

    (_, _, msg) = collector.messages[0]
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert [p.get_content() for p in images] == [qr_png(ActivationCode.parse(lpa))]
    row = await load(row_id)
    assert row.status == "sent" and row.attachments == stored  # nothing rendered at rest


async def test_refused_connection_backs_off_then_fails_after_five_attempts(
    sqlite_db: Settings, engines: None
) -> None:
    settings = sqlite_db.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port()})
    row_id = await queue()
    for attempt in range(1, 5):
        before = utcnow()
        assert await email_service.send_pending(settings) == 0
        row = await load(row_id)
        assert row.status == "queued"
        assert row.attempts == attempt
        assert row.last_error is not None and "Connection" in row.last_error
        assert "Scan the QR code" not in row.last_error
        # Exponential backoff: 1, 2, 4, 8 minutes after the failed attempt.
        delay = timedelta(minutes=2 ** (attempt - 1))
        assert row.next_attempt_at is not None
        assert before + delay <= row.next_attempt_at <= utcnow() + delay
        # Not due yet: a new run leaves it alone.
        assert await email_service.send_pending(settings) == 0
        assert (await load(row_id)).attempts == attempt
        await make_due(row_id)
    assert await email_service.send_pending(settings) == 0
    row = await load(row_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 5, None)
    await make_due(row_id)
    assert await email_service.send_pending(settings) == 0
    assert (await load(row_id)).attempts == 5


async def test_retry_succeeds_once_the_server_is_back(
    sqlite_db: Settings, smtp_server: tuple[Collector, int], engines: None
) -> None:
    collector, port = smtp_server
    down = sqlite_db.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port()})
    up = sqlite_db.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    row_id = await queue()
    assert await email_service.send_pending(down) == 0
    await make_due(row_id)
    assert await email_service.send_pending(up) == 1
    row = await load(row_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(collector.messages) == 1


async def test_permanent_refusal_fails_at_once_without_blocking_others(
    sqlite_db: Settings, smtp_server: tuple[Collector, int], engines: None
) -> None:
    collector, port = smtp_server
    settings = sqlite_db.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    refused = await queue(to="ghost@refused.example")
    accepted = await queue(to="ana@example.com")
    assert await email_service.send_pending(settings) == 1
    row = await load(refused)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error is not None and "550" in row.last_error
    assert (await load(accepted)).status == "sent"
    assert [rcpts for _f, rcpts, _m in collector.messages] == [["ana@example.com"]]


async def test_limit_bounds_one_run(
    sqlite_db: Settings, smtp_server: tuple[Collector, int], engines: None
) -> None:
    collector, port = smtp_server
    settings = sqlite_db.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    for i in range(3):
        await queue(subject=f"Message {i}")
    assert await email_service.send_pending(settings, limit=2) == 2
    assert await email_service.send_pending(settings, limit=2) == 1
    assert [m["Subject"] for _f, _r, m in collector.messages] == [
        "Message 0",
        "Message 1",
        "Message 2",
    ]

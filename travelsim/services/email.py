"""Outgoing email through a transactional outbox (table ``outbox_email``).

Two separate steps, so that sending can never block or fail the business operation that
wants an email:

1. :func:`enqueue` adds an :class:`~travelsim.models.OutboxEmail` row to the caller's
   session. It does not commit: the email is queued in the same transaction as the
   change that caused it (a signup, an order) and is never queued for a rolled-back one.
2. :func:`send_pending` (called by the scheduler or a CLI, never inline by provisioning)
   delivers due rows over SMTP when ``SMTP_HOST`` is set. Without SMTP the outbox *is*
   the delivery: rows stay ``queued`` and the portal shows the same content in the
   account (QR, install links).

Status of a row: ``queued`` → ``sent``, or ``failed`` after :data:`MAX_ATTEMPTS`
attempts (or at once on a permanent 5xx SMTP answer). Between attempts
``next_attempt_at`` follows an exponential backoff (:func:`backoff_delay`). Delivery is
at-least-once: a row is *claimed* by pushing its ``next_attempt_at`` forward by
:data:`CLAIM_LEASE` before the SMTP conversation, so two senders never pick the same row
at the same time and a sender that dies mid-way leaves the row to be retried after the
lease. ``last_error`` keeps the exception class and the server's answer, never the body.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db, i18n
from travelsim.models import OutboxEmail, OutboxStatus, User, utcnow
from travelsim.services.smtp import close, connect, describe, reset
from travelsim.settings import Settings

log = logging.getLogger(__name__)

#: Attempts before a row is marked ``failed``.
MAX_ATTEMPTS = 5
#: Delay after the first failed attempt; doubled after each further failure.
BACKOFF_BASE = timedelta(minutes=1)
#: Upper bound of the delay between two attempts.
BACKOFF_MAX = timedelta(hours=1)
#: How long a claimed row is hidden from other senders while it is being sent.
CLAIM_LEASE = timedelta(minutes=5)

_ATTACHMENT_KEYS = ("filename", "content_type", "content_id")
_SUBJECT_MAX = 200
#: Deferred attachments: ``render`` = ``"<renderer>:<id>"``, rendered when the message is
#: built (:func:`resolve_attachments`), never stored. ``esim-qr:<esim id>``: the activation
#: code QR of that eSIM (``installation.esim_qr_png``), only for the eSIM's owner.
_RENDERERS = ("esim-qr",)


def recipient_locale(user: User | None, fallback: str | None = None) -> str:
    """The language an email to ``user`` is written in (docs/i18n.md#emails): the account's
    ``User.locale`` when it is one of :data:`travelsim.i18n.LOCALES`; else ``fallback`` (the
    language of the page the request came from, for an address without an account or a
    language) when it is one; else English (:data:`travelsim.i18n.DEFAULT`)."""
    for choice in (user.locale if user is not None else None, fallback):
        if choice in i18n.LOCALES:
            return str(choice)
    return i18n.DEFAULT


def new_account_locale() -> str | None:
    """``User.locale`` for an account created now: the active language (the page the
    traveler signed up on, which the route makes active), or ``None`` for English, the
    fallback, which leaves the choice open (docs/i18n.md#emails)."""
    lang = i18n.current()
    return None if lang == i18n.DEFAULT else lang


def backoff_delay(attempts: int) -> timedelta:
    """Delay before the next attempt after ``attempts`` (≥ 1) failed ones:
    1, 2, 4, 8 … minutes, capped at :data:`BACKOFF_MAX`."""
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    delay = BACKOFF_BASE * (2 ** min(attempts - 1, 20))
    return min(delay, BACKOFF_MAX)


async def enqueue(
    session: AsyncSession,
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    kind: str,
    user_id: int | None = None,
    attachments: Sequence[dict[str, str]] | None = None,
    locale: str = i18n.DEFAULT,
) -> OutboxEmail:
    """Queue one email in ``session`` (added and flushed; **the caller commits**).

    ``to``: one address (``user@example.com``). ``subject``: one line, at most 200
    characters. ``text``: the plain-text body (always sent); ``html``: optional HTML
    alternative, which may reference inline images as ``<img src="cid:CONTENT_ID">``.
    ``kind``: a short label (``verify``, ``installation``…) for the admin page and tests.
    ``attachments``: inline images, each ``{"filename", "content_type" ("image/png"),
    "content_id" (without angle brackets)}`` plus either ``"data_b64"`` (standard base64)
    or ``"render"`` (a deferred attachment, rendered when the message is built, see
    :func:`resolve_attachments`: ``"esim-qr:<esim id>"`` for the activation-code QR, so the
    outbox never stores the code in clear). ``locale``: the language the subject and bodies
    are written in (one of :data:`travelsim.i18n.LOCALES`, see :func:`recipient_locale`),
    stored with the row and sent as ``Content-Language``.

    Raises ``ValueError`` for a language the portal does not speak, a malformed address, a
    subject with line breaks or longer than 200 characters, or an attachment missing a key /
    with both or neither of ``data_b64`` and ``render`` / with invalid base64 / an unknown
    renderer / a content type that is not ``type/subtype``.
    """
    if locale not in i18n.LOCALES:
        raise ValueError(f"unsupported email language {locale!r}")
    if "\r" in to or "\n" in to:
        raise ValueError("recipient contains a line break")
    try:
        validate_email(to, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"invalid recipient address: {exc}") from exc
    if "\r" in subject or "\n" in subject:
        raise ValueError("subject contains a line break")
    if len(subject) > _SUBJECT_MAX:
        raise ValueError(f"subject longer than {_SUBJECT_MAX} characters")
    checked = [_check_attachment(a) for a in attachments or ()]
    row = OutboxEmail(
        user_id=user_id,
        kind=kind,
        to_address=to,
        subject=subject,
        body_text=text,
        body_html=html,
        attachments=checked,
        locale=locale,
        status=OutboxStatus.QUEUED,
    )
    session.add(row)
    await session.flush()
    log.info("email queued id=%s kind=%s user_id=%s locale=%s", row.id, kind, user_id, locale)
    return row


def _check_attachment(item: dict[str, str]) -> dict[str, str]:
    missing = [k for k in _ATTACHMENT_KEYS if not item.get(k)]
    if missing:
        raise ValueError(f"attachment missing {', '.join(missing)}")
    maintype, _, subtype = item["content_type"].partition("/")
    if not maintype or not subtype:
        raise ValueError("attachment content_type must be 'type/subtype'")
    cid = item["content_id"].strip("<>")
    if any(c in cid for c in "\r\n <>"):
        raise ValueError("attachment content_id must be a bare token")
    checked = {k: (cid if k == "content_id" else str(item[k])) for k in _ATTACHMENT_KEYS}
    if bool(item.get("data_b64")) == bool(item.get("render")):
        raise ValueError("attachment needs exactly one of data_b64 and render")
    if item.get("render"):
        name, _, ident = str(item["render"]).partition(":")
        if name not in _RENDERERS or not ident.isdigit():
            raise ValueError(f"attachment render must be one of {_RENDERERS} + ':<id>'")
        return {**checked, "render": f"{name}:{ident}"}
    try:
        base64.b64decode(item["data_b64"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("attachment data_b64 is not valid base64") from exc
    return {**checked, "data_b64": str(item["data_b64"])}


async def resolve_attachments(session: AsyncSession, row: OutboxEmail) -> list[dict[str, str]]:
    """``row.attachments`` with every deferred one rendered now: each returned item has
    ``filename``, ``content_type``, ``content_id`` and ``data_b64``. The row is not changed
    (a rendered secret is never written back).

    ``esim-qr:<id>`` renders the activation-code QR PNG of eSIM ``<id>`` (scale 8, as
    ``esim.qr_png``) if that eSIM belongs to ``row.user_id`` and has a code. Raises
    ``LookupError`` otherwise, and for an unknown renderer."""
    resolved: list[dict[str, str]] = []
    for att in row.attachments:
        spec = att.get("render")
        if not spec:
            resolved.append(att)
            continue
        name, _, ident = spec.partition(":")
        png: bytes | None = None
        if name == "esim-qr" and ident.isdigit() and row.user_id is not None:
            from travelsim.services import installation  # local: installation is a leaf

            png = await installation.esim_qr_png(session, user_id=row.user_id, esim_id=int(ident))
        if png is None:
            raise LookupError(f"attachment {name!r} cannot be rendered")
        item = {k: v for k, v in att.items() if k != "render"}
        resolved.append({**item, "data_b64": base64.b64encode(png).decode("ascii")})
    return resolved


def build_message(
    row: OutboxEmail, settings: Settings, attachments: Sequence[dict[str, str]] | None = None
) -> EmailMessage:
    """The MIME message for ``row``, with ``attachments`` as resolved by
    :func:`resolve_attachments` (default ``row.attachments``, which then must hold no
    deferred attachment: ``ValueError``).

    Shape: ``text/plain`` alone; or ``multipart/alternative`` (text, html); with inline
    images the html part becomes ``multipart/related`` holding the images, each with
    ``Content-ID: <content_id>`` and ``Content-Disposition: inline``. Without html,
    images are plain attachments. ``Message-ID`` is derived from the row id, so a
    re-sent row keeps its id (receivers can deduplicate). ``Content-Language`` is the
    row's language tag (RFC 3282, https://www.rfc-editor.org/rfc/rfc3282): ``fr``.
    """
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = row.to_address
    msg["Subject"] = row.subject
    msg["Date"] = format_datetime(row.created_at)
    msg["Message-ID"] = (
        f"<outbox-{row.id}-{int(row.created_at.timestamp())}@{_mail_domain(settings)}>"
    )
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(row.body_text)
    atts = list(row.attachments if attachments is None else attachments)
    if any("data_b64" not in att for att in atts):
        raise ValueError("deferred attachment not rendered (use resolve_attachments)")
    if row.body_html is not None:
        msg.add_alternative(row.body_html, subtype="html")
        html_part = next(part for part in msg.iter_parts() if part.get_content_subtype() == "html")
        assert isinstance(html_part, EmailMessage)
        for att in atts:
            maintype, subtype = att["content_type"].split("/", 1)
            html_part.add_related(
                base64.b64decode(att["data_b64"]),
                maintype=maintype,
                subtype=subtype,
                cid=f"<{att['content_id']}>",
                filename=att["filename"],
                disposition="inline",
            )
    else:
        for att in atts:
            maintype, subtype = att["content_type"].split("/", 1)
            msg.add_attachment(
                base64.b64decode(att["data_b64"]),
                maintype=maintype,
                subtype=subtype,
                cid=f"<{att['content_id']}>",
                filename=att["filename"],
            )
    # Last: set_content and add_alternative move or drop the Content-* headers set before.
    msg["Content-Language"] = row.locale if row.locale in i18n.LOCALES else i18n.DEFAULT
    return msg


def _mail_domain(settings: Settings) -> str:
    _name, address = parseaddr(settings.mail_from)
    try:
        return Address(addr_spec=address).domain or "travelsim.local"
    except (ValueError, IndexError):
        return "travelsim.local"


@dataclass(frozen=True)
class _Outcome:
    row_id: int
    error: BaseException | None


async def send_pending(settings: Settings, *, limit: int = 20) -> int:
    """Deliver up to ``limit`` due ``queued`` emails over SMTP; returns how many were sent.

    Returns 0 and touches nothing when ``settings.smtp_host`` is unset (the outbox is the
    delivery). Opens its own database sessions (``travelsim.db.session``); the SMTP
    conversation runs in a worker thread (``asyncio.to_thread``) outside any database
    transaction. Never raises for a delivery failure: a failed row gets ``attempts + 1``,
    ``last_error`` and a backed-off ``next_attempt_at``, and becomes ``failed`` after
    :data:`MAX_ATTEMPTS` attempts or at once on a permanent (5xx) SMTP answer. Database
    errors propagate.
    """
    if not settings.smtp_host:
        return 0
    now = utcnow()
    claimed: list[OutboxEmail] = []
    async with db.session() as s:
        due = (
            await s.exec(
                select(OutboxEmail)
                .where(OutboxEmail.status == OutboxStatus.QUEUED)
                .where(
                    or_(
                        col(OutboxEmail.next_attempt_at).is_(None),
                        col(OutboxEmail.next_attempt_at) <= now,
                    )
                )
                .order_by(col(OutboxEmail.id))
                .limit(limit)
            )
        ).all()
        for row in due:
            if await _claim(s, row, now):
                claimed.append(row)
        await s.commit()
        if not claimed:
            return 0
        messages: list[tuple[int, EmailMessage | BaseException]] = []
        for row in claimed:
            assert row.id is not None
            try:
                attachments = await resolve_attachments(s, row)
                messages.append((row.id, build_message(row, settings, attachments)))
            except Exception as exc:  # a row that cannot be rendered fails like a refusal
                messages.append((row.id, exc))
    outcomes = await asyncio.to_thread(_deliver_batch, settings, messages)

    sent = 0
    async with db.session() as s:
        for outcome in outcomes:
            current = await s.get(OutboxEmail, outcome.row_id)
            if current is None:
                continue
            _record(current, outcome.error)
            s.add(current)
            sent += outcome.error is None
        await s.commit()
    return sent


async def _claim(s: AsyncSession, row: OutboxEmail, now: datetime) -> bool:
    """Compare-and-set ``next_attempt_at`` so that only one sender takes ``row``."""
    condition = (
        col(OutboxEmail.next_attempt_at).is_(None)
        if row.next_attempt_at is None
        else col(OutboxEmail.next_attempt_at) == row.next_attempt_at
    )
    result: Any = await s.exec(
        update(OutboxEmail)
        .where(col(OutboxEmail.id) == row.id)
        .where(col(OutboxEmail.status) == OutboxStatus.QUEUED)
        .where(condition)
        .values(next_attempt_at=now + CLAIM_LEASE)
    )
    return bool(result.rowcount == 1)


def _record(row: OutboxEmail, error: BaseException | None) -> None:
    now = utcnow()
    row.attempts += 1
    if error is None:
        row.status = OutboxStatus.SENT
        row.sent_at = now
        row.last_error = None
        row.next_attempt_at = None
        log.info("email sent id=%s kind=%s attempts=%s", row.id, row.kind, row.attempts)
        return
    row.last_error = describe(error)
    if _is_permanent(error) or row.attempts >= MAX_ATTEMPTS:
        row.status = OutboxStatus.FAILED
        row.next_attempt_at = None
        log.warning(
            "email failed id=%s kind=%s attempts=%s error=%s",
            row.id,
            row.kind,
            row.attempts,
            type(error).__name__,
        )
    else:
        row.next_attempt_at = now + backoff_delay(row.attempts)
        log.info(
            "email retry id=%s attempts=%s next=%s error=%s",
            row.id,
            row.attempts,
            row.next_attempt_at.isoformat(),
            type(error).__name__,
        )


def _is_permanent(error: BaseException) -> bool:
    """A 5xx SMTP answer (RFC 5321 section 4.2.1) for the whole message, or a row that cannot
    be rendered; everything else (connection refused, timeouts, 4xx) is retried."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in error.recipients.values()]
        return bool(codes) and all(500 <= c < 600 for c in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600
    return isinstance(error, ValueError | TypeError | UnicodeError | binascii.Error)


def _deliver_batch(
    settings: Settings, messages: list[tuple[int, EmailMessage | BaseException]]
) -> list[_Outcome]:
    """Blocking: send ``messages`` over one SMTP connection (reopened after a
    connection-level error). Runs in a worker thread."""
    outcomes: list[_Outcome] = []
    conn: smtplib.SMTP | None = None
    try:
        for row_id, msg in messages:
            if isinstance(msg, BaseException):
                outcomes.append(_Outcome(row_id, msg))
                continue
            try:
                if conn is None:
                    conn = connect(settings)
                conn.send_message(msg)
                outcomes.append(_Outcome(row_id, None))
            except smtplib.SMTPRecipientsRefused as exc:
                outcomes.append(_Outcome(row_id, exc))
                reset(conn)
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                outcomes.append(_Outcome(row_id, exc))
                reset(conn)
            except Exception as exc:  # connection-level: drop it, reconnect for the next
                outcomes.append(_Outcome(row_id, exc))
                close(conn)
                conn = None
    finally:
        close(conn)
    return outcomes

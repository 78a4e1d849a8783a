"""Traveler notifications: storing the due notices, queueing their emails, the unsubscribe
link, and the notices a traveler sees. No Reflex.

Which notices are due and which are still shown: :mod:`travelsim.services.notification_rules`
(docs/business-rules.md#notifications); nothing here calls SFT.

"Once" is a database guarantee: :class:`~travelsim.models.Notification` is unique per
(eSIM, add-on, kind, threshold); the row and its email are inserted in one transaction, and a
unique-constraint conflict (another worker, a restart) rolls both back. So a notice and its
email exist at most once, whatever the number of processes or restarts.

Notices and their emails are written in the eSIM owner's language (``email.recipient_locale``,
docs/i18n.md#emails), the stored notice too, since the portal shows it as stored.
Emails go through the outbox (``services.email``) unless the traveler unsubscribed
(:class:`~travelsim.models.NotificationOptOut`); the in-portal notice is created either way.
Every notification email ends with an unsubscribe link ``{PUBLIC_URL}/notifications/
unsubscribe?token=…`` (``urls.unsubscribe``): the token is an HMAC-SHA256 signature of the
user id under the portal's signing secret (``SECRET_KEY``, or a key generated once into
``DATA_DIR/signing.key`` outside production), so it needs no storage and cannot be forged for
another user. Transactional emails (installation, verification) are not affected by the
opt-out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db, i18n, urls
from travelsim.db import SessionFactory
from travelsim.i18n import _
from travelsim.keys import build_signing_key
from travelsim.models import (
    Esim,
    EsimAddon,
    EsimSync,
    InventoryState,
    Notification,
    NotificationOptOut,
    User,
    utcnow,
)
from travelsim.services import email
from travelsim.services.notification_rules import (
    KIND_NOT_INSTALLED,
    Candidate,
    due_notices,
    visible,
)
from travelsim.settings import Settings, get_settings

__all__ = [
    "EvaluateReport",
    "evaluate",
    "is_opted_out",
    "list_for_user",
    "mark_read",
    "signing_key",
    "unsubscribe",
    "unsubscribe_token",
    "unsubscribe_url",
    "verify_unsubscribe_token",
]

log = logging.getLogger(__name__)

_TOKEN_PREFIX = b"travelsim-unsubscribe-v1:"


# ============================================================================ signing
def signing_key(settings: Settings) -> bytes:
    """The HMAC key for unsubscribe tokens (:func:`travelsim.keys.build_signing_key`,
    purpose ``"unsubscribe"``). Raises ``RuntimeError`` in production when ``SECRET_KEY``
    is unset."""
    return build_signing_key(settings, "unsubscribe")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsubscribe_token(user_id: int, settings: Settings | None = None) -> str:
    """``<user_id>.<base64url HMAC-SHA256>``: the unsubscribe token of ``user_id``."""
    key = signing_key(settings or get_settings())
    mac = hmac.new(key, _TOKEN_PREFIX + str(user_id).encode(), hashlib.sha256).digest()
    return f"{user_id}.{_b64(mac)}"


def verify_unsubscribe_token(token: str, settings: Settings | None = None) -> int | None:
    """The user id signed in ``token``, or ``None`` when it is malformed or forged
    (constant-time comparison)."""
    head, _dot, _sig = token.partition(".")
    if not head.isdigit() or len(head) > 18:
        return None
    expected = unsubscribe_token(int(head), settings)
    if hmac.compare_digest(expected.encode(), token.encode()):
        return int(head)
    return None


def unsubscribe_url(user_id: int, settings: Settings | None = None) -> str:
    """``{PUBLIC_URL}/notifications/unsubscribe?token=…`` for ``user_id``."""
    s = settings or get_settings()
    return urls.absolute(urls.unsubscribe(unsubscribe_token(user_id, s)), s.public_url)


async def unsubscribe(session: AsyncSession, user_id: int) -> bool:
    """Turn notification emails off for ``user_id``; commits. Idempotent. Returns False
    when the user does not exist."""
    if await session.get(User, user_id) is None:
        return False
    if await session.get(NotificationOptOut, user_id) is None:
        session.add(NotificationOptOut(user_id=user_id))
        try:
            await session.commit()
        except IntegrityError:  # a concurrent click
            await session.rollback()
    return True


async def is_opted_out(session: AsyncSession, user_id: int) -> bool:
    """True when ``user_id`` unsubscribed from notification emails."""
    return await session.get(NotificationOptOut, user_id) is not None


# ============================================================================ evaluation
@dataclass(frozen=True)
class EvaluateReport:
    """Outcome of :func:`evaluate`: notices created, emails queued, and conflicts (notices
    another process created first; nothing written for them here)."""

    created: int = 0
    emailed: int = 0
    conflicts: int = 0


def _email_text(c: Candidate, settings: Settings) -> tuple[str, str]:
    """The email of notice ``c`` in the active language (the owner's), linking to the page
    in that language, and its unsubscribe link."""
    page = urls.install(c.esim_id) if c.kind == KIND_NOT_INSTALLED else urls.ACCOUNT
    link = urls.absolute(i18n.localized(page), settings.public_url)
    unsub = unsubscribe_url(c.user_id, settings)
    open_it = _("Open it in TravelSIM: {link}").format(link=link)
    why = _("You get these alerts and reminders because you have an eSIM with us.")
    unsubscribe_line = _("Unsubscribe from them: {link}").format(link=unsub)
    text = f"{c.body}\n\n{open_it}\n\n{why} {unsubscribe_line}\n"
    return text, unsub


async def _due(
    factory: SessionFactory, settings: Settings, now: datetime, esim_ids: list[int] | None
) -> list[Candidate]:
    """The notices due at ``now`` for every assigned eSIM (or only ``esim_ids``), from the
    stored add-ons, notices and profile statuses (``notification_rules.due_notices``)."""
    async with factory() as s:
        q = select(Esim).where(
            col(Esim.state) == InventoryState.ASSIGNED,
            col(Esim.user_id).is_not(None),
            col(Esim.gift_pending).is_(False),  # an unclaimed gift has no holder to tell
        )
        if esim_ids is not None:
            q = q.where(col(Esim.id).in_(esim_ids))
        esims = list((await s.exec(q)).all())
        ids = [e.id for e in esims if e.id is not None]
        langs: dict[int | None, str] = {}
        addons: dict[int, list[EsimAddon]] = {i: [] for i in ids}
        existing: dict[int, set[tuple[str, str, int]]] = {i: set() for i in ids}
        syncs: dict[int, EsimSync] = {}
        if ids:
            for a in (await s.exec(select(EsimAddon).where(col(EsimAddon.esim_id).in_(ids)))).all():
                addons[a.esim_id].append(a)
            for n in (
                await s.exec(select(Notification).where(col(Notification.esim_id).in_(ids)))
            ).all():
                existing[n.esim_id].add((n.addon_unique_id, n.kind, n.threshold))
            syncs = {
                r.esim_id: r
                for r in (await s.exec(select(EsimSync).where(col(EsimSync.esim_id).in_(ids))))
            }
        owners = {e.user_id for e in esims if e.user_id is not None}
        langs = {
            u.id: email.recipient_locale(u)
            for u in (await s.exec(select(User).where(col(User.id).in_(owners)))).all()
        }
    due: list[Candidate] = []
    for e in esims:
        assert e.id is not None
        sync = syncs.get(e.id)
        with i18n.using(langs.get(e.user_id, i18n.DEFAULT)):  # the owner's: docs/i18n.md#emails
            due.extend(
                due_notices(
                    e,
                    addons[e.id],
                    existing[e.id],
                    profile_status=(sync.profile_status if sync else None) or e.profile_status,
                    now=now,
                    data_percent=list(settings.notify_data_percent),
                    validity_hours=settings.notify_validity_hours,
                    not_installed_days=settings.notify_not_installed_days,
                )
            )
    return due


async def _create(
    factory: SessionFactory, c: Candidate, settings: Settings, now: datetime
) -> bool | None:
    """Insert the notice ``c`` and, unless its traveler opted out, queue its email, in one
    transaction. Returns whether an email was queued, or ``None`` when the notice already
    existed (a unique-constraint conflict: nothing written)."""
    async with factory() as s:
        user = await s.get(User, c.user_id)
        note = Notification(
            user_id=c.user_id,
            esim_id=c.esim_id,
            addon_unique_id=c.addon_unique_id,
            kind=c.kind,
            threshold=c.threshold,
            title=c.title[:200],
            body=c.body[:1000],
            created_at=now,
        )
        s.add(note)
        try:
            await s.flush()
        except IntegrityError:
            await s.rollback()
            return None
        sent = False
        if user is not None and not await is_opted_out(s, c.user_id):
            lang = email.recipient_locale(user)
            with i18n.using(lang):
                text, _unsub = _email_text(c, settings)
            try:
                row = await email.enqueue(
                    s,
                    to=user.email,
                    user_id=user.id,
                    subject=c.title[:200],
                    text=text,
                    kind=f"notify_{c.kind}",
                    locale=lang,
                )
                note.email_id = row.id
                s.add(note)
                sent = True
            except ValueError as exc:  # bad address: the in-portal notice stays
                log.warning("notification email not queued: %s", exc)
        try:
            await s.commit()
        except IntegrityError:
            await s.rollback()
            return None
    return sent


async def evaluate(
    *,
    session_factory: SessionFactory = db.session,
    settings: Settings | None = None,
    clock: Callable[[], datetime] = utcnow,
    esim_ids: list[int] | None = None,
) -> EvaluateReport:
    """Create the due notices (``notification_rules``) for every assigned eSIM, or only
    ``esim_ids``, and queue their emails; each notice in its own transaction.

    ``clock``: aware UTC now (tests pass the simulator's clock). Never raises for a notice
    that already exists (counted in ``conflicts``); database errors propagate.
    """
    s_ = settings or get_settings()
    now = clock()
    created = emailed = conflicts = 0
    for c in await _due(session_factory, s_, now, esim_ids):
        sent = await _create(session_factory, c, s_, now)
        if sent is None:
            conflicts += 1
            continue
        created += 1
        emailed += int(sent)
        log.info(
            "notification created",
            extra={"esim_id": c.esim_id, "kind": c.kind, "threshold": c.threshold},
        )
    return EvaluateReport(created, emailed, conflicts)


# ============================================================================ read model
async def list_for_user(
    session: AsyncSession, user_id: int, *, limit: int = 50, now: datetime | None = None
) -> list[Notification]:
    """``user_id``'s notices still worth showing (``notification_rules.visible`` at ``now``,
    aware UTC, default the current time), newest first, at most ``limit``, for the portal
    pages."""
    rows = list(
        (
            await session.exec(
                select(Notification)
                .where(col(Notification.user_id) == user_id)
                .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
            )
        ).all()
    )
    ids = sorted({n.esim_id for n in rows})
    addons: dict[int, list[EsimAddon]] = {i: [] for i in ids}
    if ids:
        for a in (
            await session.exec(select(EsimAddon).where(col(EsimAddon.esim_id).in_(ids)))
        ).all():
            addons[a.esim_id].append(a)
    return visible(rows, addons, now or utcnow())[:limit]


async def mark_read(session: AsyncSession, user_id: int, notification_id: int) -> bool:
    """Mark one of ``user_id``'s notices read; commits. False if it is not theirs."""
    note = await session.get(Notification, notification_id)
    if note is None or note.user_id != user_id:
        return False
    if note.read_at is None:
        note.read_at = utcnow()
        session.add(note)
        await session.commit()
    return True

"""Traveler notifications: usage alerts and reminders, each at most once. No Reflex.

The rules are docs/business-rules.md#notifications. What is notified
(docs/esim.md#balance-and-validity, docs/esim.md#f15-never-installed), evaluated from the
figures stored in the database
(the usage sync and platform callbacks keep them current; nothing here calls SFT):

``data_used`` (``threshold`` = percent used, settings ``NOTIFY_DATA_PERCENT``, default 80
    and 100)
    Below 100, per add-on: percent used = ``(initial_bytes - remaining_bytes) /
    initial_bytes`` of an add-on running (``active``) at ``now`` (statuses corrected for time,
    ``topup.effective_status``). Unknown figures (``None``) never notify. When several
    thresholds are crossed at once only the highest is created, and a threshold is never
    created once a higher one exists for the add-on (so a jump from 50 % to 100 % sends one
    notice, "100 %").
    100 ("all data used"), per eSIM and per time it runs out: the eSIM has no live add-on
    (``waiting`` or ``active``) and the add-on that ran last (``topup.draw_key``) is
    ``used_up``; no add-on is ``unknown`` (the platform stopped listing it: it may still
    run). Stacked plans used up together give ONE notice; ``addon_unique_id`` is the add-on
    that ran last, so running out again after a top-up is a new notice.

Shown (:func:`visible`, what :func:`list_for_user` returns): a notice about running out of
data is hidden once the eSIM has live data again: an "all data used" notice once the eSIM has
a live add-on (or a newer "all data used" notice), a lower threshold once another add-on is
live or its own add-on is no longer running.
``validity_ending`` (per add-on, ``threshold`` = hours, ``NOTIFY_VALIDITY_HOURS``, default 24)
    A running add-on whose platform expiry is within the next ``threshold`` hours.
``not_installed`` (per eSIM, ``addon_unique_id=""``, ``threshold`` = days,
    ``NOTIFY_NOT_INSTALLED_DAYS``, default 3)
    An eSIM assigned at least ``threshold`` days ago whose profile still reads ``released``
    (``usage.install_state`` = ``ready``: the QR code was never used;
    docs/esim.md#f15-never-installed).

"Once" is a database guarantee: :class:`~travelsim.models.Notification` is unique per
(eSIM, add-on, kind, threshold); the row and its email are inserted in one transaction, and a
unique-constraint conflict (another worker, a restart) rolls both back. So a notice and its
email exist at most once, whatever the number of processes or restarts.

Emails go through the outbox (``services.email``) unless the traveler unsubscribed
(:class:`~travelsim.models.NotificationOptOut`); the in-portal notice is created either way.
Every notification email ends with an unsubscribe link ``{PUBLIC_URL}/notifications/
unsubscribe?token=…``: the token is an HMAC-SHA256 signature of the user id under the
portal's signing secret (``SECRET_KEY``, or a key generated once into ``DATA_DIR/signing.key``
outside production), so it needs no storage and cannot be forged for another user.
Transactional emails (installation, verification) are not affected by the opt-out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim import db
from travelsim.formatting import format_bytes
from travelsim.keys import build_signing_key
from travelsim.models import (
    Esim,
    EsimAddon,
    EsimSync,
    Notification,
    NotificationOptOut,
    User,
    utcnow,
)
from travelsim.services import email
from travelsim.services.topup import LIVE_STATUSES, draw_key, effective_status
from travelsim.services.usage import install_state
from travelsim.settings import Settings, get_settings

__all__ = [
    "KIND_DATA_USED",
    "KIND_NOT_INSTALLED",
    "KIND_VALIDITY_ENDING",
    "Candidate",
    "EvaluateReport",
    "due_notices",
    "evaluate",
    "is_opted_out",
    "list_for_user",
    "mark_read",
    "signing_key",
    "unsubscribe",
    "unsubscribe_token",
    "unsubscribe_url",
    "verify_unsubscribe_token",
    "visible",
]

log = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]

KIND_DATA_USED = "data_used"
KIND_VALIDITY_ENDING = "validity_ending"
KIND_NOT_INSTALLED = "not_installed"
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
    head, _, _sig = token.partition(".")
    if not head.isdigit() or len(head) > 18:
        return None
    expected = unsubscribe_token(int(head), settings)
    if hmac.compare_digest(expected.encode(), token.encode()):
        return int(head)
    return None


def unsubscribe_url(user_id: int, settings: Settings | None = None) -> str:
    """``{PUBLIC_URL}/notifications/unsubscribe?token=…`` for ``user_id``."""
    s = settings or get_settings()
    token = unsubscribe_token(user_id, s)
    return f"{s.public_url.rstrip('/')}/notifications/unsubscribe?token={token}"


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


# ============================================================================ rules
@dataclass(frozen=True)
class Candidate:
    """A notice that is due: what :func:`due_notices` returns (nothing stored yet)."""

    user_id: int
    esim_id: int
    addon_unique_id: str
    kind: str
    threshold: int
    title: str
    body: str


def _percent_used(addon: EsimAddon) -> float | None:
    total, left = addon.initial_bytes, addon.remaining_bytes
    if total is None or left is None or total <= 0:
        return None
    return max(0.0, min(100.0, (total - max(0, left)) * 100.0 / total))


def _name(esim: Esim) -> str:
    return esim.nickname or f"eSIM ··{esim.iccid[-4:]}"


def _ran_out(addons: list[EsimAddon], now: datetime) -> EsimAddon | None:
    """The add-on that ran last when the eSIM has run out of data at ``now`` (module
    docstring, ``data_used`` 100), else ``None`` (live data, never used up, or unknown)."""
    states = {a.unique_id: effective_status(a, now) for a in addons}
    if any(st in LIVE_STATUSES or st == "unknown" for st in states.values()):
        return None
    finished = [a for a in addons if states[a.unique_id] in ("used_up", "expired")]
    if not finished:
        return None
    last = max(finished, key=draw_key)
    return last if states[last.unique_id] == "used_up" else None


def visible(
    notes: list[Notification], addons: dict[int, list[EsimAddon]], now: datetime
) -> list[Notification]:
    """``notes`` without the stale ones (module docstring, "Shown"), order kept. ``addons``:
    every add-on stored for each eSIM id of ``notes`` (a missing id counts as none);
    ``now``: aware UTC. Pure."""
    newest_out: dict[int, tuple[datetime, int]] = {}
    for n in notes:
        if n.kind == KIND_DATA_USED and n.threshold >= 100:
            key = (n.created_at, n.id or 0)
            if n.esim_id not in newest_out or key > newest_out[n.esim_id]:
                newest_out[n.esim_id] = key
    out: list[Notification] = []
    for n in notes:
        if n.kind == KIND_DATA_USED:
            live = {
                a.unique_id
                for a in addons.get(n.esim_id, [])
                if effective_status(a, now) in LIVE_STATUSES
            }
            if n.threshold >= 100:
                if live or (n.created_at, n.id or 0) != newest_out[n.esim_id]:
                    continue
            elif n.addon_unique_id not in live or live - {n.addon_unique_id}:
                continue
        out.append(n)
    return out


def due_notices(
    esim: Esim,
    addons: list[EsimAddon],
    existing: set[tuple[str, str, int]],
    *,
    profile_status: str | None,
    now: datetime,
    data_percent: list[int],
    validity_hours: int,
    not_installed_days: int,
) -> list[Candidate]:
    """The notices due for one assigned eSIM at ``now`` (aware UTC) by the rules of the
    module docstring. ``existing``: ``(addon_unique_id, kind, threshold)`` already stored for
    this eSIM. Pure: no I/O. ``esim.user_id`` must be set."""
    assert esim.id is not None and esim.user_id is not None
    out: list[Candidate] = []
    name = _name(esim)
    thresholds = sorted({t for t in data_percent if 0 < t <= 100})
    below = [t for t in thresholds if t < 100]
    ran_out = _ran_out(addons, now) if 100 in thresholds else None
    if ran_out is not None and (ran_out.unique_id, KIND_DATA_USED, 100) not in existing:
        ended = [a for a in addons if effective_status(a, now) == "used_up"]
        known = [a.initial_bytes for a in ended if a.initial_bytes]
        total = format_bytes(sum(known)) if len(known) == len(ended) and known else "the data"
        plans = "your data plan" if len(ended) == 1 else "your data plans"
        if len(ended) == 1 and ended[0].plan_name:
            plans = ended[0].plan_name
        out.append(
            Candidate(
                esim.user_id,
                esim.id,
                ran_out.unique_id,
                KIND_DATA_USED,
                100,
                f"{name}: all data used",
                f"All {total} of {plans} on {name} is used. Buy a top-up to stay connected.",
            )
        )
    for a in addons:
        state = effective_status(a, now)
        pct = _percent_used(a) if state == "active" else None
        crossed = [t for t in below if pct is not None and pct >= t]
        if crossed:
            top = crossed[-1]
            higher_known = any(
                k == KIND_DATA_USED and uid == a.unique_id and t >= top for uid, k, t in existing
            )
            if not higher_known:
                plan = a.plan_name or "your data plan"
                total = format_bytes(a.initial_bytes) if a.initial_bytes else "your data"
                out.append(
                    Candidate(
                        esim.user_id,
                        esim.id,
                        a.unique_id,
                        KIND_DATA_USED,
                        top,
                        f"{name}: {top} % of your data used",
                        f"You have used {top} % of {total} ({plan}) on {name}. Figures lag "
                        "real traffic; a top-up keeps you connected.",
                    )
                )
        if (
            state == "active"
            and a.expires_at is not None
            and now < a.expires_at <= now + timedelta(hours=validity_hours)
            and (a.unique_id, KIND_VALIDITY_ENDING, validity_hours) not in existing
        ):
            when = a.expires_at.strftime("%d %b %Y %H:%M UTC")
            out.append(
                Candidate(
                    esim.user_id,
                    esim.id,
                    a.unique_id,
                    KIND_VALIDITY_ENDING,
                    validity_hours,
                    f"{name}: validity ends within {validity_hours} h",
                    f"{a.plan_name or 'Your data plan'} on {name} expires on {when}. "
                    "Buy a top-up before then to stay connected.",
                )
            )
    assigned = esim.assigned_at
    if (
        assigned is not None
        and now - assigned >= timedelta(days=not_installed_days)
        and install_state(profile_status) == "ready"
        and ("", KIND_NOT_INSTALLED, not_installed_days) not in existing
    ):
        out.append(
            Candidate(
                esim.user_id,
                esim.id,
                "",
                KIND_NOT_INSTALLED,
                not_installed_days,
                f"{name} is not installed yet",
                f"You bought {name} {not_installed_days} or more days ago and it is not "
                "installed yet. Install it before you travel (QR code, one-tap link or manual "
                "entry on its install page).",
            )
        )
    return out


# ============================================================================ evaluation
@dataclass(frozen=True)
class EvaluateReport:
    """Outcome of :func:`evaluate`: notices created, emails queued, and conflicts (notices
    another process created first; nothing written for them here)."""

    created: int = 0
    emailed: int = 0
    conflicts: int = 0


def _email_text(c: Candidate, settings: Settings) -> tuple[str, str]:
    from travelsim.services.provisioning import install_page_url

    base = settings.public_url.rstrip("/")
    link = install_page_url(base, c.esim_id) if c.kind == KIND_NOT_INSTALLED else f"{base}/account"
    unsub = unsubscribe_url(c.user_id, settings)
    text = (
        f"{c.body}\n\nOpen it in TravelSIM: {link}\n\n"
        f"You get these alerts and reminders because you have an eSIM with us. "
        f"Unsubscribe from them: {unsub}\n"
    )
    return text, unsub


async def evaluate(
    *,
    session_factory: SessionFactory = db.session,
    settings: Settings | None = None,
    clock: Callable[[], datetime] = utcnow,
    esim_ids: list[int] | None = None,
) -> EvaluateReport:
    """Create the due notices (module docstring) for every assigned eSIM, or only
    ``esim_ids``, and queue their emails; each notice in its own transaction.

    ``clock``: aware UTC now (tests pass the simulator's clock). Never raises for a notice
    that already exists (counted in ``conflicts``); database errors propagate.
    """
    s_ = settings or get_settings()
    now = clock()
    created = emailed = conflicts = 0
    async with session_factory() as s:
        q = select(Esim).where(col(Esim.state) == "assigned", col(Esim.user_id).is_not(None))
        if esim_ids is not None:
            q = q.where(col(Esim.id).in_(esim_ids))
        esims = list((await s.exec(q)).all())
        ids = [e.id for e in esims if e.id is not None]
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
    due: list[Candidate] = []
    for e in esims:
        assert e.id is not None
        sync = syncs.get(e.id)
        profile = (sync.profile_status if sync else None) or e.profile_status
        due.extend(
            due_notices(
                e,
                addons[e.id],
                existing[e.id],
                profile_status=profile,
                now=now,
                data_percent=list(s_.notify_data_percent),
                validity_hours=s_.notify_validity_hours,
                not_installed_days=s_.notify_not_installed_days,
            )
        )
    for c in due:
        async with session_factory() as s:
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
                conflicts += 1
                continue
            sent = False
            if user is not None and not await is_opted_out(s, c.user_id):
                text, _ = _email_text(c, s_)
                try:
                    row = await email.enqueue(
                        s,
                        to=user.email,
                        user_id=user.id,
                        subject=c.title[:200],
                        text=text,
                        kind=f"notify_{c.kind}",
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
    """``user_id``'s notices still worth showing (:func:`visible` at ``now``, aware UTC,
    default the current time), newest first, at most ``limit``, for the portal pages."""
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

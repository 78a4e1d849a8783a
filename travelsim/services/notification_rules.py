"""Which traveler notices are due, and which are still worth showing. Pure: no I/O, no Reflex.

The rules are docs/business-rules.md#notifications. What is notified
(docs/esim.md#balance-and-validity, docs/esim.md#f15-never-installed), evaluated from the
figures stored in the database (the usage sync and platform callbacks keep them current);
storing the notices and sending their emails is ``services.notifications``.

``data_used`` (``threshold`` = percent used, settings ``NOTIFY_DATA_PERCENT``, default 80
    and 100)
    Below 100, per add-on: percent used = ``(initial_bytes - remaining_bytes) /
    initial_bytes`` of an add-on running (``active``) at ``now`` (statuses corrected for time,
    ``esim.addons.effective_status``). Unknown figures (``None``) never notify. When several
    thresholds are crossed at once only the highest is created, and a threshold is never
    created once a higher one exists for the add-on (so a jump from 50 % to 100 % sends one
    notice, "100 %").
    100 ("all data used"), per eSIM and per time it runs out: the eSIM has no live add-on
    (``waiting`` or ``active``) and the add-on that ran last (``esim.addons.order_addons``,
    ``last``) is ``used_up``; no add-on is ``unknown`` (the platform stopped listing it: it
    may still run). Stacked plans used up together give ONE notice; ``addon_unique_id`` is
    the add-on that ran last, so running out again after a top-up is a new notice.
``validity_ending`` (per add-on, ``threshold`` = hours, ``NOTIFY_VALIDITY_HOURS``, default 24)
    A running add-on whose platform expiry is within the next ``threshold`` hours.
``not_installed`` (per eSIM, ``addon_unique_id=""``, ``threshold`` = days,
    ``NOTIFY_NOT_INSTALLED_DAYS``, default 3)
    An eSIM assigned at least ``threshold`` days ago whose profile still reads ``released``
    (``esim.lifecycle.install_state`` = ``ready``: the QR code was never used;
    docs/esim.md#f15-never-installed).

Shown (:func:`visible`): a notice about running out of data is hidden once the eSIM has live
data again: an "all data used" notice once the eSIM has a live add-on (or a newer "all data
used" notice), a lower threshold once another add-on is live or its own add-on is no longer
running.

Texts: every title and body is in the active language (``travelsim.i18n``; the caller makes
the eSIM owner's active, docs/i18n.md#emails), volumes from ``formatting.format_bytes`` and
dates from ``timefmt.local_datetime`` (UTC) and percentages from Babel in that language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from babel.numbers import format_percent

from travelsim import i18n, timefmt
from travelsim.esim.addons import AddonOrder, order_addons
from travelsim.esim.lifecycle import install_state
from travelsim.formatting import format_bytes
from travelsim.i18n import _, ngettext
from travelsim.models import AddonState, Esim, EsimAddon, Notification

__all__ = [
    "KIND_DATA_USED",
    "KIND_NOT_INSTALLED",
    "KIND_VALIDITY_ENDING",
    "Candidate",
    "due_notices",
    "visible",
]

KIND_DATA_USED = "data_used"
KIND_VALIDITY_ENDING = "validity_ending"
KIND_NOT_INSTALLED = "not_installed"

#: ``(addon_unique_id, kind, threshold)`` of the notices already stored for one eSIM.
Existing = set[tuple[str, str, int]]


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


def _ran_out(order: AddonOrder) -> EsimAddon | None:
    """The add-on that ran last when the eSIM has run out of data (module docstring,
    ``data_used`` 100), else ``None`` (live data, never used up, or unknown)."""
    if order.current is not None or AddonState.UNKNOWN in order.states.values():
        return None
    last = order.last
    return last if last is not None and order.states[last.unique_id] == AddonState.USED_UP else None


def _all_data_used(
    esim: Esim, addons: Sequence[EsimAddon], order: AddonOrder, existing: Existing
) -> list[Candidate]:
    """The eSIM's "all data used" notice, when it ran out and was not told yet."""
    assert esim.id is not None and esim.user_id is not None
    ran_out = _ran_out(order)
    if ran_out is None or (ran_out.unique_id, KIND_DATA_USED, 100) in existing:
        return []
    ended = [a for a in addons if order.states[a.unique_id] == AddonState.USED_UP]
    known = [a.initial_bytes for a in ended if a.initial_bytes]
    total = format_bytes(sum(known)) if len(known) == len(ended) and known else None
    name = _name(esim)
    plan = ended[0].plan_name if len(ended) == 1 else None
    if plan and total:
        body = _("All {total} of {plan} on {name} is used. Buy a top-up to stay connected.")
    elif plan:
        body = _("All the data of {plan} on {name} is used. Buy a top-up to stay connected.")
    elif total:
        body = ngettext(
            "All {total} of your data plan on {name} is used. Buy a top-up to stay connected.",
            "All {total} of your data plans on {name} is used. Buy a top-up to stay connected.",
            len(ended),
        )
    else:
        body = ngettext(
            "All the data of your data plan on {name} is used. Buy a top-up to stay connected.",
            "All the data of your data plans on {name} is used. Buy a top-up to stay connected.",
            len(ended),
        )
    return [
        Candidate(
            esim.user_id,
            esim.id,
            ran_out.unique_id,
            KIND_DATA_USED,
            100,
            _("{name}: all data used").format(name=name),
            body.format(total=total, plan=plan, name=name),
        )
    ]


def _data_used(esim: Esim, a: EsimAddon, existing: Existing, below: list[int]) -> list[Candidate]:
    """The highest threshold under 100 the running add-on ``a`` crossed, unless that one or
    a higher one was already notified for it."""
    assert esim.id is not None and esim.user_id is not None
    pct = _percent_used(a)
    crossed = [t for t in below if pct is not None and pct >= t]
    if not crossed:
        return []
    top = crossed[-1]
    if any(k == KIND_DATA_USED and uid == a.unique_id and t >= top for uid, k, t in existing):
        return []
    name = _name(esim)
    plan = a.plan_name or _("your data plan")
    if a.initial_bytes:
        body = _(
            "You have used {percent} of {total} ({plan}) on {name}. Figures lag real "
            "traffic; a top-up keeps you connected."
        )
    else:
        body = _(
            "You have used {percent} of your data ({plan}) on {name}. Figures lag real "
            "traffic; a top-up keeps you connected."
        )
    total = format_bytes(a.initial_bytes) if a.initial_bytes else None
    percent = format_percent(top / 100, locale=i18n.format_locale())  # "80%", "80 %"
    return [
        Candidate(
            esim.user_id,
            esim.id,
            a.unique_id,
            KIND_DATA_USED,
            top,
            _("{name}: {percent} of your data used").format(name=name, percent=percent),
            body.format(percent=percent, total=total, plan=plan, name=name),
        )
    ]


def _validity_ending(
    esim: Esim, a: EsimAddon, existing: Existing, now: datetime, hours: int
) -> list[Candidate]:
    """The running add-on ``a`` expires within ``hours`` and was not told yet."""
    assert esim.id is not None and esim.user_id is not None
    if (
        a.expires_at is None
        or not now < a.expires_at <= now + timedelta(hours=hours)
        or (a.unique_id, KIND_VALIDITY_ENDING, hours) in existing
    ):
        return []
    name = _name(esim)
    when = timefmt.local_datetime(a.expires_at, "UTC")
    if a.plan_name:
        body = _("{plan} on {name} expires on {time}. Buy a top-up before then to stay connected.")
    else:
        body = _(
            "Your data plan on {name} expires on {time}. Buy a top-up before then to stay "
            "connected."
        )
    return [
        Candidate(
            esim.user_id,
            esim.id,
            a.unique_id,
            KIND_VALIDITY_ENDING,
            hours,
            _("{name}: validity ends within {hours} h").format(name=name, hours=hours),
            body.format(plan=a.plan_name, name=name, time=when),
        )
    ]


def _not_installed(
    esim: Esim, existing: Existing, profile_status: str | None, now: datetime, days: int
) -> list[Candidate]:
    """The eSIM was assigned ``days`` or more ago and its QR code was never used."""
    assert esim.id is not None and esim.user_id is not None
    assigned = esim.assigned_at
    if (
        assigned is None
        or now - assigned < timedelta(days=days)
        or install_state(profile_status) != "ready"
        or ("", KIND_NOT_INSTALLED, days) in existing
    ):
        return []
    name = _name(esim)
    return [
        Candidate(
            esim.user_id,
            esim.id,
            "",
            KIND_NOT_INSTALLED,
            days,
            _("{name} is not installed yet").format(name=name),
            ngettext(
                "You bought {name} {n} or more day ago and it is not installed yet. Install it "
                "before you travel (QR code, one-tap link or manual entry on its install page).",
                "You bought {name} {n} or more days ago and it is not installed yet. Install "
                "it before you travel (QR code, one-tap link or manual entry on its install "
                "page).",
                days,
            ).format(name=name, n=days),
        )
    ]


def due_notices(
    esim: Esim,
    addons: list[EsimAddon],
    existing: Existing,
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
    thresholds = sorted({t for t in data_percent if 0 < t <= 100})
    below = [t for t in thresholds if t < 100]
    order = order_addons(addons, now)
    out = _all_data_used(esim, addons, order, existing) if 100 in thresholds else []
    for a in addons:
        if order.states[a.unique_id] != AddonState.ACTIVE:
            continue
        out.extend(_data_used(esim, a, existing, below))
        out.extend(_validity_ending(esim, a, existing, now, validity_hours))
    out.extend(_not_installed(esim, existing, profile_status, now, not_installed_days))
    return out


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
    live: dict[int, set[str]] = {
        esim_id: {a.unique_id for a in order_addons(addons.get(esim_id, []), now).live}
        for esim_id in {n.esim_id for n in notes if n.kind == KIND_DATA_USED}
    }
    out: list[Notification] = []
    for n in notes:
        if n.kind == KIND_DATA_USED:
            running = live[n.esim_id]
            if n.threshold >= 100:
                if running or (n.created_at, n.id or 0) != newest_out[n.esim_id]:
                    continue
            elif n.addon_unique_id not in running or running - {n.addon_unique_id}:
                continue
        out.append(n)
    return out

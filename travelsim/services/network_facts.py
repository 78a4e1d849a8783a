"""A plan's network facts (docs/esim.md#network-facts), seller-maintained beside its price in
the catalogue: the partner networks per covered country (name, 4G or 5G), whether sharing
the data with other devices (hotspot, tethering) is allowed, the APN when the traveler must
set it by hand, and whether the plan starts in any covered country.

The checkout shows the networks of the chosen destination and the hotspot rule; a regional
plan that starts in any covered country says so at checkout and on the install page, and the
install page's manual section shows the APN (:func:`apn_for`, also for the offline install
card). The seed file and the admin catalogue editor set them, through :func:`clean_networks`
and :func:`clean_apn`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from travelsim.models import Order, Plan
from travelsim.services import countries
from travelsim.services.ownership import owned_esim

__all__ = [
    "GENERATIONS",
    "Network",
    "NetworkFacts",
    "apn_for",
    "clean_apn",
    "clean_networks",
    "facts_for",
    "facts_for_esim",
    "facts_of",
    "networks_text",
    "parse_networks_text",
]

#: The radio generations a partner network is listed with.
GENERATIONS = ("4G", "5G")
NAME_MAX = 60
APN_MAX = 100
#: An APN network identifier: labels of letters, digits and hyphens separated by dots
#: (3GPP TS 23.003 §9.1, https://www.3gpp.org/DynaReport/23003.htm).
_APN_RE = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


@dataclass(frozen=True)
class Network:
    """One partner network in a country: its ``name`` and best ``generation`` (4G or 5G)."""

    name: str
    generation: str


@dataclass(frozen=True)
class NetworkFacts:
    """A plan's network facts: ``networks`` per ISO alpha-2 country (only the countries the
    seller listed), ``hotspot`` allowed, ``apn`` to set by hand (``None``: set
    automatically), ``starts_anywhere`` (validity starts at the first connection in any
    covered country)."""

    plan_id: str
    networks: dict[str, tuple[Network, ...]]
    hotspot: bool
    apn: str | None
    starts_anywhere: bool

    def networks_in(self, country: str) -> tuple[Network, ...]:
        """The partner networks of ``country`` (``()`` when the seller listed none)."""
        return self.networks.get(country.upper(), ())


def clean_networks(raw: Any, *, where: str) -> dict[str, list[dict[str, str]]]:
    """``raw`` (``{"FR": [{"name": "Orange", "generation": "5G"}]}``) checked and tidied for
    ``Plan.networks``: codes upper-cased and sorted, names' spaces collapsed, a network listed
    twice in a country kept once. Raises ``ValueError`` starting with ``where`` for an
    unknown country code, a name missing or over :data:`NAME_MAX` characters, or a
    generation not in :data:`GENERATIONS`."""
    if not isinstance(raw, Mapping):
        raise ValueError(f'{where}: networks must be an object like {{"FR": [...]}}')
    out: dict[str, list[dict[str, str]]] = {}
    for code in sorted(raw, key=str):
        cc = str(code).strip().upper()
        try:
            countries.country(cc)
        except KeyError:
            raise ValueError(f"{where}: unknown country code {code!r}") from None
        entries = raw[code]
        if not isinstance(entries, list):
            raise ValueError(f"{where}: the networks of {cc} must be a list")
        kept: dict[str, dict[str, str]] = {}
        for entry in entries:
            net = _clean_network(entry, f"{where}, {cc}")
            kept.setdefault(net["name"].casefold(), net)
        if kept:
            out[cc] = list(kept.values())
    return out


def _clean_network(entry: Any, where: str) -> dict[str, str]:
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: a network must be an object with name and generation")
    name = " ".join(str(entry.get("name") or "").split())
    generation = str(entry.get("generation") or "").strip().upper()
    if not name or len(name) > NAME_MAX:
        raise ValueError(f"{where}: a network name must be 1 to {NAME_MAX} characters")
    if generation not in GENERATIONS:
        raise ValueError(f"{where}: {name}: generation must be one of {', '.join(GENERATIONS)}")
    return {"name": name, "generation": generation}


def clean_apn(raw: str | None, *, where: str) -> str | None:
    """The APN to store: ``None`` for an empty one (set automatically), else the text
    trimmed. Raises ``ValueError`` starting with ``where`` for one over :data:`APN_MAX`
    characters or not made of dot-separated labels of letters, digits and hyphens."""
    apn = (raw or "").strip()
    if not apn:
        return None
    if len(apn) > APN_MAX or not _APN_RE.fullmatch(apn):
        raise ValueError(
            f"{where}: APN {apn!r} must be labels of letters, digits and hyphens separated "
            f"by dots, at most {APN_MAX} characters"
        )
    return apn


def parse_networks_text(text: str) -> dict[str, list[dict[str, str]]]:
    """The admin editor's networks text, one country per ``;`` (or line): ``"FR: Orange 5G,
    SFR 4G; ES: Movistar 5G"`` (the last word of each network is its generation), checked by
    :func:`clean_networks`. Raises ``ValueError`` saying which part cannot be read."""
    raw: dict[str, list[dict[str, str]]] = {}
    for part in re.split(r"[;\n]+", text):
        if not part.strip():
            continue
        code, sep, rest = part.partition(":")
        if not sep:
            raise ValueError(f"networks: {part.strip()!r} is not like 'FR: Orange 5G, SFR 4G'")
        for item in rest.split(","):
            if not item.strip():
                continue
            name, _sp, generation = item.strip().rpartition(" ")
            raw.setdefault(code.strip().upper(), []).append(
                {"name": name, "generation": generation}
            )
    return clean_networks(raw, where="networks")


def networks_text(networks: Mapping[str, list[dict[str, str]]]) -> str:
    """``Plan.networks`` as the admin editor's text (:func:`parse_networks_text` reads it
    back): ``"ES: Movistar 5G; FR: Orange 5G, SFR 4G"``."""
    return "; ".join(
        f"{code}: " + ", ".join(f"{n['name']} {n['generation']}" for n in nets)
        for code, nets in sorted(networks.items())
    )


def facts_of(plan: Plan) -> NetworkFacts:
    """The network facts of a loaded ``plan``."""
    return NetworkFacts(
        plan_id=plan.plan_id,
        networks={
            code: tuple(Network(n["name"], n["generation"]) for n in nets)
            for code, nets in (plan.networks or {}).items()
        },
        hotspot=plan.hotspot,
        apn=plan.apn,
        starts_anywhere=plan.starts_anywhere,
    )


async def facts_for(session: AsyncSession, plan_id: str) -> NetworkFacts | None:
    """The network facts of plan ``plan_id``, ``None`` for an unknown plan."""
    plan = await session.get(Plan, plan_id)
    return facts_of(plan) if plan is not None else None


async def facts_for_esim(
    session: AsyncSession, *, user_id: int | None, esim_id: int
) -> NetworkFacts | None:
    """The network facts of the plan the eSIM ``esim_id`` was last ordered with, for its
    owner ``user_id`` only (``None``: not theirs, unknown, or no order)."""
    esim = await owned_esim(session, user_id, esim_id)
    if esim is None:
        return None
    plan_id = (
        await session.exec(
            select(Order.plan_id)
            .where(col(Order.esim_id) == esim.id)
            .order_by(col(Order.created_at).desc())
            .limit(1)
        )
    ).first()
    return await facts_for(session, plan_id) if plan_id is not None else None


async def apn_for(session: AsyncSession, plan_id: str) -> str | None:
    """The APN a traveler of plan ``plan_id`` must set by hand (e.g. ``"bicsapn"``), or
    ``None`` when the phone sets it automatically (or the plan is unknown). For the install
    page's manual section and the offline install card."""
    facts = await facts_for(session, plan_id)
    return facts.apn if facts is not None else None

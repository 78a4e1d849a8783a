"""The list of eSIM-capable devices and its search, for the checkout's device check
(docs/esim.md#device-compatibility).

The list ships as ``travelsim/seed/devices.json``, compiled from the manufacturers' public
pages each entry names in ``source``; the seller can extend or correct it with their own
file (setting ``DEVICES_FILE``), whose entries replace the shipped ones of the same brand and
model and add the others. A malformed file is refused with :class:`DeviceListError` naming
the file, the entry and what is wrong (at start-up: ``startup.problems``).

Search is loose: case, spaces, punctuation and the brand are optional (``"iphone15"``,
``"pixel 8"``, ``"galaxy s24"``, ``"Samsung S24 Ultra"``), and Android model numbers as the
browser reports them (``"SM-S921B"``) match the entry whose ``codes`` prefix they start with.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from travelsim.i18n import N_
from travelsim.settings import PROJECT_ROOT, Settings, get_settings

__all__ = [
    "CAVEATS",
    "KINDS",
    "SHIPPED_FILE",
    "Device",
    "DeviceListError",
    "Match",
    "check",
    "device_list",
    "load_devices",
    "search",
]

#: The list shipped with the portal.
SHIPPED_FILE = PROJECT_ROOT / "travelsim" / "seed" / "devices.json"
KINDS = ("phone", "tablet", "watch")
#: The shipped list's caveats, marked for translation: the page shows each in the traveler's
#: language (a seller's own caveat is shown as written).
CAVEATS = (
    N_("Not the models sold in mainland China (no eSIM there; Apple's page lists the exceptions)."),
    N_(
        "Not the models sold in mainland China (no eSIM there; Apple's page lists the "
        "exceptions). US models have no SIM tray: eSIM only."
    ),
    N_("Wi-Fi + Cellular models only."),
    N_(
        "The watch shares your iPhone's carrier plan: a travel data eSIM is installed on the "
        "iPhone, not on the watch."
    ),
    N_(
        "eSIM depends on the country model and carrier: Samsung says availability varies by market."
    ),
    N_(
        "LTE models only; the watch shares your phone's carrier plan: install a travel data "
        "eSIM on the phone."
    ),
)
_FIELDS = {"brand": 40, "model": 80, "kind": 10, "source": 300, "caveat": 300}
#: ``supported``: in the list, no caveat; ``caveat``: in the list with one; ``unknown``: not
#: in the list (which does not mean it has no eSIM: the page says how to check).
Verdict = Literal["supported", "caveat", "unknown"]


class DeviceListError(ValueError):
    """A device file that cannot be used: names the file, the entry and the fault."""


@dataclass(frozen=True)
class Device:
    """One eSIM-capable model: ``kind`` one of :data:`KINDS`, ``caveat`` ``""`` when none,
    ``source`` the manufacturer's page (URL), ``codes`` model-number prefixes (``SM-S921``)."""

    brand: str
    model: str
    kind: str
    source: str
    caveat: str = ""
    codes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """``"Google Pixel 8"``; the model alone when it already starts with the brand."""
        if _squash(self.model).startswith(_squash(self.brand)):
            return self.model
        return f"{self.brand} {self.model}"


@dataclass(frozen=True)
class Match:
    """The outcome of :func:`check`: the best ``device`` (``None`` when ``verdict`` is
    ``unknown``) and the other close ``candidates``."""

    verdict: Verdict
    device: Device | None
    candidates: tuple[Device, ...] = ()


def _squash(text: str) -> str:
    """Lower case, letters and digits only: ``"iPhone 15 Pro"`` → ``"iphone15pro"``."""
    return re.sub(r"[^0-9a-z+]", "", text.casefold())


def _tokens(text: str) -> list[str]:
    """Words, letters and digits apart: ``"iphone15 pro"`` → ``["iphone", "15", "pro"]``."""
    return re.findall(r"[a-z]+|[0-9]+|\+", text.casefold())


def _entry(raw: Any, where: str) -> Device:
    if not isinstance(raw, dict):
        raise DeviceListError(f"{where}: an entry must be an object")
    unknown = set(raw) - {*_FIELDS, "codes"}
    if unknown:
        raise DeviceListError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for name, limit in _FIELDS.items():
        value = raw.get(name, "")
        if not isinstance(value, str) or len(value) > limit:
            raise DeviceListError(f"{where}: {name} must be text of at most {limit} characters")
        if name != "caveat" and not value.strip():
            raise DeviceListError(f"{where}: {name} is missing")
    if raw["kind"] not in KINDS:
        raise DeviceListError(f"{where}: kind must be one of {', '.join(KINDS)}")
    if not raw["source"].startswith("https://"):
        raise DeviceListError(f"{where}: source must be the manufacturer's https:// page")
    codes = raw.get("codes", [])
    if not isinstance(codes, list) or not all(isinstance(c, str) and c.strip() for c in codes):
        raise DeviceListError(f"{where}: codes must be a list of model-number prefixes")
    return Device(
        brand=raw["brand"].strip(),
        model=raw["model"].strip(),
        kind=raw["kind"],
        source=raw["source"].strip(),
        caveat=raw.get("caveat", "").strip(),
        codes=tuple(c.strip().upper() for c in codes),
    )


def load_devices(path: Path) -> list[Device]:
    """The entries of one device file ``{"devices": [{brand, model, kind, source, caveat?,
    codes?}]}``. Raises :class:`DeviceListError` for a file that cannot be read, is not
    JSON, or has an entry with a missing or unknown field, a kind not in :data:`KINDS`, a
    source that is not an ``https://`` URL, or a brand and model listed twice."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeviceListError(f"device file {path}: cannot be read as JSON: {exc}") from None
    entries = data.get("devices") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise DeviceListError(f'device file {path}: expected {{"devices": [...]}}')
    out: list[Device] = []
    seen: set[str] = set()
    for i, raw in enumerate(entries, start=1):
        device = _entry(raw, f"device file {path}, entry {i}")
        key = _squash(device.name)
        if key in seen:
            raise DeviceListError(f"device file {path}, entry {i}: {device.name} is listed twice")
        seen.add(key)
        out.append(device)
    return out


def merged(shipped: list[Device], seller: list[Device]) -> list[Device]:
    """``shipped`` with each ``seller`` entry replacing the one of the same brand and model
    (in place) or added at the end."""
    by_key = {_squash(d.name): d for d in shipped}
    extra: list[Device] = []
    for device in seller:
        key = _squash(device.name)
        if key in by_key:
            by_key[key] = device
        else:
            extra.append(device)
    return [*by_key.values(), *extra]


@lru_cache(maxsize=4)
def _cached(seller_file: Path | None) -> tuple[Device, ...]:
    shipped = load_devices(SHIPPED_FILE)
    seller = load_devices(seller_file) if seller_file is not None else []
    return tuple(merged(shipped, seller))


def device_list(settings: Settings | None = None) -> tuple[Device, ...]:
    """The shipped list merged with the seller's ``DEVICES_FILE`` (when set), read once per
    file. Raises :class:`DeviceListError` (see :func:`load_devices`)."""
    return _cached((settings or get_settings()).devices_file)


def _score(device: Device, query: str) -> int:
    """How well ``query`` names ``device`` (0: not at all). Exact name, with or without the
    brand, beats a name it starts, which beats one holding all its words."""
    q = _squash(query)
    if not q:
        return 0
    upper = query.strip().upper()
    if any(upper.startswith(code) for code in device.codes):
        return 100
    names = (_squash(device.name), _squash(device.model), _squash(f"{device.brand}{device.model}"))
    if q in names:
        return 90
    if any(n.startswith(q) for n in names):
        return 60 - min(20, min(len(n) - len(q) for n in names if n.startswith(q)))
    words = _tokens(f"{device.brand} {device.model}")
    wanted = _tokens(query)
    if wanted and all(w in words for w in wanted):
        return 30
    if any(q in n for n in names):
        return 20
    return 0


def search(
    query: str, *, limit: int = 8, devices: tuple[Device, ...] | None = None
) -> list[Device]:
    """The devices of the list (``devices``, default :func:`device_list`) ``query`` names,
    best first (at most ``limit``); ``[]`` for a blank query or no match."""
    pool = devices if devices is not None else device_list()
    scored = [(_score(d, query[:80]), i, d) for i, d in enumerate(pool)]
    return [d for s, _i, d in sorted((x for x in scored if x[0] > 0), key=lambda x: (-x[0], x[1]))][
        :limit
    ]


def check(query: str, *, devices: tuple[Device, ...] | None = None) -> Match:
    """The device check of one model name or model number: ``supported`` or ``caveat`` when
    ``query`` names one device (its name with or without the brand, its model number, or
    words that only it has all of), else ``unknown`` with the close ``candidates`` to pick
    from."""
    found = search(query, devices=devices)
    scores = [_score(d, query[:80]) for d in found]
    named = bool(found) and (
        scores[0] >= 90 or (scores[0] == 30 and (len(scores) == 1 or scores[1] < 30))
    )
    if named:
        best = found[0]
        return Match("caveat" if best.caveat else "supported", best, tuple(found[1:]))
    return Match("unknown", None, tuple(found))

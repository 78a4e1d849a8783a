"""The simulated account's add-on catalogue (fixed plan ids the portal's seed file uses)."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1_048_576  # bytes
GB = 1024 * MB  # 1_073_741_824 bytes

ON_USAGE = "0"
IMMEDIATE = "1"
ACTIVATED_BY_NAME = {ON_USAGE: "On Usage", IMMEDIATE: "Immediate"}

EUROPE = (
    "FR ES IT DE PT NL BE AT CH GR GB IE LU DK SE NO FI IS PL CZ SK HU SI HR RO BG "
    "EE LV LT MT CY LI MC AL RS ME"
).split()
ASIA = "JP TH SG MY ID VN KR HK TW PH".split()
LATAM = "MX BR AR CL CO PE".split()
GLOBAL = [
    *EUROPE,
    *ASIA,
    *LATAM,
    *(
        "US CA AU NZ ZA EG MA TN TR IL AE SA QA KW BH OM JO IN LK CN MO KH LA UY PY EC CR PA GT DO"
    ).split(),
]


@dataclass(frozen=True)
class AddonPlan:
    """One add-on plan (``planCategory`` ADDON, ``planType`` 0)."""

    plan_id: str
    name: str
    volume_bytes: int
    validity_days: int
    activated_by: str  # "0" On Usage, "1" Immediate
    zone_id: str
    zone_name: str
    countries: tuple[str, ...]
    priority: int = 1

    @property
    def activated_by_name(self) -> str:
        return ACTIVATED_BY_NAME[self.activated_by]


def _p(
    plan_id: str,
    name: str,
    volume: int,
    days: int,
    zone: tuple[str, str, list[str]],
    activated_by: str = ON_USAGE,
) -> AddonPlan:
    return AddonPlan(plan_id, name, volume, days, activated_by, zone[0], zone[1], tuple(zone[2]))


_FR = ("101", "France", ["FR"])
_ES = ("111", "Spain", ["ES"])
_IT = ("121", "Italy", ["IT"])
_US = ("131", "USA", ["US"])
_JP = ("141", "Japan", ["JP"])
_TH = ("151", "Thailand", ["TH"])
_GB = ("161", "United Kingdom", ["GB"])
_EU = ("201", "Europe", EUROPE)
_AS = ("211", "Asia", ASIA)
_LA = ("221", "Latin America", LATAM)
_GL = ("301", "Global", GLOBAL)
_BE = ("401", "Belgium", ["BE"])

PLANS: tuple[AddonPlan, ...] = (
    _p("870101", "France 1 GB 7 days", 1 * GB, 7, _FR),
    _p("870102", "France 5 GB 30 days", 5 * GB, 30, _FR),
    _p("870111", "Spain 3 GB 15 days", 3 * GB, 15, _ES),
    _p("870121", "Italy 3 GB 15 days", 3 * GB, 15, _IT),
    _p("870131", "USA 5 GB 30 days", 5 * GB, 30, _US),
    _p("870132", "USA 10 GB 30 days", 10 * GB, 30, _US),
    _p("870141", "Japan 3 GB 15 days", 3 * GB, 15, _JP),
    _p("870151", "Thailand 5 GB 15 days", 5 * GB, 15, _TH),
    _p("870161", "United Kingdom 3 GB 15 days", 3 * GB, 15, _GB),
    _p("870201", "Europe 5 GB 30 days", 5 * GB, 30, _EU),
    _p("870202", "Europe 20 GB 30 days", 20 * GB, 30, _EU),
    _p("870211", "Asia 5 GB 30 days", 5 * GB, 30, _AS),
    _p("870221", "Latin America 3 GB 30 days", 3 * GB, 30, _LA),
    _p("870301", "Global 3 GB 30 days", 3 * GB, 30, _GL, IMMEDIATE),
    _p("870302", "Global 10 GB 60 days", 10 * GB, 60, _GL, IMMEDIATE),
    _p("870401", "Test 100 MB 1 day", 100 * MB, 1, _BE, IMMEDIATE),
)
PLANS_BY_ID: dict[str, AddonPlan] = {p.plan_id: p for p in PLANS}

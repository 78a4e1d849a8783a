"""What ``sft check`` looks for in each read-only answer: the fields of the table in
docs/sft-platform.md, each with where the fact comes from.

A field is written as a path through the JSON body: keys joined with ``.``, ``[]`` after a key
whose value is a list (any element may carry the rest of the path). ``alternatives`` are the
other places the portal also understands (its older guesses, other spellings): a field found
only there was answered "differently", and is still understood. A ``required`` field found
nowhere means the portal would not understand the platform (``sft check`` exits 1). Names
come from :mod:`travelsim.sft.wire`, so this list follows a correction made there.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from travelsim.sft import wire


class Source(StrEnum):
    """Where a fact comes from, in the words of docs/sft-platform.md#sources."""

    PUBLISHED = "Published"
    PRODUCTION_CODE = "Production code"
    THIRD_PARTY = "Third-party client"
    INFERRED = "Inferred"


@dataclass(frozen=True, slots=True)
class FieldExpectation:
    """One field of one operation's answer: ``path`` (see the module docstring), whether the
    portal needs it (``required``), the other places it understands (``alternatives``) and the
    source of the fact with its section of docs/sft-platform.md (``doc``)."""

    operation: str
    path: str
    required: bool
    source: Source
    doc: str
    alternatives: tuple[str, ...] = ()


def _p(*parts: str) -> str:
    return ".".join(parts)


_RESP: Final = _p(wire.RESPONSE, wire.RESPONSE_PARAM)
_SIM_ROWS: Final = _p(_RESP, wire.ROWS + "[]")
_ADDON_ROWS: Final = _p(_RESP, wire.ROWS + "[]")
_BASIC: Final = _p(wire.RESPONSE, wire.PROFILE_INFO, wire.PROFILE_BASIC_INFO)
_PLANS: Final = _p(
    wire.RESPONSE, wire.PROFILE_INFO, wire.PROFILE_PROMOTIONAL_PLANS, wire.PROFILE_PLAN_LIST + "[]"
)
_BENEFITS: Final = _p(
    wire.RESPONSE, wire.PROFILE_INFO, wire.PROFILE_BENEFIT_INFO, wire.PROFILE_BENEFIT_LIST + "[]"
)
_STATS: Final = _p(_RESP, wire.STATS_DATA_USAGE + "[]")
_RATE_ROWS: Final = _p(_RESP, wire.ROWS + "[]")

_D_LOGIN: Final = "docs/sft-platform.md#login"
_D_REFRESH: Final = "docs/sft-platform.md#refreshtoken"
_D_FETCH: Final = "docs/sft-platform.md#fetchsim"
_D_ADDONS: Final = "docs/sft-platform.md#get-endpoint-add-on-details"
_D_PROFILE: Final = "docs/sft-platform.md#getendpointprofile"
_D_STATS: Final = "docs/sft-platform.md#getstatistics"
_D_PLANS: Final = "docs/sft-platform.md#queryrateplan"
_D_ENV: Final = "docs/sft-platform.md#conventions"

P = Source.PUBLISHED
C = Source.PRODUCTION_CODE
T = Source.THIRD_PARTY
I = Source.INFERRED  # noqa: E741 - the docs' own letter for "inferred"


def _envelope(operation: str) -> list[FieldExpectation]:
    return [
        FieldExpectation(operation, _p(wire.RESPONSE, wire.RESULT_CODE), True, P, _D_ENV),
        FieldExpectation(
            operation, _p(wire.RESPONSE, wire.RESULT_PARAM, wire.RESULT_CODE), False, C, _D_ENV
        ),
    ]


_FETCH_PROFILE = _p(_SIM_ROWS, wire.SIM_ESIM_PROFILE_STATUS)
_FETCH_PROFILE_ALT = (_p(_SIM_ROWS, wire.LEGACY_ESIM_PROFILE_STATUS),)
_BASIC_PROFILE = _p(_BASIC, wire.PROFILE_ESIM_PROFILE_STATUS)
_BASIC_PROFILE_ALT = (_p(_BASIC, wire.LEGACY_ESIM_PROFILE_STATUS),)

EXPECTATIONS: Final[tuple[FieldExpectation, ...]] = (
    # login / RefreshToken
    FieldExpectation(wire.LOGIN.name, wire.ACCESS_TOKEN, True, C, _D_LOGIN),
    FieldExpectation(wire.LOGIN.name, wire.REFRESH_TOKEN_FIELD, False, C, _D_LOGIN),
    FieldExpectation(wire.REFRESH_TOKEN.name, wire.ACCESS_TOKEN, True, C, _D_REFRESH),
    # fetchSIM
    *_envelope(wire.FETCH_SIM.name),
    FieldExpectation(wire.FETCH_SIM.name, _p(_RESP, wire.ROWS), True, P, _D_FETCH),
    FieldExpectation(wire.FETCH_SIM.name, _p(_RESP, wire.TOTAL_COUNT), False, I, _D_FETCH),
    FieldExpectation(wire.FETCH_SIM.name, _p(_SIM_ROWS, wire.SIM_ICCID), True, C, _D_FETCH),
    FieldExpectation(wire.FETCH_SIM.name, _p(_SIM_ROWS, wire.SIM_ENDPOINT_ID), True, C, _D_FETCH),
    FieldExpectation(wire.FETCH_SIM.name, _p(_SIM_ROWS, wire.SIM_STATUS), True, C, _D_FETCH),
    FieldExpectation(wire.FETCH_SIM.name, _p(_SIM_ROWS, wire.SIM_EID), False, T, _D_FETCH),
    FieldExpectation(
        wire.FETCH_SIM.name,
        _p(_SIM_ROWS, wire.SIM_ACTIVATION_CODE, wire.ACTIVATION_SMDP),
        False,
        T,
        _D_FETCH,
    ),
    FieldExpectation(
        wire.FETCH_SIM.name,
        _p(_SIM_ROWS, wire.SIM_ACTIVATION_CODE, wire.ACTIVATION_MATCHING_ID),
        False,
        T,
        _D_FETCH,
    ),
    FieldExpectation(
        wire.FETCH_SIM.name, _FETCH_PROFILE, False, P, _D_FETCH, alternatives=_FETCH_PROFILE_ALT
    ),
    # QueryRatePlan: the nested add-on plan of the 4.13 release notes; flat rows understood
    *_envelope(wire.QUERY_RATE_PLAN.name),
    FieldExpectation(wire.QUERY_RATE_PLAN.name, _p(_RESP, wire.ROWS), True, P, _D_PLANS),
    FieldExpectation(
        wire.QUERY_RATE_PLAN.name,
        _p(_RATE_ROWS, wire.RP_BASIC_INFO, wire.RP_PLAN_ID),
        True,
        P,
        _D_PLANS,
        alternatives=(_p(_RATE_ROWS, wire.RP_PLAN_ID),),
    ),
    FieldExpectation(
        wire.QUERY_RATE_PLAN.name,
        _p(_RATE_ROWS, wire.RP_BASIC_INFO, wire.RP_PLAN_NAME),
        False,
        P,
        _D_PLANS,
        alternatives=(_p(_RATE_ROWS, wire.RP_PLAN_NAME),),
    ),
    FieldExpectation(
        wire.QUERY_RATE_PLAN.name,
        _p(_RATE_ROWS, wire.RP_BENEFIT + "[]", wire.RP_BENEFIT_VALUE),
        False,
        P,
        _D_PLANS,
        alternatives=(_p(_RATE_ROWS, wire.RP_VOLUME),),
    ),
    FieldExpectation(
        wire.QUERY_RATE_PLAN.name,
        _p(_RATE_ROWS, wire.RP_VALIDITY, wire.RP_VALIDITY_TYPE),
        False,
        P,
        _D_PLANS,
    ),
    FieldExpectation(
        wire.QUERY_RATE_PLAN.name,
        _p(_RATE_ROWS, wire.RP_VALIDITY, wire.RP_VALIDITY_FACTOR),
        False,
        P,
        _D_PLANS,
    ),
    FieldExpectation(
        wire.QUERY_RATE_PLAN.name,
        _p(_RATE_ROWS, wire.RP_SUBSCRIPTION, wire.RP_ACTIVATED_BY),
        False,
        P,
        _D_PLANS,
        alternatives=(_p(_RATE_ROWS, wire.RP_ACTIVATED_BY),),
    ),
    # GetEndPointProfile
    *_envelope(wire.ENDPOINT_PROFILE.name),
    FieldExpectation(
        wire.ENDPOINT_PROFILE.name, _p(_BASIC, wire.PROFILE_ICCID), True, C, _D_PROFILE
    ),
    FieldExpectation(
        wire.ENDPOINT_PROFILE.name, _p(_BASIC, wire.PROFILE_STATUS), False, I, _D_PROFILE
    ),
    FieldExpectation(
        wire.ENDPOINT_PROFILE.name, _p(_BASIC, wire.PROFILE_LIFECYCLE_REASON), False, I, _D_PROFILE
    ),
    FieldExpectation(
        wire.ENDPOINT_PROFILE.name,
        _BASIC_PROFILE,
        False,
        P,
        _D_PROFILE,
        alternatives=_BASIC_PROFILE_ALT,
    ),
    FieldExpectation(
        wire.ENDPOINT_PROFILE.name, _p(_PLANS, wire.PLAN_UNIQUE_ID), False, C, _D_PROFILE
    ),
    FieldExpectation(
        wire.ENDPOINT_PROFILE.name, _p(_PLANS, wire.PLAN_PLAN_ID), False, C, _D_PROFILE
    ),
    FieldExpectation(
        wire.ENDPOINT_PROFILE.name, _p(_BENEFITS, wire.BENEFIT_UNIQUE_ID), False, C, _D_PROFILE
    ),
    FieldExpectation(
        wire.ENDPOINT_PROFILE.name, _p(_BENEFITS, wire.BENEFIT_ACTUAL_BALANCE), False, C, _D_PROFILE
    ),
    FieldExpectation(
        wire.ENDPOINT_PROFILE.name, _p(_BENEFITS, wire.BENEFIT_BALANCE), False, C, _D_PROFILE
    ),
    # Get Endpoint Add-on Details (nothing published: every field inferred)
    *_envelope(wire.ADDON_DETAILS.name),
    FieldExpectation(wire.ADDON_DETAILS.name, _p(_RESP, wire.ROWS), True, I, _D_ADDONS),
    FieldExpectation(
        wire.ADDON_DETAILS.name, _p(_ADDON_ROWS, wire.ADDON_UNIQUE_ID), True, I, _D_ADDONS
    ),
    FieldExpectation(
        wire.ADDON_DETAILS.name,
        _p(_ADDON_ROWS, wire.ADDON_PLAN_ID),
        True,
        I,
        _D_ADDONS,
        alternatives=(_p(_ADDON_ROWS, wire.ADDON_ADDON_ID),),
    ),
    FieldExpectation(
        wire.ADDON_DETAILS.name, _p(_ADDON_ROWS, wire.ADDON_STATUS), True, I, _D_ADDONS
    ),
    FieldExpectation(
        wire.ADDON_DETAILS.name, _p(_ADDON_ROWS, wire.ADDON_INITIAL_VOLUME), True, I, _D_ADDONS
    ),
    FieldExpectation(
        wire.ADDON_DETAILS.name, _p(_ADDON_ROWS, wire.ADDON_REMAINING_VOLUME), True, I, _D_ADDONS
    ),
    FieldExpectation(
        wire.ADDON_DETAILS.name, _p(_ADDON_ROWS, wire.ADDON_EXPIRY_DATE), False, I, _D_ADDONS
    ),
    FieldExpectation(
        wire.ADDON_DETAILS.name, _p(_ADDON_ROWS, wire.ADDON_ACTIVATED_BY), False, I, _D_ADDONS
    ),
    # GetStatistics
    *_envelope(wire.STATISTICS.name),
    FieldExpectation(wire.STATISTICS.name, _p(_RESP, wire.STATS_DATA_USAGE), True, C, _D_STATS),
    FieldExpectation(
        wire.STATISTICS.name,
        _p(_STATS, wire.STATS_TOTAL_VOLUME),
        False,
        C,
        _D_STATS,
        alternatives=(_p(_STATS, wire.STATS_UPLINK),),
    ),
    FieldExpectation(wire.STATISTICS.name, _p(_STATS, wire.STATS_DATE), False, I, _D_STATS),
)
"""Every field ``sft check`` reports on, in the order it prints them."""

#: Keys whose values are shown as they are in "answered differently" shapes: enumerations and
#: counts that identify nobody. Every other string is masked (docs/sft-platform.md
#: #self-check).
SHOWN_VALUES: Final = frozenset(
    {
        wire.RESULT_CODE,
        wire.SIM_STATUS,
        wire.SIM_ATTACH_STATUS,
        wire.ADDON_STATUS,
        wire.ADDON_UNIT,
        wire.ADDON_ACTIVATED_BY,
        wire.ADDON_ACTIVATED_BY_NAME,
        wire.PROFILE_STATUS,
        wire.PROFILE_LIFECYCLE_REASON,
        wire.RP_PLAN_CATEGORY,
        wire.RP_PLAN_TYPE,
        wire.RP_STATUS,
        wire.RP_VALIDITY_TYPE,
        wire.TOTAL_COUNT,
        wire.SIM_ESIM_PROFILE_STATUS,
        wire.LEGACY_ESIM_PROFILE_STATUS,
    }
)


#: fetchSIM ``simStatus`` values of an endpoint in use (docs/sft-platform.md#fetchsim): its
#: add-ons and usage can be checked; a Pre-Active one has none yet.
IN_USE: Final = frozenset({"active", "suspended"})


def first_linked_endpoint(sims: list[Any]) -> tuple[str | None, str]:
    """``(endpoint id, how it was chosen)``: the first endpoint in use on the page, else the
    first linked one (Pre-Active: no add-ons or usage yet), else ``(None, "")``."""
    linked = [sim for sim in sims if sim.endpoint_id]
    in_use = [sim for sim in linked if (sim.sim_status or "").lower() in IN_USE]
    if in_use:
        return str(in_use[0].endpoint_id), "first in use on fetchSIM page 1"
    if linked:
        return str(linked[0].endpoint_id), (
            "first linked on fetchSIM page 1; none there is in use, so add-ons and usage may "
            "be empty"
        )
    return None, ""

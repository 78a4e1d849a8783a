"""Turn SFT response bodies into :mod:`travelsim.sft.models`, or raise SFTMalformedResponse.

Every structural surprise (empty body, HTML, non-JSON, missing envelope, a list where an
object belongs, an unparseable date or number) becomes :class:`SFTMalformedResponse` carrying
the operation and HTTP status: never ``KeyError``, ``AttributeError``, ``TypeError`` or
``ValueError``. Conventions (docs/sft-platform.md#conventions): scalars may be strings or
numbers; ``"-"`` and ``""`` mean absent; date-times are ``dd/mm/yyyy HH:MM:SS`` in the
platform's zone (default UTC), returned as aware UTC.

One import for both halves: :mod:`travelsim.sft.reader` (scalars, ``Reader``, the envelope,
login tokens, JWT claims), :mod:`travelsim.sft.records` (one parser per operation) and
:mod:`travelsim.sft.rateplans` (QueryRatePlan, both shapes).
"""

from travelsim.sft.rateplans import parse_rate_plan, parse_rate_plan_catalogue, parse_rate_plans
from travelsim.sft.reader import (
    Envelope,
    Reader,
    decode_json,
    jwt_claims,
    mb_to_bytes,
    parse_envelope,
    parse_tokens,
    platform_zone,
    to_datetime,
    to_int,
    to_stats_date,
    to_str,
)
from travelsim.sft.records import (
    addons_from_profile,
    parse_addon_row,
    parse_addon_rows,
    parse_lifecycle,
    parse_operation,
    parse_profile,
    parse_sim_page,
    parse_sim_row,
    parse_statistics,
    parse_subscribe,
)

__all__ = [
    "Envelope",
    "Reader",
    "addons_from_profile",
    "decode_json",
    "jwt_claims",
    "mb_to_bytes",
    "parse_addon_row",
    "parse_addon_rows",
    "parse_envelope",
    "parse_lifecycle",
    "parse_operation",
    "parse_profile",
    "parse_rate_plan",
    "parse_rate_plan_catalogue",
    "parse_rate_plans",
    "parse_sim_page",
    "parse_sim_row",
    "parse_statistics",
    "parse_subscribe",
    "parse_tokens",
    "platform_zone",
    "to_datetime",
    "to_int",
    "to_stats_date",
    "to_str",
]

"""The portal's SFT reads against the shapes the real platform publishes (or public production
clients read), and the older guesses it still understands.

Inputs are the published samples, quoted: the 4.13 release FAQ "Addon plan API with validity
and subscription" (https://docs.sft.bics.com/sft/addon-plan-api-with-validity-and-subscription,
linked from https://docs.sft.bics.com/sft/release-4-13-0-may-07-2024), the 4.13 data-stream
note on ``eSimProfileStatus``, and the GetEndPointProfile shape of public production code
(docs/sft-platform.md#getendpointprofile). Expected values are computed independently
(zoneinfo offsets by hand, byte sums by hand).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from travelsim.sft import parsing
from travelsim.sft.errors import SFTMalformedResponse
from travelsim.sft.models import ActivatedBy, AddonStatus

UTC = dt.UTC
GB = 1_073_741_824
MB = 1_048_576


def envelope(
    param: dict[str, Any] | None = None,
    top: dict[str, Any] | None = None,
    *,
    tz: str = "UTC",
    op: str = "Test",
) -> parsing.Envelope:
    body: dict[str, Any] = {"resultCode": "0", "resultParam": {"resultCode": "0"}}
    if param is not None:
        body["responseParam"] = param
    body.update(top or {})
    return parsing.parse_envelope(op, 200, {"Response": body}, tz=parsing.platform_zone(tz))


# ----------------------------------------------------------------------- 8. platform time zone
def test_brussels_summer_time_is_two_hours_ahead_of_utc() -> None:
    brussels = parsing.platform_zone("Europe/Brussels")
    # CEST = UTC+2 in July: 12:00 local is 10:00 UTC.
    got = parsing.to_datetime("01/07/2025 12:00:00", brussels)
    assert got == dt.datetime(2025, 7, 1, 10, 0, tzinfo=UTC)
    assert got is not None and got.utcoffset() == dt.timedelta(0)
    # CET = UTC+1 in January.
    assert parsing.to_datetime("15/01/2025 12:00:00", brussels) == dt.datetime(
        2025, 1, 15, 11, 0, tzinfo=UTC
    )
    # A date alone is local midnight.
    assert parsing.to_datetime("01/07/2025", brussels) == dt.datetime(
        2025, 6, 30, 22, 0, tzinfo=UTC
    )


def test_brussels_daylight_saving_edges() -> None:
    brussels = parsing.platform_zone("Europe/Brussels")
    # 30 March 2025: clocks jump 02:00 CET -> 03:00 CEST (01:00 UTC).
    assert parsing.to_datetime("30/03/2025 01:59:59", brussels) == dt.datetime(
        2025, 3, 30, 0, 59, 59, tzinfo=UTC
    )
    assert parsing.to_datetime("30/03/2025 03:00:00", brussels) == dt.datetime(
        2025, 3, 30, 1, 0, tzinfo=UTC
    )
    # 02:30 does not exist that day: read with the offset before the jump (+1), fold=0.
    assert parsing.to_datetime("30/03/2025 02:30:00", brussels) == dt.datetime(
        2025, 3, 30, 1, 30, tzinfo=UTC
    )
    # 26 October 2025: 03:00 CEST -> 02:00 CET (01:00 UTC); 02:30 happens twice, the first
    # occurrence (CEST, +2) is taken.
    assert parsing.to_datetime("26/10/2025 02:30:00", brussels) == dt.datetime(
        2025, 10, 26, 0, 30, tzinfo=UTC
    )
    assert parsing.to_datetime("26/10/2025 03:00:00", brussels) == dt.datetime(
        2025, 10, 26, 2, 0, tzinfo=UTC
    )


def test_utc_is_the_default_and_unknown_zones_are_refused() -> None:
    assert parsing.platform_zone("UTC") is UTC and parsing.platform_zone("") is UTC
    assert parsing.to_datetime("01/07/2025 12:00:00") == dt.datetime(2025, 7, 1, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match="Mars/Olympus"):
        parsing.platform_zone("Mars/Olympus")


def test_the_zone_reaches_every_date_of_an_answer() -> None:
    # GetEndPointProfile benefit dates, production-code shape.
    info = {
        "basicInfo": {"endPointId": "5000001"},
        "promotionalPlans": {
            "plan": [
                {
                    "uniqueId": "7000001",
                    "planId": "870101",
                    "planStartDate": "01/07/2025 12:00:00",
                    "planExpiryDate": "08/07/2025 12:00:00",
                }
            ]
        },
        "benefitInfo": {
            "benefit": [
                {
                    "name": "DATA",
                    "uniqueId": "7000001",
                    "startDate": "01/07/2025 12:00:00",
                    "expiryDate": "-",
                    "actualBalance": "1073741824",
                    "balance": "1073741824",
                }
            ]
        },
    }
    prof = parsing.parse_profile(envelope(top={"info": info}, tz="Europe/Brussels"))
    assert prof.plans[0].started_at == dt.datetime(2025, 7, 1, 10, tzinfo=UTC)
    assert prof.plans[0].expires_at == dt.datetime(2025, 7, 8, 10, tzinfo=UTC)
    assert prof.benefits[0].started_at == dt.datetime(2025, 7, 1, 10, tzinfo=UTC)
    assert prof.benefits[0].expires_at is None


# ----------------------------------------------------------------------- 5. eSimProfileStatus
@pytest.mark.parametrize("key", ["eSimProfileStatus", "esimProfileStatus", "ESIMPROFILESTATUS"])
def test_profile_status_is_read_in_any_case(key: str) -> None:
    # 4.13: "eSimProfileStatus options (installed, downloaded, enabled, disabled, deleted,
    # error)".
    row = {"iccid": "8932042000000000001", "endPointId": "5000001", key: "installed"}
    rows, _ = parsing.parse_sim_page(envelope({"rows": [row]}))
    assert rows[0].esim_profile_status == "installed"
    prof = parsing.parse_profile(envelope(top={"info": {"basicInfo": {key: "enabled"}}}))
    assert prof.esim_profile_status == "enabled"


# ----------------------------------------------------------------------- 2. QueryRatePlan
#: The 4.13 FAQ's NEW add-on plan (Plan - Create, "NEW API CALL"), as a QueryRatePlan row
#: with its planId: "activatedBy": "1" ==> This is MOVED (from basicInfo into subscription).
PUBLISHED_NEW_ADDON: dict[str, Any] = {
    "basicInfo": {
        "planId": "870497",
        "planName": "ADDONNEW",
        "planType": "1",
        "planCategory": "ADDON",
        "planDescription": "PostpaidADDON PLAN",
        "serviceProfile": "SP_007",
        "planStatus": "Active",
        "currencyId": "44",
        "destinationGroup": "007",
        "addOnPriority": "2",
    },
    "benefit": [{"benefitId": "1", "value": "10", "rateZone": "5093"}],
    "charge": [{"chargeAmount": "3434"}],
    "subscription": {
        "reSubscription": "true",
        "reSubscriptionRule": "2",
        "occurrences": "10000",
        "activatedBy": "1",
    },
    "validity": {"validityType": "1", "validityFactor": "44"},
}
#: The FAQ's OLD add-on plan: activatedBy still in basicInfo.
PUBLISHED_OLD_ADDON: dict[str, Any] = {
    "basicInfo": {
        "planId": "870498",
        "planName": "ADDONOLD",
        "planType": "1",
        "planCategory": "ADDON",
        "planStatus": "Active",
        "addOnPriority": "2",
        "activatedBy": "1",
    },
    "benefit": [{"benefitId": "1994", "value": "10", "action": "0", "rateZone": "5093"}],
}


def test_nested_addon_plan_of_the_4_13_faq() -> None:
    [plan] = parsing.parse_rate_plans(envelope({"rows": [PUBLISHED_NEW_ADDON]}))
    assert (plan.plan_id, plan.name, plan.category, plan.plan_type, plan.status) == (
        "870497",
        "ADDONNEW",
        "ADDON",
        "1",
        "Active",
    )
    assert plan.priority == 2
    assert plan.activated_by == ActivatedBy.IMMEDIATE  # subscription.activatedBy "1"
    assert plan.volume_bytes == 10  # benefit[].value, no unit published: bytes (inferred)
    assert plan.rate_zone is not None and plan.rate_zone.id == "5093"
    assert (plan.validity_type, plan.validity_factor, plan.validity_days) == ("1", 44, 44)
    assert (plan.recurring, plan.resubscription_rule, plan.occurrences) == (True, "2", 10000)


def test_old_nested_plan_keeps_activated_by_in_basic_info() -> None:
    [plan] = parsing.parse_rate_plans(envelope({"rows": [PUBLISHED_OLD_ADDON]}))
    assert plan.activated_by == ActivatedBy.IMMEDIATE and plan.recurring is None
    assert plan.validity_days is None  # no validity object: not sellable


def test_benefit_unit_and_several_benefits() -> None:
    row = {
        "basicInfo": {"planId": "1", "planCategory": "ADDON"},
        "benefit": [
            {"benefitId": "1", "value": "1.5", "unit": "GB", "rateZone": "101"},
            {"benefitId": "2", "value": "512", "unit": "mb", "rateZone": "102"},
        ],
        "validity": {"validityType": "1", "validityFactor": "7"},
    }
    [plan] = parsing.parse_rate_plans(envelope({"rows": [row]}))
    assert plan.volume_bytes == 1536 * MB + 512 * MB == 2 * GB
    assert plan.rate_zone is not None and plan.rate_zone.id == "101"


def test_flat_legacy_row_is_still_read() -> None:
    row = {
        "planId": "870101",
        "planName": "France 1 GB 7 days",
        "planCategory": "ADDON",
        "status": "Active",
        "volume": "1073741824",
        "validity": {"validityType": "1", "validityFactor": "7"},
        "activatedBy": "0",
        "addOnPriority": "1",
        "rateZone": {"id": "101", "name": "France"},
        "countries": ["FR"],
    }
    [plan] = parsing.parse_rate_plans(envelope({"rows": [row]}))
    assert (plan.volume_bytes, plan.validity_days, plan.activated_by) == (
        GB,
        7,
        ActivatedBy.ON_USAGE,
    )
    assert plan.rate_zone is not None and plan.rate_zone.name == "France"
    assert plan.countries == ("FR",)


def test_catalogue_lists_each_skipped_plan_with_its_reason() -> None:
    months = {**PUBLISHED_NEW_ADDON, "validity": {"validityType": "2", "validityFactor": "1"}}
    months = {**months, "basicInfo": {**PUBLISHED_NEW_ADDON["basicInfo"], "planId": "2"}}
    no_volume = {
        "basicInfo": {"planId": "3", "planCategory": "ADDON"},
        "validity": {"validityType": "1", "validityFactor": "7"},
    }
    normal = {**PUBLISHED_NEW_ADDON, "basicInfo": {"planId": "4", "planCategory": "NORMAL"}}
    bad_value = {
        **PUBLISHED_NEW_ADDON,
        "basicInfo": {"planId": "5", "planCategory": "ADDON"},
        "benefit": [{"benefitId": "1", "value": "ten"}],
    }
    no_id = {"basicInfo": {"planName": "nameless"}}
    rows = [PUBLISHED_NEW_ADDON, months, no_volume, normal, bad_value, no_id]
    cat = parsing.parse_rate_plan_catalogue(envelope({"rows": rows}))
    assert [p.plan_id for p in cat.plans] == ["870497"]
    assert [(s.plan_id, s.reason) for s in cat.skipped] == [
        ("2", "validity is not in days (validityType 2)"),
        ("3", "no data volume (neither benefit[].value nor volume)"),
        ("4", "not an add-on plan (planCategory NORMAL)"),
        (
            "5",
            "unreadable row: Response.responseParam.rows[4].benefit[0].value: not a number: 'ten'",
        ),
        (None, "unreadable row: Response.responseParam.rows[5].basicInfo.planId: missing"),
    ]
    # The strict read refuses the same answer as a whole.
    with pytest.raises(SFTMalformedResponse):
        parsing.parse_rate_plans(envelope({"rows": rows}))


# ----------------------------------------------------------------------- 1. add-on fallback
#: GetEndPointProfile as public production code reads it: plans under
#: info.promotionalPlans.plan[], balances under info.benefitInfo.benefit[] in bytes.
PROFILE_INFO: dict[str, Any] = {
    "basicInfo": {"endPointId": "5000001", "status": "Active", "eSimProfileStatus": "enabled"},
    "promotionalPlans": {
        "plan": [
            {
                "uniqueId": "7000001",
                "planId": "870101",
                "planName": "France 1 GB 7 days",
                "planServiceName": "DATA",
                "planStartDate": "01/07/2025 12:00:00",
                "planExpiryDate": "08/07/2025 12:00:00",
            },
            {
                "uniqueId": "7000002",
                "planId": "870102",
                "planName": "France 5 GB 30 days",
                "planServiceName": "DATA",
                "planStartDate": "-",
                "planExpiryDate": "-",
            },
            {
                "uniqueId": "7000003",
                "planId": "870401",
                "planName": "Test 100 MB 1 day",
                "planServiceName": "DATA",
                "planStartDate": "01/07/2025 12:00:00",
                "planExpiryDate": "02/07/2025 12:00:00",
            },
        ]
    },
    "benefitInfo": {
        "benefit": [
            {
                "name": "DATA",
                "uniqueId": "7000001",
                "startDate": "01/07/2025 12:00:00",
                "expiryDate": "08/07/2025 12:00:00",
                "actualBalance": "1073741824",
                "balance": "758120448",
            },
            {
                "name": "DATA",
                "uniqueId": "7000002",
                "startDate": "-",
                "expiryDate": "-",
                "actualBalance": "5368709120",
                "balance": "5368709120",
            },
            {
                "name": "DATA",
                "uniqueId": "7000003",
                "startDate": "01/07/2025 12:00:00",
                "expiryDate": "02/07/2025 12:00:00",
                "actualBalance": "104857600",
                "balance": "0",
            },
            {"name": "DATA", "uniqueId": "base-1", "actualBalance": "1", "balance": "1"},
        ]
    },
}


def test_addons_built_from_the_profile() -> None:
    prof = parsing.parse_profile(envelope(top={"info": PROFILE_INFO}))
    now = dt.datetime(2025, 7, 3, tzinfo=UTC)
    a, b, c = parsing.addons_from_profile(prof, now)
    assert (a.unique_id, a.plan_id, a.status, a.status_raw) == (
        "7000001",
        "870101",
        AddonStatus.ACTIVE,
        "inferred",
    )
    assert (a.initial_bytes, a.remaining_bytes, a.used_bytes) == (GB, 758120448, GB - 758120448)
    assert a.validity_days == 7 and a.endpoint_id == "5000001"
    assert (a.activated_by, a.priority, a.subscribed_at) == (None, None, None)
    assert (b.status, b.started_at, b.validity_days) == (AddonStatus.WAITING, None, None)
    assert b.remaining_bytes == 5 * GB
    assert (c.status, c.remaining_bytes) == (AddonStatus.EXHAUSTED, 0)
    # A week later the first one is past its expiry.
    later = parsing.addons_from_profile(prof, dt.datetime(2025, 7, 8, 12, tzinfo=UTC))
    assert later[0].status == AddonStatus.EXPIRED


def test_a_plan_without_balance_is_a_clear_error() -> None:
    info = {
        "basicInfo": {},
        "promotionalPlans": {"plan": [{"uniqueId": "7", "planId": "870101"}]},
        "benefitInfo": {"benefit": []},
    }
    prof = parsing.parse_profile(envelope(top={"info": info}))
    with pytest.raises(SFTMalformedResponse, match=r"no benefitInfo\.benefit"):
        parsing.addons_from_profile(prof, dt.datetime(2025, 7, 3, tzinfo=UTC))


def test_add_on_details_without_rows_is_an_unknown_shape() -> None:
    with pytest.raises(SFTMalformedResponse, match="rows: missing"):
        parsing.parse_addon_rows(envelope({"addons": []}))
    assert parsing.parse_addon_rows(envelope({"rows": []})) == []

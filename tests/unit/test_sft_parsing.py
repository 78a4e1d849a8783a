"""Parsing of SFT response bodies (travelsim.sft.parsing): units, absent values, bad input.

Expected values come from docs/sft-platform.md (formats: docs/sft-platform.md#conventions;
1 MB = 1,048,576 bytes: docs/sft-platform.md#getstatistics) and hand arithmetic.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from travelsim.sft import parsing
from travelsim.sft.errors import SFTMalformedResponse
from travelsim.sft.models import ActivatedBy, AddonStatus

UTC = dt.UTC


def envelope(param: Any = None, *, code: str = "0", op_code: str = "0", **top: Any) -> Any:
    body: dict[str, Any] = {
        "resultCode": code,
        "resultParam": {"resultCode": op_code, "resultDescription": "x"},
    }
    if param is not None:
        body["responseParam"] = param
    body.update(top)
    return parsing.parse_envelope("op", 200, {"Response": body})


# --- scalars ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("05/03/2025 14:07:09", dt.datetime(2025, 3, 5, 14, 7, 9, tzinfo=UTC)),
        ("31/12/2024 23:59:59", dt.datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("01/02/2026", dt.datetime(2026, 2, 1, tzinfo=UTC)),
        ("-", None),
        ("", None),
        ("  - ", None),
        (None, None),
    ],
)
def test_datetime_is_day_first_and_utc(text: str | None, expected: dt.datetime | None) -> None:
    value = parsing.to_datetime(text)
    assert value == expected
    if value is not None:
        assert value.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("text", ["2025-03-05 14:07:09", "13/13/2025 00:00:00", "yesterday"])
def test_datetime_rejects_other_formats(text: str) -> None:
    with pytest.raises(ValueError):
        parsing.to_datetime(text)


@pytest.mark.parametrize(
    ("mb", "expected"),
    [
        ("1.000", 1_048_576),
        ("1024.000", 1_073_741_824),
        ("1.500", 1_572_864),
        ("0.001", 1_049),  # 1048.576 rounds half-up to 1049
        ("0.000", 0),
        ("2.5", 2_621_440),
        (3, 3_145_728),
        ("-", None),
        ("", None),
    ],
)
def test_mb_strings_become_bytes(mb: Any, expected: int | None) -> None:
    assert parsing.mb_to_bytes(mb) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1073741824", 1_073_741_824), (7, 7), ("7.0", 7), (" 12 ", 12), ("-", None), ("", None)],
)
def test_int_accepts_strings_and_numbers(raw: Any, expected: int | None) -> None:
    assert parsing.to_int(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", True, {"a": 1}, [1], "1e308", 1e300])
def test_int_rejects_garbage(raw: Any) -> None:
    with pytest.raises(ValueError):
        parsing.to_int(raw)
    with pytest.raises(ValueError):
        parsing.mb_to_bytes(raw)


@pytest.mark.parametrize("raw", ["9" * 23, "9.99999e23", "1e23"])
def test_large_in_range_numbers_convert(raw: str) -> None:
    assert parsing.to_int(raw) is not None
    assert parsing.mb_to_bytes(raw) is not None


# --- body / envelope ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   \n",
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        b"  <!DOCTYPE html><html></html>",
        b'{"Response": {"resultCode": "0", "resul',
        b"not json at all",
        b"\xff\xfe\x00garbage",
    ],
)
def test_unreadable_bodies_are_malformed(content: bytes) -> None:
    with pytest.raises(SFTMalformedResponse) as info:
        parsing.decode_json("fetchSIM", 200, content)
    assert info.value.operation == "fetchSIM"
    assert info.value.http_status == 200


@pytest.mark.parametrize(
    "data",
    [
        [],
        "Response",
        42,
        None,
        {},
        {"response": {"resultCode": "0"}},
        {"Response": "ok"},
        {"Response": []},
        {"Response": {}},
        {"Response": {"resultParam": {"resultCode": "0"}}},
        {"Response": {"resultCode": {"nested": True}}},
        {"Response": {"resultCode": "0", "resultParam": "x"}},
    ],
)
def test_missing_or_wrong_envelope_is_malformed(data: Any) -> None:
    with pytest.raises(SFTMalformedResponse):
        parsing.parse_envelope("op", 200, data)


def test_envelope_reads_codes_and_expiry_shape() -> None:
    env = envelope(code="1", op_code="401")
    assert not env.ok
    assert env.token_rejected
    assert env.op_code == "401"
    ok = envelope({"rows": []})
    assert ok.ok and not ok.token_rejected


# --- fetchSIM -----------------------------------------------------------------------------------
SIM_ROW = {
    "simId": "100001",
    "iccid": "8932075100000000012",
    "eid": "89049032104332181960013389083879",
    "endPointId": "50000001",
    "simStatus": "Pre-Active",
    "simAttachStatus": "ATTACHED",
    "activationCode": {
        "textQrCode": "LPA:1$smdp.sim.local$AB12-CD34-EF56-GH78",
        "smDpPlusAdress": "smdp.sim.local",
        "matchingId": "AB12-CD34-EF56-GH78",
    },
    "esimProfileStatus": "released",
}


def test_sim_row_fields_and_secrets_hidden_from_repr() -> None:
    rows, total = parsing.parse_sim_page(envelope({"rows": [SIM_ROW], "totalCount": "57"}))
    assert total == 57
    sim = rows[0]
    assert sim.iccid == "8932075100000000012"
    assert sim.endpoint_id == "50000001"
    assert sim.sim_status == "Pre-Active"
    assert sim.attach_status == "ATTACHED"
    assert sim.activation_code == "LPA:1$smdp.sim.local$AB12-CD34-EF56-GH78"
    assert sim.smdp_address == "smdp.sim.local"
    assert sim.matching_id == "AB12-CD34-EF56-GH78"
    assert "AB12-CD34" not in repr(sim)
    assert "AB12-CD34" not in str(sim)


def test_unlinked_sim_has_no_endpoint_and_total_falls_back_to_rows() -> None:
    row = dict(SIM_ROW, endPointId="-", eid="", activationCode="-")
    rows, total = parsing.parse_sim_page(envelope({"rows": [row]}))
    assert total == 1
    assert rows[0].endpoint_id is None
    assert rows[0].eid is None
    assert rows[0].activation_code is None


def test_empty_fetch_without_response_param() -> None:
    assert parsing.parse_sim_page(envelope()) == ([], 0)


@pytest.mark.parametrize(
    "param",
    [
        {"rows": "nope"},
        {"rows": {"iccid": "1"}},
        {"rows": ["8932"]},
        {"rows": [dict(SIM_ROW, iccid="-")]},
        {"rows": [dict(SIM_ROW, activationCode=["x"])]},
        {"rows": [SIM_ROW], "totalCount": "many"},
    ],
)
def test_bad_sim_pages_are_malformed(param: Any) -> None:
    with pytest.raises(SFTMalformedResponse):
        parsing.parse_sim_page(envelope(param))


# --- add-on details -----------------------------------------------------------------------------
ADDON_ROW = {
    "uniqueId": "7000001",
    "addonId": "870101",
    "planId": "870101",
    "planName": "France 1 GB 7 days",
    "endPointId": "50000001",
    "service": "DATA",
    "status": "Active",
    "activatedBy": "1",
    "activatedByName": "Immediate",
    "priority": "1",
    "subscriptionDate": "01/03/2025 10:00:00",
    "startDate": "01/03/2025 10:00:00",
    "expiryDate": "08/03/2025 10:00:00",
    "validity": "7",
    "initialVolume": "1073741824",
    "remainingVolume": "1000000000",
    "usedVolume": "73741824",
    "unit": "BYTES",
}


def test_addon_row_units_and_dates() -> None:
    [addon] = parsing.parse_addon_rows(envelope({"rows": [ADDON_ROW]}))
    assert addon.unique_id == "7000001"
    assert addon.plan_id == "870101"
    assert addon.status is AddonStatus.ACTIVE
    assert addon.activated_by is ActivatedBy.IMMEDIATE
    assert addon.priority == 1
    assert addon.started_at == dt.datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert addon.expires_at == dt.datetime(2025, 3, 8, 10, tzinfo=UTC)
    assert addon.validity_days == 7
    assert (addon.initial_bytes, addon.remaining_bytes, addon.used_bytes) == (
        1_073_741_824,
        1_000_000_000,
        73_741_824,
    )


@pytest.mark.parametrize(
    ("wire_status", "status"),
    [
        ("Subscribed", AddonStatus.WAITING),
        ("Active", AddonStatus.ACTIVE),
        ("Exhausted", AddonStatus.EXHAUSTED),
        ("Expired", AddonStatus.EXPIRED),
        ("Deactivated", AddonStatus.DEACTIVATED),
        ("DEACTIVATED", AddonStatus.DEACTIVATED),
        ("Frozen", AddonStatus.UNKNOWN),
    ],
)
def test_addon_status_mapping(wire_status: str, status: AddonStatus) -> None:
    [addon] = parsing.parse_addon_rows(envelope({"rows": [dict(ADDON_ROW, status=wire_status)]}))
    assert addon.status is status
    assert addon.status_raw == wire_status


def test_waiting_on_usage_addon_has_no_dates_and_used_is_derived() -> None:
    row = dict(
        ADDON_ROW,
        status="Subscribed",
        activatedBy="0",
        activatedByName="On Usage",
        startDate="-",
        expiryDate="-",
        remainingVolume=1073741824,
    )
    del row["usedVolume"]
    [addon] = parsing.parse_addon_rows(envelope({"rows": [row]}))
    assert addon.activated_by is ActivatedBy.ON_USAGE
    assert addon.started_at is None and addon.expires_at is None
    assert addon.used_bytes == 0


def test_activated_by_falls_back_to_name() -> None:
    row = dict(ADDON_ROW, activatedBy="-", activatedByName="On Usage")
    [addon] = parsing.parse_addon_rows(envelope({"rows": [row]}))
    assert addon.activated_by is ActivatedBy.ON_USAGE


@pytest.mark.parametrize(
    "change",
    [
        {"uniqueId": "-"},
        {"status": None},
        {"initialVolume": "lots"},
        {"remainingVolume": "-"},
        {"expiryDate": "2025-03-08T10:00:00Z"},
        {"priority": {"x": 1}},
    ],
)
def test_bad_addon_rows_are_malformed(change: dict[str, Any]) -> None:
    with pytest.raises(SFTMalformedResponse):
        parsing.parse_addon_rows(envelope({"rows": [dict(ADDON_ROW, **change)]}))


# --- profile ------------------------------------------------------------------------------------
def test_profile_reads_basic_info_plans_and_benefits() -> None:
    info = {
        "basicInfo": {
            "iccid": "8932075100000000012",
            "eid": "-",
            "name": "TravelSIM-00001",
            "msisdn": "32470100000",
            "imsi": "206015000000001",
            "endPointId": "50000001",
            "status": "Active",
            "lifeCycleReason": "-",
            "esimProfileStatus": "installed",
        },
        "promotionalPlans": {
            "plan": [
                {
                    "uniqueId": "7000001",
                    "planId": "870101",
                    "planName": "France 1 GB 7 days",
                    "planServiceName": "DATA",
                    "planStartDate": "-",
                    "planExpiryDate": "-",
                }
            ]
        },
        "benefitInfo": {
            "benefit": [
                {
                    "name": "DATA",
                    "uniqueId": "7000001",
                    "startDate": "02/03/2025 08:00:00",
                    "expiryDate": "09/03/2025 08:00:00",
                    "actualBalance": "1073741824",
                    "balance": "536870912",
                }
            ]
        },
    }
    profile = parsing.parse_profile(envelope(info=info))
    assert profile.endpoint_id == "50000001"
    assert profile.eid is None
    assert profile.lifecycle_reason is None
    assert profile.status == "Active"
    assert profile.plans[0].started_at is None
    [benefit] = profile.benefits
    assert benefit.initial_bytes == 1_073_741_824
    assert benefit.remaining_bytes == 536_870_912
    assert benefit.expires_at == dt.datetime(2025, 3, 9, 8, tzinfo=UTC)


def test_profile_without_info_is_malformed() -> None:
    with pytest.raises(SFTMalformedResponse):
        parsing.parse_profile(envelope({"rows": []}))


# --- statistics ---------------------------------------------------------------------------------
def test_statistics_rows_in_bytes() -> None:
    rows = parsing.parse_statistics(
        envelope(
            {
                "dataUsage": [
                    {
                        "date": "20250301",
                        "uplink": "0.150",
                        "downlink": "1.350",
                        "totalVolume": "1.500",
                    },
                    {
                        "date": "20250302",
                        "uplink": "0.000",
                        "downlink": "0.000",
                        "totalVolume": "0",
                    },
                ],
                "dataTotalUsage": {"totalVolume": "1.500"},
            }
        )
    )
    assert [r.date for r in rows] == [dt.date(2025, 3, 1), dt.date(2025, 3, 2)]
    assert rows[0].bytes == 1_572_864
    assert rows[0].uplink_bytes == round(0.150 * 1_048_576)
    assert rows[0].downlink_bytes == round(1.350 * 1_048_576)
    assert rows[1].bytes == 0


@pytest.mark.parametrize(
    "row",
    [
        {"date": "2025-03-01", "totalVolume": "1.0"},
        {"date": "-", "totalVolume": "1.0"},
        {"date": "20250301", "totalVolume": "one"},
        {"date": "20250301"},
    ],
)
def test_bad_statistics_rows_are_malformed(row: dict[str, Any]) -> None:
    with pytest.raises(SFTMalformedResponse):
        parsing.parse_statistics(envelope({"dataUsage": [row]}))


# --- rate plans ---------------------------------------------------------------------------------
def test_rate_plan_row() -> None:
    row = {
        "planId": "870101",
        "planName": "France 1 GB 7 days",
        "planCategory": "ADDON",
        "planType": "0",
        "status": "Active",
        "volume": "1073741824",
        "validity": {"validityType": "1", "validityFactor": "7"},
        "activatedBy": "0",
        "activatedByName": "On Usage",
        "addOnPriority": "2",
        "rateZone": {"id": "101", "name": "France"},
        "countries": ["FR", "MC"],
    }
    [plan] = parsing.parse_rate_plans(envelope({"rows": [row]}))
    assert plan.plan_id == "870101"
    assert plan.volume_bytes == 1_073_741_824
    assert plan.validity_days == 7
    assert plan.activated_by is ActivatedBy.ON_USAGE
    assert plan.priority == 2
    assert plan.rate_zone is not None and plan.rate_zone.name == "France"
    assert plan.countries == ("FR", "MC")
    months = dict(row, validity={"validityType": "2", "validityFactor": "1"})
    [plan2] = parsing.parse_rate_plans(envelope({"rows": [months]}))
    assert plan2.validity_days is None and plan2.validity_factor == 1


# --- subscribe / tokens -------------------------------------------------------------------------
def test_subscribe_reads_unique_id() -> None:
    env = envelope({"addonDetails": {"uniqueId": "7000009", "planId": "870101"}})
    result = parsing.parse_subscribe(env, "50000001", "870101")
    assert result.unique_id == "7000009"
    assert result.endpoint_id == "50000001"


def test_subscribe_without_unique_id_is_malformed() -> None:
    with pytest.raises(SFTMalformedResponse):
        parsing.parse_subscribe(envelope({"addonDetails": {}}), "1", "2")


def test_tokens_top_level_and_wrapped() -> None:
    assert parsing.parse_tokens("login", 200, {"AccessToken": "a", "RefreshToken": "r"}) == (
        "a",
        "r",
    )
    assert parsing.parse_tokens("login", 200, {"Response": {"AccessToken": "a"}}) == ("a", None)
    with pytest.raises(SFTMalformedResponse):
        parsing.parse_tokens("login", 200, {"Response": {"resultCode": "1"}})
    with pytest.raises(SFTMalformedResponse):
        parsing.parse_tokens("login", 200, ["a"])


def test_jwt_claims() -> None:
    import base64

    payload = base64.urlsafe_b64encode(json.dumps({"exp": 2000, "iat": 1100}).encode()).rstrip(b"=")
    token = f"eyJhbGciOiJIUzI1NiJ9.{payload.decode()}.sig"
    assert parsing.jwt_claims(token) == {"exp": 2000, "iat": 1100}
    assert parsing.jwt_claims("opaque-token") == {}
    assert parsing.jwt_claims("a.%%%.c") == {}


# --- fuzz: any JSON into any parser -> a model or SFTMalformedResponse, nothing else ------------
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.from_regex(r"-?[0-9]{0,40}(\.[0-9]{0,5})?([eE][+-]?[0-9]{1,4})?", fullmatch=True)
    | st.from_regex(
        r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{1,5}( [0-9]{1,2}:[0-9]{2}:[0-9]{2})?", fullmatch=True
    )
    | st.sampled_from(["-", "", "Active", "Subscribed", "0", "1", "401", "20250301"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Response",
                    "resultCode",
                    "resultParam",
                    "responseParam",
                    "rows",
                    "info",
                    "basicInfo",
                    "dataUsage",
                    "date",
                    "totalVolume",
                    "iccid",
                    "uniqueId",
                    "planId",
                    "status",
                    "initialVolume",
                    "remainingVolume",
                    "activationCode",
                    "addonDetails",
                    "validity",
                    "AccessToken",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_parsers_never_raise_anything_but_malformed(data: Any) -> None:
    for parse in (
        lambda e: parsing.parse_sim_page(e),
        lambda e: parsing.parse_addon_rows(e),
        lambda e: parsing.parse_profile(e),
        lambda e: parsing.parse_statistics(e),
        lambda e: parsing.parse_rate_plans(e),
        lambda e: parsing.parse_subscribe(e, "1", "2"),
        lambda e: parsing.parse_lifecycle(e, "1", already_active=False),
    ):
        try:
            parse(parsing.parse_envelope("op", 200, data))
        except SFTMalformedResponse:
            pass
    try:
        parsing.parse_tokens("login", 200, data)
    except SFTMalformedResponse:
        pass
    try:
        parsing.decode_json("op", 200, json.dumps(data).encode())
    except SFTMalformedResponse:
        pass


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(list(ADDON_ROW)), json_values, max_size=8))
def test_addon_rows_with_random_fields_never_crash(overrides: dict[str, Any]) -> None:
    try:
        parsing.parse_addon_rows(envelope({"rows": [dict(ADDON_ROW, **overrides)]}))
    except SFTMalformedResponse:
        pass

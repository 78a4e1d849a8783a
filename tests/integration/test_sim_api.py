"""SFT simulator over a real loopback socket: operations, transitions and refusals."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import httpx
from sim_fixtures import SimApi, SimServer

GB = 1_073_741_824
MB = 1_048_576
FMT = "%d/%m/%Y %H:%M:%S"
PLAN_IDS = {
    "870101",
    "870102",
    "870111",
    "870121",
    "870131",
    "870132",
    "870141",
    "870151",
    "870161",
    "870201",
    "870202",
    "870211",
    "870221",
    "870301",
    "870302",
    "870401",
}


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def all_rows(api: SimApi, **params: object) -> list[dict]:
    r = api.resp(api.get("fetchSIM", **{"perPage": 250, **params}))
    return r["responseParam"]["rows"]


# --------------------------------------------------------------------------- seed
def test_seed_validity(sim_api: SimApi) -> None:
    r = api_resp = sim_api.resp(sim_api.get("fetchSIM", perPage=250, page=1))
    assert r["resultCode"] == "0"
    rows = api_resp["responseParam"]["rows"]
    assert api_resp["responseParam"]["totalCount"] == "200" and len(rows) == 200
    assert [int(x["simId"]) for x in rows] == sorted(int(x["simId"]) for x in rows)
    assert len({x["iccid"] for x in rows}) == 200
    assert len({x["endPointId"] for x in rows}) == 200
    assert len({x["activationCode"]["matchingId"] for x in rows}) == 200
    for row in rows:
        iccid, eid = row["iccid"], row["eid"]
        assert len(iccid) == 19 and iccid.startswith("8932") and luhn_ok(iccid), iccid
        assert len(eid) == 32 and eid.startswith("8904") and int(eid) % 97 == 1, eid
        assert row["endPointId"].isdigit()
        assert (row["simStatus"], row["simAttachStatus"]) == ("Pre-Active", "ATTACHED")
        assert row["eSimProfileStatus"] == "released"  # published spelling (documented)
        ac = row["activationCode"]
        assert ac["smDpPlusAdress"] == "smdp.sim.local"
        assert ac["textQrCode"] == f"LPA:1$smdp.sim.local${ac['matchingId']}"
    # Deterministic: recompute the first eSIM's EID and matching id from random.Random(42).
    rng = random.Random(42)
    body = "89049032" + "".join(rng.choice("0123456789") for _ in range(22))
    assert rows[0]["eid"] == body + f"{98 - int(body + '00') % 97:02d}"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    mid = "-".join("".join(rng.choice(alphabet) for _ in range(4)) for _ in range(4))
    assert rows[0]["activationCode"]["matchingId"] == mid


# --------------------------------------------------------------------------- fetchSIM
def test_fetch_sim_filters_and_paging(sim_api: SimApi) -> None:
    p = sim_api.resp(sim_api.get("fetchSIM", page=2, perPage=150))["responseParam"]
    assert (p["page"], p["perPage"], p["totalCount"], len(p["rows"])) == ("2", "150", "200", 50)
    assert p["rows"][0]["simId"] == "100151"
    p = sim_api.resp(sim_api.get("fetchSIM", perPage=1000))["responseParam"]
    assert p["perPage"] == "250"
    p = sim_api.resp(sim_api.get("fetchSIM"))["responseParam"]
    assert p["perPage"] == "10" and len(p["rows"]) == 10
    first = sim_api.first_free_endpoint()
    assert first == sim_api.first_free_endpoint()  # same "first free SIM" for every caller
    sim_api.activate(first)
    assert sim_api.first_free_endpoint() != first
    active = all_rows(sim_api, simStatusId=13)
    assert [r["endPointId"] for r in active] == [first]
    iccid = active[0]["iccid"]
    assert [r["iccid"] for r in all_rows(sim_api, iccid=iccid)] == [iccid]
    assert all_rows(sim_api, iccid="8932000000000000000") == []
    assert all_rows(sim_api, simStatusId=14) == [] and all_rows(sim_api, simStatusId=99) == []
    assert len(all_rows(sim_api, simStatusId=12, simAttachStatusId=1, someUnknown="x")) == 199
    bad = sim_api.resp(sim_api.get("fetchSIM", simStatusId="abc"))
    assert (bad["resultCode"], bad["resultParam"]["resultCode"]) == ("1", "1001")
    # Case-insensitive path.
    r = sim_api.http.get("/API/FETCHSIM", headers=sim_api.headers())
    assert r.status_code == 200 and sim_api.resp(r)["resultCode"] == "0"


# --------------------------------------------------------------------------- lifecycle
def test_activation_transitions(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    r = sim_api.activate(ep)
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("0", "5014")
    assert r["responseParam"] == {
        "endPointId": ep,
        "currentStatus": "Active",
        "previousStatus": "Pre-Active",
    }
    r = sim_api.activate(ep)
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("1", "2507")
    assert r["resultParam"]["resultDescription"] == "Endpoint already active"
    row = all_rows(sim_api, simStatusId=13)[0]
    assert (row["endPointId"], row["simStatus"]) == (ep, "Active")
    # Suspended -> activation refused with 9005
    lc = {"Request": {"endPointId": ep, "requestParam": {"lifeCycle": "S", "reason": "2"}}}
    r = sim_api.resp(sim_api.post("EndPointLifeCycleChange", lc))
    assert r["resultParam"]["resultCode"] == "5017"
    assert r["responseParam"]["currentStatus"] == "Suspended"
    assert r["responseParam"]["previousStatus"] == "Active"
    r = sim_api.activate(ep)
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("1", "9005")


def test_life_cycle_change_rules(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()

    def lc(code: object, reason: object = "1") -> dict:
        body = {
            "Request": {"endPointId": ep, "requestParam": {"lifeCycle": code, "reason": reason}}
        }
        return sim_api.resp(sim_api.post("EndPointLifeCycleChange", body))

    r = lc("S")  # Pre-Active -> Suspended not allowed
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("1", "9005")
    assert r["resultParam"]["resultDescription"] == "Invalid lifecycle transition"
    r = lc("A")
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("0", "5017")
    assert (r["responseParam"]["previousStatus"], r["responseParam"]["currentStatus"]) == (
        "Pre-Active",
        "Active",
    )
    assert lc("A")["resultParam"]["resultCode"] == "9005"  # Active -A-> not allowed
    assert lc("S", 3)["resultParam"]["resultCode"] == "5017"  # numeric reason accepted
    prof = sim_api.resp(sim_api.get("GetEndPointProfile", endPointId=ep))["info"]["basicInfo"]
    assert (prof["status"], prof["lifeCycleReason"]) == ("Suspended", "3")
    assert lc("S")["resultParam"]["resultCode"] == "9005"
    r = lc("A")
    assert r["responseParam"]["previousStatus"] == "Suspended"
    prof = sim_api.resp(sim_api.get("GetEndPointProfile", endPointId=ep))["info"]["basicInfo"]
    assert (prof["status"], prof["lifeCycleReason"]) == ("Active", "3")
    assert lc("AI")["resultParam"]["resultCode"] == "9005"
    for bad in ("X", None, ["A"]):
        r = lc(bad)
        assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("1", "1001"), bad
    assert lc("A", "9")["resultParam"]["resultCode"] == "1001"


def test_delink_and_hold_refusals(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    iccid = all_rows(sim_api, simStatusId=12, perPage=1)[0]["iccid"]
    r = sim_api.resp(sim_api.post("DeLinkSim", {"Request": {"endPointId": ep}}))
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("0", "6413")
    row = all_rows(sim_api, iccid=iccid)[0]
    assert (row["simStatus"], row["simAttachStatus"], row["endPointId"]) == (
        "Ready To Activate",
        "NOT ATTACHED",
        "-",
    )
    assert [x["iccid"] for x in all_rows(sim_api, simStatusId=10, simAttachStatusId=0)] == [iccid]
    prof = sim_api.resp(sim_api.get("GetEndPointProfile", endPointId=ep))["info"]["basicInfo"]
    assert prof["status"] == "Hold" and prof["iccid"] == "-"
    r = sim_api.activate(ep)
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("1", "6420")
    r = sim_api.subscribe(ep, "870101")
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("1", "6420")
    body = {"Request": {"endPointId": ep, "requestParam": {"lifeCycle": "A", "reason": "1"}}}
    assert (
        sim_api.resp(sim_api.post("EndPointLifeCycleChange", body))["resultParam"]["resultCode"]
        == "9005"
    )
    r = sim_api.resp(sim_api.post("DeLinkSim", {"Request": {"endPointId": ep}}))
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("1", "6420")


# --------------------------------------------------------------------------- catalogue
def test_query_rate_plan(sim_api: SimApi) -> None:
    """Documented shape: the nested add-on plan of the 4.13 release FAQ ("Addon plan API with
    validity and subscription", https://docs.sft.bics.com/sft/release-4-13-0-may-07-2024):
    ``basicInfo{planName, planType, planCategory, planStatus, addOnPriority}``,
    ``benefit[{benefitId, value, rateZone}]``, ``subscription{reSubscription,
    reSubscriptionRule, occurrences, activatedBy}`` ("activatedBy": "1" ==> This is MOVED),
    ``validity{validityType, validityFactor}``."""
    rows = sim_api.resp(sim_api.get("QueryRatePlan", planCategory="ADDON", planType=0))[
        "responseParam"
    ]["rows"]
    assert {r["basicInfo"]["planId"] for r in rows} == PLAN_IDS
    by_id = {r["basicInfo"]["planId"]: r for r in rows}
    fr = by_id["870101"]
    assert fr["basicInfo"] == {
        "planId": "870101",
        "planName": "France 1 GB 7 days",
        "planType": "0",
        "planCategory": "ADDON",
        "planStatus": "Active",
        "addOnPriority": "1",
    }
    assert fr["benefit"] == [{"benefitId": "1", "value": "1073741824", "rateZone": "101"}]
    assert fr["validity"] == {"validityType": "1", "validityFactor": "7"}
    assert fr["subscription"]["activatedBy"] == "0" and "activatedBy" not in fr["basicInfo"]
    assert fr["subscription"]["reSubscription"] == "false"  # One-Time
    assert fr["countries"] == ["FR"] and "volume" not in fr
    assert by_id["870202"]["benefit"][0]["value"] == str(20 * GB) == "21474836480"
    assert by_id["870401"]["benefit"][0]["value"] == str(100 * MB) == "104857600"
    assert by_id["870301"]["subscription"]["activatedBy"] == "1"
    assert len(by_id["870301"]["countries"]) >= 75
    eu = set(by_id["870201"]["countries"])
    assert {"FR", "ES", "IT", "DE", "PT", "NL", "BE", "AT", "CH", "GR", "GB", "IE"} <= eu
    assert 30 <= len(eu) <= 40
    assert by_id["870302"]["validity"]["validityFactor"] == "60"
    one = sim_api.resp(sim_api.get("QueryRatePlan", planId="870132"))["responseParam"]["rows"]
    assert [r["basicInfo"]["planName"] for r in one] == ["USA 10 GB 30 days"]


def test_query_rate_plan_legacy_shape(sim_api: SimApi) -> None:
    """Legacy shape: the portal's older flat guess (docs/simulator.md#answer-shapes)."""
    assert sim_api.ctl("POST", "settings", {"shapes": "legacy"}).status_code == 200
    rows = sim_api.resp(sim_api.get("QueryRatePlan", planCategory="ADDON", planType=0))[
        "responseParam"
    ]["rows"]
    by_id = {r["planId"]: r for r in rows}
    fr = by_id["870101"]
    assert fr["planName"] == "France 1 GB 7 days" and fr["volume"] == "1073741824"
    assert fr["validity"] == {"validityType": "1", "validityFactor": "7"}
    assert (fr["activatedBy"], fr["activatedByName"]) == ("0", "On Usage")
    assert fr["countries"] == ["FR"] and fr["rateZone"]["name"] == "France"
    assert (fr["planCategory"], fr["planType"], fr["status"], fr["addOnPriority"]) == (
        "ADDON",
        "0",
        "Active",
        "1",
    )


def test_profile_status_spelling_by_shape(sim_api: SimApi) -> None:
    """``eSimProfileStatus`` (published: "eSimProfileStatus options (installed, downloaded,
    enabled, disabled, deleted, error)", release 4.13) in documented mode; the older
    ``esimProfileStatus`` in legacy mode, on fetchSIM rows and the profile's basicInfo."""
    row = all_rows(sim_api, perPage=1)[0]
    prof = sim_api.resp(sim_api.get("GetEndPointProfile", endPointId=row["endPointId"]))
    assert row["eSimProfileStatus"] == "released" and "esimProfileStatus" not in row
    assert prof["info"]["basicInfo"]["eSimProfileStatus"] == "released"
    assert sim_api.ctl("POST", "settings", {"shapes": "legacy"}).status_code == 200
    row = all_rows(sim_api, perPage=1)[0]
    prof = sim_api.resp(sim_api.get("GetEndPointProfile", endPointId=row["endPointId"]))
    assert row["esimProfileStatus"] == "released" and "eSimProfileStatus" not in row
    assert prof["info"]["basicInfo"]["esimProfileStatus"] == "released"


# --------------------------------------------------------------------------- add-ons
def test_subscribe_addon_response_and_details(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    sim_api.activate(ep)
    r = sim_api.subscribe(ep, "870101")
    assert (r["resultCode"], r["resultParam"]) == (
        "0",
        {"resultCode": "0", "resultDescription": "Addon subscribed successfully"},
    )
    p = r["responseParam"]
    uid = p["addonDetails"]["uniqueId"]
    assert uid == "7000001" and p["addonDetails"]["planId"] == "870101"
    assert p["addonDetails"]["endPointId"] == ep
    assert p["promotionalPlan"]["planName"] == "France 1 GB 7 days"
    assert p["benefit"][0]["actualBalance"] == "1073741824" and p["counter"]
    # endPointId top-level and numeric planId are accepted too; uniqueIds are monotonic.
    body = {"Request": {"endPointId": int(ep), "requestParam": {"planId": 870111}}}
    r2 = sim_api.resp(sim_api.post("SubscribeAddon", body))
    assert r2["responseParam"]["addonDetails"]["uniqueId"] == "7000002"
    rows = sim_api.addons(endPointId=ep)
    assert [x["uniqueId"] for x in rows] == ["7000001", "7000002"]
    row = rows[0]
    assert row == {
        **row,
        "addonId": "870101",
        "planId": "870101",
        "planName": "France 1 GB 7 days",
        "endPointId": ep,
        "service": "DATA",
        "status": "Subscribed",
        "activatedBy": "0",
        "activatedByName": "On Usage",
        "priority": "1",
        "startDate": "-",
        "expiryDate": "-",
        "validity": "7",
        "initialVolume": "1073741824",
        "remainingVolume": "1073741824",
        "usedVolume": "0",
        "unit": "BYTES",
    }
    assert [x["uniqueId"] for x in sim_api.addons(uniqueId="7000002")] == ["7000002"]
    assert [x["uniqueId"] for x in sim_api.addons(addonId="870111")] == ["7000002"]
    assert [x["uniqueId"] for x in sim_api.addons(endPointId=ep, addonId="870101")] == ["7000001"]
    assert sim_api.addons(uniqueId="999") == []
    # Alias path.
    alias = sim_api.resp(sim_api.get("GetEndpointAddon", endPointId=ep))
    assert len(alias["responseParam"]["rows"]) == 2
    # 1359 when no selector is given; unknown endpoint -> 1359 too.
    r = sim_api.resp(sim_api.get("GetEndpointAddonDetails"))
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("1", "1359")
    r = sim_api.resp(sim_api.get("GetEndpointAddonDetails", endPointId="999999"))
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("1", "1359")
    # Unknown plan.
    r = sim_api.subscribe(ep, "123456")
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("1", "9011")


def test_addon_on_pre_active_and_suspended(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    r = sim_api.subscribe(ep, "870401")  # Immediate, while Pre-Active: waits for activation
    assert r["resultCode"] == "0"
    row = sim_api.addons(endPointId=ep)[0]
    assert (row["status"], row["startDate"]) == ("Subscribed", "-")
    sub = datetime.strptime(row["subscriptionDate"], FMT)
    sim_api.advance(3600)
    sim_api.activate(ep)
    row = sim_api.addons(endPointId=ep)[0]
    start = datetime.strptime(row["startDate"], FMT)
    assert row["status"] == "Active"
    assert timedelta(seconds=3599) <= start - sub <= timedelta(seconds=3605)
    assert datetime.strptime(row["expiryDate"], FMT) - start == timedelta(days=1)
    body = {"Request": {"endPointId": ep, "requestParam": {"lifeCycle": "S", "reason": "1"}}}
    sim_api.post("EndPointLifeCycleChange", body)
    assert sim_api.subscribe(ep, "870101")["resultCode"] == "0"  # allowed on Suspended


def test_immediate_vs_on_usage_and_draw_order(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    sim_api.activate(ep)
    fr = sim_api.subscribe(ep, "870101")["responseParam"]["addonDetails"]["uniqueId"]
    gl = sim_api.subscribe(ep, "870301")["responseParam"]["addonDetails"]
    assert gl["status"] == "Active" and gl["startDate"] == gl["subscriptionDate"]
    assert datetime.strptime(gl["expiryDate"], FMT) - datetime.strptime(
        gl["startDate"], FMT
    ) == timedelta(days=30)
    out = sim_api.consume(ep, MB)
    assert (out["billedBytes"], out["unbilledBytes"]) == (MB, 0)
    rows = {r["uniqueId"]: r for r in sim_api.addons(endPointId=ep)}
    # The started Immediate add-on is drawn first; the older On Usage one keeps waiting.
    assert rows[fr]["status"] == "Subscribed" and rows[fr]["remainingVolume"] == "1073741824"
    assert rows[gl["uniqueId"]]["remainingVolume"] == str(3 * GB - MB) == "3220176896"
    assert rows[gl["uniqueId"]]["usedVolume"] == "1048576"
    # Exhaust the Global add-on: 3 GB - 1 MB left; 3 GB more -> the France one starts (1 MB).
    out = sim_api.consume(ep, 3 * GB)
    assert out["billedBytes"] == 3 * GB
    rows = {r["uniqueId"]: r for r in sim_api.addons(endPointId=ep)}
    assert rows[gl["uniqueId"]]["status"] == "Exhausted"
    assert rows[gl["uniqueId"]]["remainingVolume"] == "0"
    assert rows[fr]["status"] == "Active" and rows[fr]["usedVolume"] == "1048576"
    assert rows[fr]["remainingVolume"] == "1072693248"
    start = datetime.strptime(rows[fr]["startDate"], FMT)
    assert datetime.strptime(rows[fr]["expiryDate"], FMT) - start == timedelta(days=7)


def test_age_order_and_waiting_after_exhaustion(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    sim_api.activate(ep)
    a = sim_api.subscribe(ep, "870101")["responseParam"]["addonDetails"]["uniqueId"]
    b = sim_api.subscribe(ep, "870111")["responseParam"]["addonDetails"]["uniqueId"]
    sim_api.consume(ep, GB + GB // 2)  # 1.5 GB: France 1 GB (older) then Spain 0.5 GB
    rows = {r["uniqueId"]: r for r in sim_api.addons(endPointId=ep)}
    assert (rows[a]["status"], rows[a]["remainingVolume"]) == ("Exhausted", "0")
    assert (rows[b]["status"], rows[b]["remainingVolume"]) == ("Active", "2684354560")
    prof = sim_api.resp(sim_api.get("GetEndPointProfile", endPointId=ep))["info"]
    # The profile lists live add-ons only.
    assert [p["uniqueId"] for p in prof["promotionalPlans"]["plan"]] == [b]
    ben = prof["benefitInfo"]["benefit"][0]
    assert (ben["actualBalance"], ben["balance"], ben["name"]) == (
        "3221225472",
        "2684354560",
        "DATA",
    )


def test_expiry_via_clock_and_waiting_start_after_expiry(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    sim_api.activate(ep)
    t = sim_api.subscribe(ep, "870401")["responseParam"]["addonDetails"]["uniqueId"]
    f = sim_api.subscribe(ep, "870101")["responseParam"]["addonDetails"]["uniqueId"]
    sim_api.consume(ep, 10 * MB)
    rows = {r["uniqueId"]: r for r in sim_api.addons(endPointId=ep)}
    assert rows[t]["remainingVolume"] == "94371840" and rows[f]["status"] == "Subscribed"
    sim_api.advance(86_400 + 1)
    rows = {r["uniqueId"]: r for r in sim_api.addons(endPointId=ep)}
    assert rows[t]["status"] == "Expired" and rows[t]["remainingVolume"] == "94371840"
    clock = datetime.strptime(sim_api.ctl("GET", "clock").json()["now"], FMT)
    sim_api.consume(ep, 5 * MB)
    rows = {r["uniqueId"]: r for r in sim_api.addons(endPointId=ep)}
    assert rows[f]["status"] == "Active"
    assert rows[f]["remainingVolume"] == str(GB - 5 * MB) == "1068498944"
    start = datetime.strptime(rows[f]["startDate"], FMT)
    assert timedelta(0) <= start - clock <= timedelta(seconds=3)
    assert datetime.strptime(rows[f]["expiryDate"], FMT) - start == timedelta(days=7)
    sim_api.advance(7 * 86_400)
    assert {r["uniqueId"]: r for r in sim_api.addons(endPointId=ep)}[f]["status"] == "Expired"


def test_max_fifteen_live_addons(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    sim_api.activate(ep)
    for _ in range(15):
        assert sim_api.subscribe(ep, "870401")["resultCode"] == "0"
    r = sim_api.subscribe(ep, "870101")
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("1", "9010")
    assert "15" in r["resultParam"]["resultDescription"]
    patch = {"Request": {"endPointId": ep, "requestParam": {"addAddonPlanIds": ["870101"]}}}
    assert sim_api.resp(sim_api.patch("endpoint", patch))["resultParam"]["resultCode"] == "9010"
    # Removing one frees a slot.
    first = sim_api.addons(endPointId=ep)[0]["uniqueId"]
    body = {"Request": {"requestParam": {"endPointId": ep, "action": "REMOVE", "uniqueId": first}}}
    r = sim_api.resp(sim_api.post("SubscribeAddon", body))
    assert (r["resultCode"], r["resultParam"]["resultDescription"]) == (
        "0",
        "Addon removed successfully",
    )
    assert sim_api.addons(uniqueId=first)[0]["status"] == "Deactivated"
    assert sim_api.resp(sim_api.post("SubscribeAddon", body))["resultParam"]["resultCode"] == "9012"
    assert sim_api.subscribe(ep, "870101")["resultCode"] == "0"
    assert sim_api.subscribe(ep, "870101")["resultParam"]["resultCode"] == "9010"
    # After the 1-day add-ons expire, only the On Usage one is live: room again.
    sim_api.advance(86_400)
    statuses = [r["status"] for r in sim_api.addons(endPointId=ep)]
    assert statuses.count("Expired") == 14 and statuses.count("Subscribed") == 1
    assert sim_api.subscribe(ep, "870102")["resultCode"] == "0"
    state = sim_api.ctl("GET", "state").json()
    assert state["subscriptionsPerEndpoint"] == {ep: 17}


def test_patch_endpoint_add_and_remove(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    body = {
        "Request": {"endPointId": ep, "requestParam": {"addAddonPlanIds": ["870101", "870201"]}}
    }
    r = sim_api.resp(sim_api.patch("endpoint", body))
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("0", "0")
    rows = sim_api.addons(endPointId=ep)
    assert [x["planId"] for x in rows] == ["870101", "870201"]
    body = {
        "Request": {
            "endPointId": ep,
            "requestParam": {"removeAddonUniqueIds": [rows[0]["uniqueId"]], "addAddonPlanIds": []},
        }
    }
    assert sim_api.resp(sim_api.patch("endpoint", body))["resultCode"] == "0"
    assert [x["status"] for x in sim_api.addons(endPointId=ep)] == ["Deactivated", "Subscribed"]
    body["Request"]["requestParam"]["addAddonPlanIds"] = ["000000"]
    r = sim_api.resp(sim_api.patch("endpoint", body))
    assert r["resultCode"] == "1"
    assert len(sim_api.addons(endPointId=ep)) == 2  # all-or-nothing


def test_rating_delay_hides_usage(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    sim_api.activate(ep)
    uid = sim_api.subscribe(ep, "870101")["responseParam"]["addonDetails"]["uniqueId"]
    assert sim_api.ctl("POST", "settings", {"rating_delay_seconds": 600}).status_code == 200
    out = sim_api.consume(ep, 10 * MB, date="20250101")
    assert out["billedBytes"] == 10 * MB
    row = sim_api.addons(uniqueId=uid)[0]
    assert (row["status"], row["remainingVolume"], row["startDate"]) == (
        "Subscribed",
        "1073741824",
        "-",
    )
    stats = sim_api.resp(
        sim_api.get("GetStatistics", endPointId=ep, from_date="20250101", to_date="20250131")
    )["responseParam"]
    assert stats["dataUsage"] == [] and stats["dataTotalUsage"]["totalVolume"] == "0.000"
    sim_api.advance(599)
    assert sim_api.addons(uniqueId=uid)[0]["usedVolume"] == "0"
    sim_api.advance(2)
    row = sim_api.addons(uniqueId=uid)[0]
    assert (row["status"], row["usedVolume"]) == ("Active", "10485760")
    stats = sim_api.resp(
        sim_api.get("GetStatistics", endPointId=ep, from_date="20250101", to_date="20250131")
    )["responseParam"]
    # 10 MB: uplink = 10485760 // 10 = 1048576 bytes = 1.000 MB; downlink 9.000 MB.
    assert stats["dataUsage"] == [
        {"date": "20250101", "uplink": "1.000", "downlink": "9.000", "totalVolume": "10.000"}
    ]
    assert stats["dataTotalUsage"] == {
        "uplink": "1.000",
        "downlink": "9.000",
        "totalVolume": "10.000",
    }
    assert stats["simulated"] == "true"


def test_statistics_and_unbilled_traffic(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    out = sim_api.consume(ep, MB)  # Pre-Active: refused
    assert (out["accepted"], out["billedBytes"], out["unbilledBytes"]) == (False, 0, MB)
    sim_api.activate(ep)
    out = sim_api.consume(ep, MB)  # Active but no add-on: refused
    assert (out["accepted"], out["billedBytes"]) == (False, 0)
    sim_api.subscribe(ep, "870401")  # 100 MB
    out = sim_api.consume(ep, 150 * MB, date="20250310")
    assert (out["billedBytes"], out["unbilledBytes"]) == (104_857_600, 52_428_800)
    sim_api.consume(ep, 0, date="20250311")
    stats = sim_api.resp(
        sim_api.get("GetStatistics", endPointId=ep, from_date="20250301", to_date="20250331")
    )["responseParam"]
    # 100 MB billed: uplink 10485760 bytes = 10.000 MB, downlink 90.000 MB.
    assert stats["dataUsage"] == [
        {"date": "20250310", "uplink": "10.000", "downlink": "90.000", "totalVolume": "100.000"}
    ]
    empty = sim_api.resp(
        sim_api.get("GetStatistics", endPointId=ep, from_date="20250311", to_date="20250401")
    )["responseParam"]
    assert empty["dataUsage"] == []
    bad = sim_api.resp(
        sim_api.get("GetStatistics", endPointId=ep, from_date="2025-03-01", to_date="x")
    )
    assert (bad["resultCode"], bad["resultParam"]["resultCode"]) == ("1", "1001")
    unknown = sim_api.resp(
        sim_api.get("GetStatistics", endPointId="1", from_date="20250301", to_date="20250331")
    )
    assert unknown["resultParam"]["resultCode"] == "1359"
    summary = sim_api.ctl("GET", "state").json()["usage"]
    assert summary["billedBytes"] == 104_857_600
    assert summary["unbilledBytes"] == 2 * MB + 52_428_800


# --------------------------------------------------------------------------- controls
def test_profile_status_control_and_state(sim_api: SimApi) -> None:
    row = all_rows(sim_api, perPage=1)[0]
    r = sim_api.ctl("POST", "profile-status", {"iccid": row["iccid"], "status": "installed"})
    assert r.status_code == 200 and r.json()["esimProfileStatus"] == "installed"
    assert all_rows(sim_api, iccid=row["iccid"])[0]["eSimProfileStatus"] == "installed"
    r = sim_api.ctl(
        "POST", "profile-status", {"endPointId": row["endPointId"], "status": "ENABLED"}
    )
    assert r.json()["previousStatus"] == "installed"
    prof = sim_api.resp(sim_api.get("GetEndPointProfile", endPointId=row["endPointId"]))
    assert prof["info"]["basicInfo"]["eSimProfileStatus"] == "enabled"
    assert prof["info"]["basicInfo"]["iccid"] == row["iccid"]
    assert prof["info"]["basicInfo"]["eid"] == row["eid"]
    assert (
        sim_api.ctl("POST", "profile-status", {"iccid": row["iccid"], "status": "x"}).status_code
        == 400
    )
    assert (
        sim_api.ctl("POST", "profile-status", {"iccid": "1", "status": "error"}).status_code == 404
    )
    state = sim_api.ctl("GET", "state").json()
    assert state["sims"]["byStatus"] == {"Pre-Active": 200}
    assert state["esimProfileStatus"] == {"enabled": 1, "released": 199}
    assert state["calls"]["fetchsim"] >= 2 and state["calls"]["login"] == 1
    calls = sim_api.ctl("GET", "calls?limit=2").json()["calls"]
    assert len(calls) == 2 and calls[-1]["operation"] == "getendpointprofile"


def test_reset_reseeds(sim_api: SimApi) -> None:
    ep = sim_api.first_free_endpoint()
    sim_api.activate(ep)
    sim_api.advance(1000)
    r = sim_api.ctl("POST", "reset", {"esims": 5})
    assert r.status_code == 200
    p = sim_api.resp(sim_api.get("fetchSIM", perPage=250))["responseParam"]
    assert p["totalCount"] == "5" and {x["simStatus"] for x in p["rows"]} == {"Pre-Active"}
    assert sim_api.ctl("GET", "clock").json()["offsetSeconds"] == 0.0
    assert sim_api.ctl("POST", "reset", {"esims": 10001}).status_code == 400


def test_bad_input(sim_api: SimApi) -> None:
    r = sim_api.http.post(
        "/api/EndPointActivation", content=b"{not json", headers=sim_api.headers()
    )
    assert r.status_code == 400
    assert r.json()["Response"]["resultCode"] == "1"
    assert r.headers["X-Rate-Limit-TPS"] == "0"
    for body in (
        {},
        {"Request": {}},
        {"Request": {"endPointId": {"x": 1}}},
        [1, 2],
        {"Request": 5},
    ):
        r = sim_api.post("EndPointActivation", body)
        assert r.status_code == 200, body
        assert sim_api.resp(r)["resultParam"]["resultCode"] == "1001", body
    r = sim_api.resp(sim_api.post("EndPointActivation", {"Request": {"endPointId": "424242"}}))
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("1", "1359")
    r = sim_api.resp(sim_api.get("GetEndPointProfile", endPointId="424242"))
    assert (r["resultCode"], r["resultParam"]["resultCode"]) == ("1", "1359")
    r = sim_api.resp(sim_api.get("GetEndPointProfile"))
    assert r["resultParam"]["resultCode"] == "1001"
    r = sim_api.resp(
        sim_api.post("SubscribeAddon", {"Request": {"requestParam": {"planId": "870101"}}})
    )
    assert r["resultParam"]["resultCode"] == "1001"
    r = sim_api.resp(sim_api.post("SubscribeAddon", {"Request": {"endPointId": True, "planId": 1}}))
    assert r["resultParam"]["resultCode"] == "1001"
    r = sim_api.resp(sim_api.get("fetchSIM", page=0))
    assert r["resultParam"]["resultCode"] == "1001"
    r = sim_api.http.get("/api/NoSuchThing", headers=sim_api.headers())
    assert r.status_code == 404 and r.json()["Response"]["resultCode"] == "1"
    assert "X-Rate-Limit-TPS" in r.headers
    assert sim_api.http.get("/nothing").status_code == 404
    assert sim_api.http.get("/api/EndPointActivation", headers=sim_api.headers()).status_code == 405
    assert sim_api.ctl("POST", "consume", {"endPointId": "1", "bytes": 5}).status_code == 404
    assert (
        sim_api.ctl("POST", "consume", {"endPointId": "50000001", "bytes": -5}).status_code == 400
    )
    assert sim_api.ctl("POST", "consume", {"bytes": 5}).status_code == 400
    assert sim_api.ctl("POST", "clock/advance", {"seconds": "x"}).status_code == 400
    assert sim_api.ctl("GET", "nope").status_code == 404
    r = sim_api.http.post("/_sim/consume", content=b"[")
    assert r.status_code == 400


def test_in_process_asgi_transport(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from travelsim.sft_simulator import SimulatorConfig, create_app

    async def run() -> None:
        app = create_app(SimulatorConfig(db_path=tmp_path / "inproc.db", seed_esims=3))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sft.sim") as c:
            r = await c.post("/api/login", json={"username": "demo", "password": "demo"})
            assert r.status_code == 200 and r.headers["X-Rate-Limit-TPS"] == "2"
            h = {"X-Authorization": f"Bearer {r.json()['AccessToken']}"}
            r = await c.get("/api/fetchSIM", params={"simStatusId": 12}, headers=h)
            assert r.json()["Response"]["responseParam"]["totalCount"] == "3"

    asyncio.run(run())


def test_server_fixture_exposes_simulator(sim_server: SimServer) -> None:
    assert sim_server.simulator.config.seed_esims == 200


def test_consume_by_iccid(sim_api: SimApi) -> None:
    # The traveler's eSIM page shows the ICCID, not the endpoint: consume accepts either.
    ep = sim_api.first_free_endpoint()
    sim_api.activate(ep)
    sim_api.subscribe(ep, "870101")
    rows = sim_api.resp(sim_api.get("fetchSIM", page=1, perPage=250))["responseParam"]["rows"]
    iccid = next(r["iccid"] for r in rows if r["endPointId"] == ep)
    r = sim_api.ctl("POST", "consume", {"iccid": iccid, "bytes": MB})
    assert r.status_code == 200, r.text
    assert r.json()["endPointId"] == ep and r.json()["billedBytes"] == MB
    assert sim_api.ctl("POST", "consume", {"iccid": "89320000", "bytes": 1}).status_code == 404
    assert sim_api.ctl("POST", "consume", {"bytes": 1}).status_code == 400

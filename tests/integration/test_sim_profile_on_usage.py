"""Simulator: data used on an eSIM whose profile was never downloaded first brings the profile
to ``enabled``, through ``downloaded`` and ``installed`` (the order in which a phone takes a
profile: download from the SM-DP+, install, enable), and the callback stream reports each step.

A profile that was never downloaded cannot carry traffic, so the simulator may not show
"data used" next to a profile still ``released``.
"""

from __future__ import annotations

import json
from typing import Any

from sim_fixtures import SimApi

MB = 1_048_576
# A loopback port nothing listens on: batches fail (no retry) but are kept with their body.
NOWHERE = "http://127.0.0.1:9/callbacks/sft"


def _profile(sim_api: SimApi, endpoint_id: str) -> str:
    r = sim_api.get("fetchSIM", endPointId=endpoint_id, page=1, perPage=250)
    rows = sim_api.resp(r)["responseParam"]["rows"]
    (row,) = [x for x in rows if x["endPointId"] == endpoint_id]
    return str(row["eSimProfileStatus"])


def _profile_events(sim_api: SimApi) -> list[dict[str, Any]]:
    """The profile events sent, in either answer shape (docs/simulator.md#answer-shapes), the
    status under ``esimProfileStatus``."""
    history = sim_api.ctl("GET", "callbacks").json()["history"]
    events = []
    for batch in history:
        body = batch["body"]
        if isinstance(body, list):  # documented: data-stream events, eSimProfileStatus
            for event in body:
                if event["eventType"] == "eSIM Profile Status":
                    events.append({**event, "esimProfileStatus": event["eSimProfileStatus"]})
            continue
        for note in body["Request"]["notification"]:
            if note["eventType"] == "eSIM Profile Status":
                events.append(json.loads(note["message"]))
    return events


def _active_with_addon(sim_api: SimApi) -> str:
    ep = sim_api.first_free_endpoint()
    sim_api.activate(ep)
    assert sim_api.subscribe(ep, "870301")["resultCode"] == "0"  # Global 3 GB, Immediate
    return ep


def test_data_used_on_a_released_profile_enables_it_in_order(sim_api: SimApi) -> None:
    sim_api.login()
    ep = _active_with_addon(sim_api)
    assert _profile(sim_api, ep) == "released"
    r = sim_api.ctl("POST", "callbacks", {"url": NOWHERE, "interval_seconds": 3600})
    assert r.status_code == 200

    out = sim_api.consume(ep, 10 * MB)
    assert out["billedBytes"] == 10 * MB
    assert _profile(sim_api, ep) == "enabled"

    sim_api.ctl("POST", "callbacks/flush")
    steps = [(e["previousStatus"], e["esimProfileStatus"]) for e in _profile_events(sim_api)]
    assert steps == [
        ("released", "downloaded"),
        ("downloaded", "installed"),
        ("installed", "enabled"),
    ]
    sequences = [int(e["sequence"]) for e in _profile_events(sim_api)]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3
    assert {e["endPointId"] for e in _profile_events(sim_api)} == {ep}

    # Already enabled: more data changes nothing on the profile, and no profile event follows.
    sim_api.consume(ep, MB)
    sim_api.ctl("POST", "callbacks/flush")
    assert _profile(sim_api, ep) == "enabled"
    assert len(_profile_events(sim_api)) == 3


def test_installed_profile_only_takes_the_remaining_step(sim_api: SimApi) -> None:
    sim_api.login()
    ep = _active_with_addon(sim_api)
    r = sim_api.ctl("POST", "profile-status", {"endPointId": ep, "status": "installed"})
    assert r.status_code == 200
    sim_api.ctl("POST", "callbacks", {"url": NOWHERE, "interval_seconds": 3600})
    sim_api.consume(ep, MB)
    sim_api.ctl("POST", "callbacks/flush")
    assert _profile(sim_api, ep) == "enabled"
    steps = [(e["previousStatus"], e["esimProfileStatus"]) for e in _profile_events(sim_api)]
    assert steps == [("installed", "enabled")]


def test_traffic_that_is_not_billed_leaves_the_profile_alone(sim_api: SimApi) -> None:
    sim_api.login()
    ep = sim_api.first_free_endpoint()
    # Pre-Active endpoint: traffic refused, nothing billed.
    assert sim_api.consume(ep, MB)["billedBytes"] == 0
    assert _profile(sim_api, ep) == "released"
    # Active without an add-on: nothing can carry it, nothing billed.
    sim_api.activate(ep)
    assert sim_api.consume(ep, MB)["billedBytes"] == 0
    assert _profile(sim_api, ep) == "released"

"""``sft check`` (docs/sft-platform.md#self-check) against the simulator over real HTTP: in its
documented shapes (everything as expected), in its legacy shapes (understood, reported as
answered differently), with nothing to inspect (exit 3), with a required field missing
(exit 1), as a CLI process, and never sending a state-changing request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sim_fixtures import SimApi, SimServer

from travelsim.sft import LocalRateBudget, Priority, SFTClient, wire
from travelsim.sft.selfcheck import (
    FieldOutcome,
    Outcome,
    ReadOnlyViolation,
    RecordingTransport,
    exit_status,
    format_report,
    mask_shape,
    run_check,
)

PLAN_ID = "870101"  # a seeded add-on plan of the simulator (docs/simulator.md#seed-inventory)
ROOT = Path(__file__).resolve().parents[2]


def _endpoint_in_use(server: SimServer) -> str:
    """An Active endpoint with a live add-on and some usage, made through the simulator's API."""
    api = SimApi(server.url)
    try:
        assert api.login().status_code == 200
        endpoint = api.first_free_endpoint()
        assert api.activate(endpoint)["resultCode"] == "0"
        assert api.subscribe(endpoint, PLAN_ID)["resultCode"] == "0"
        api.consume(endpoint, 50 * 1_048_576)
        return endpoint
    finally:
        api.close()


def _client(url: str, recorder: RecordingTransport) -> SFTClient:
    return SFTClient(
        url,
        "demo",
        "demo",
        rate_budget=LocalRateBudget(100.0),
        transport=recorder,
        retry_backoff=0.01,
    )


async def _check(
    url: str,
    endpoint: str | None,
    inner: httpx.AsyncBaseTransport | None = None,
) -> tuple[Any, RecordingTransport]:
    recorder = RecordingTransport(
        inner or httpx.AsyncHTTPTransport(), wire.DEFAULT_ADDON_DETAILS_PATH
    )
    async with _client(url, recorder) as client:
        report = await run_check(client, recorder, endpoint_id=endpoint)
    return report, recorder


def _by_path(report: Any) -> dict[tuple[str, str], Any]:
    return {(f.expectation.operation, f.expectation.path): f for f in report.fields}


async def test_documented_shapes_are_all_as_expected(
    sim_server_factory: Callable[..., SimServer],
) -> None:
    server = sim_server_factory(shapes="documented")
    endpoint = _endpoint_in_use(server)
    report, _ = await _check(server.url, endpoint)
    assert [c.operation for c in report.calls] == [
        "login",
        "RefreshToken",
        "fetchSIM",
        "QueryRatePlan",
        "GetEndPointProfile",
        "GetEndpointAddonDetails",
        "GetStatistics",
    ]
    assert {c.outcome for c in report.calls} == {Outcome.UNDERSTOOD}
    outcomes = {f.expectation.path: f.outcome for f in report.fields}
    assert set(outcomes.values()) == {FieldOutcome.EXPECTED}, outcomes
    assert exit_status(report) == 0
    text = format_report(report)
    assert "Result: everything checked was understood (exit 0)" in text
    # Identifiers never printed: the inspected endpoint is shown masked.
    assert endpoint not in text
    assert f"endpoint inspected: ••••{endpoint[-4:]} (given with --endpoint)" in text
    assert "answered differently: found only where the portal also looks" in text  # legend


async def test_legacy_shapes_are_understood_and_reported_as_different(
    sim_server_factory: Callable[..., SimServer],
) -> None:
    server = sim_server_factory(shapes="legacy")
    endpoint = _endpoint_in_use(server)
    report, _ = await _check(server.url, endpoint)
    assert exit_status(report) == 0  # understood: the portal reads its older guesses too
    fields = _by_path(report)
    rows = "Response.responseParam.rows[]"
    plan_id = fields[("QueryRatePlan", f"{rows}.basicInfo.planId")]
    assert plan_id.outcome == FieldOutcome.DIFFERENT
    assert plan_id.seen_at == f"{rows}.planId"
    shape = json.loads(plan_id.shape)
    assert shape["planCategory"] == "ADDON"  # an enumeration: shown
    assert shape["planId"] == "<digits, 6 chars>"  # an identifier: masked
    assert fields[("QueryRatePlan", f"{rows}.benefit[].value")].seen_at == f"{rows}.volume"
    profile = fields[("GetEndPointProfile", "Response.info.basicInfo.eSimProfileStatus")]
    assert profile.outcome == FieldOutcome.DIFFERENT
    assert profile.seen_at == "Response.info.basicInfo.esimProfileStatus"
    fetch = fields[("fetchSIM", f"{rows}.eSimProfileStatus")]
    assert fetch.outcome == FieldOutcome.DIFFERENT
    assert "answered differently" in format_report(report)


async def test_the_report_says_how_the_endpoint_was_chosen(
    sim_server_factory: Callable[..., SimServer],
) -> None:
    """Without --endpoint the first endpoint in use on fetchSIM page 1 is inspected; with none
    in use yet (every seeded eSIM is Pre-Active), the first linked one, and the report says
    that its add-ons and usage may be empty."""
    fresh = sim_server_factory()
    report, _ = await _check(fresh.url, None)
    assert report.endpoint_id is not None
    assert "first linked on fetchSIM page 1; none there is in use" in format_report(report)
    server = sim_server_factory()
    endpoint = _endpoint_in_use(server)
    report, _ = await _check(server.url, None)
    assert report.endpoint_id == endpoint
    text = format_report(report)
    assert f"endpoint inspected: ••••{endpoint[-4:]} (first in use on fetchSIM page 1)" in text


async def test_no_linked_endpoint_means_some_checks_could_not_run(
    sim_server_factory: Callable[..., SimServer],
) -> None:
    server = sim_server_factory(seed_esims=0)  # an account with no SIM yet
    report, _ = await _check(server.url, None)
    not_run = [c.operation for c in report.calls if c.outcome == Outcome.NOT_RUN]
    assert not_run == ["GetEndPointProfile", "GetEndpointAddonDetails", "GetStatistics"]
    assert exit_status(report) == 3
    assert "Run again with --endpoint ID" in format_report(report)


async def test_an_unknown_endpoint_is_a_check_that_could_not_run(
    sim_server_factory: Callable[..., SimServer],
) -> None:
    # The platform answers 1359 (no data) for an endpoint it does not know: nothing to judge,
    # which is not a misunderstanding of the platform.
    server = sim_server_factory()
    report, _ = await _check(server.url, "99999999")
    assert exit_status(report) == 3
    assert not any(f.outcome == FieldOutcome.MISSING for f in report.fields)
    assert any("answered 1359 (no data)" in line for line in report.not_run)


class _DropField(httpx.AsyncBaseTransport):
    """The platform answering fetchSIM rows without ``iccid`` (a field the portal needs)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        if request.url.path.lower() != wire.FETCH_SIM.path.lower():
            return httpx.Response(response.status_code, headers=response.headers, content=content)
        body = json.loads(content)
        for row in body["Response"]["responseParam"]["rows"]:
            row.pop("iccid", None)
        return httpx.Response(response.status_code, json=body)


async def test_a_required_field_missing_is_a_misunderstanding(
    sim_server_factory: Callable[..., SimServer],
) -> None:
    server = sim_server_factory()
    endpoint = _endpoint_in_use(server)
    report, _ = await _check(server.url, endpoint, _DropField(httpx.AsyncHTTPTransport()))
    fetch = next(c for c in report.calls if c.operation == "fetchSIM")
    assert fetch.outcome == Outcome.MISUNDERSTOOD
    iccid = _by_path(report)[("fetchSIM", "Response.responseParam.rows[].iccid")]
    assert iccid.outcome == FieldOutcome.MISSING
    assert exit_status(report) == 1
    assert "(exit 1)" in format_report(report)


async def test_a_missing_addon_details_path_is_the_profile_fallback(
    sim_server_factory: Callable[..., SimServer],
) -> None:
    server = sim_server_factory()
    endpoint = _endpoint_in_use(server)
    server.simulator.addon_details_served = False  # answers like an unknown path (HTTP 404)
    report, _ = await _check(server.url, endpoint)
    addons = next(c for c in report.calls if c.operation == "GetEndpointAddonDetails")
    assert addons.outcome == Outcome.FALLBACK and addons.http_status == 404
    assert "reads add-ons from GetEndPointProfile" in addons.detail
    assert exit_status(report) == 0


class _Counting(httpx.AsyncBaseTransport):
    """A platform that lets the login in and counts every other request it receives."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == wire.LOGIN.path:
            return httpx.Response(200, json={"AccessToken": "a", "RefreshToken": "r"})
        self.sent.append(request.url.path)
        return httpx.Response(200, json={"Response": {"resultCode": "0"}})


async def test_state_changing_requests_are_refused_before_sending() -> None:
    inner = _Counting()
    recorder = RecordingTransport(inner, wire.DEFAULT_ADDON_DETAILS_PATH)
    for op in (wire.SUBSCRIBE_ADDON, wire.ENDPOINT_LIFECYCLE_CHANGE, wire.MODIFY_ENDPOINT):
        request = httpx.Request(op.method, f"https://sft.example{op.path}", json={})
        with pytest.raises(ReadOnlyViolation):
            await recorder.handle_async_request(request)
    # Through the client too: an attempt to subscribe never reaches the platform.
    async with _client("https://sft.example", recorder) as client:
        with pytest.raises(ReadOnlyViolation):
            await client.subscribe_addon("12345678", PLAN_ID, priority=Priority.SYNC)
    assert inner.sent == []  # nothing but the login reached the platform


def test_mask_shape_hides_identifiers_and_keeps_enumerations() -> None:
    # A fetchSIM row as a public production client reads it (docs/sft-platform.md#fetchsim).
    row = {
        "iccid": "8932042000001234567",
        "endPointId": "-",
        "simStatus": "Ready To Activate",
        "activationCode": {"matchingId": "QR-G-5C-1LS-1W1Z9P7"},
        "totalCount": 1,
    }
    assert mask_shape(row) == {
        "iccid": "<digits, 19 chars>",
        "endPointId": "<text, 1 chars>",
        "simStatus": "Ready To Activate",
        "activationCode": {"matchingId": "<text, 19 chars>"},
        "totalCount": 1,
    }


def test_the_cli_checks_a_platform_over_http(
    sim_server_factory: Callable[..., SimServer], tmp_path: Path
) -> None:
    server = sim_server_factory()
    endpoint = _endpoint_in_use(server)
    # Production (APP_ENV unset): the check needs no start-up checks and no database.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_ENV", "SFT_"))}
    env["DATA_DIR"] = str(tmp_path / "data")
    command = [sys.executable, "-m", "travelsim.cli", "sft", "check"]
    run = subprocess.run(
        [*command, "--url", server.url, "--endpoint", endpoint],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"SFT self-check against {server.url}" in run.stdout
    assert "Result: everything checked was understood (exit 0)" in run.stdout
    assert not (tmp_path / "data" / "travelsim.db").exists()  # no database touched
    missing = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert missing.returncode == 2 and "give --url or set SFT_BASE_URL" in missing.stdout

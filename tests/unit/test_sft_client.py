"""SFTClient behaviour against a scripted in-memory platform (httpx.MockTransport).

Contract tests against the real simulator over a socket live in
tests/integration/test_sft_client_contract.py; these pin the client's own rules: headers,
token scheduling, the retry/outcome-unknown policy, and what reaches the logs.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from travelsim.sft import (
    LocalRateBudget,
    Priority,
    SFTAuthError,
    SFTBusinessError,
    SFTClient,
    SFTMalformedOutcomeUnknown,
    SFTMalformedResponse,
    SFTOutcomeUnknown,
    SFTRateLimited,
    SFTTransportError,
)

P = Priority.PROVISIONING
PASSWORD = "pw-Secret-123"
MATCHING_ID = "ZZ99-YY88-XX77-WW66"


def jwt(claims: dict[str, Any]) -> str:
    def seg(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{seg({'alg': 'HS256'})}.{seg(claims)}.c2ln"


def ok(param: Any = None, code: str = "0", **top: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resultCode": "0",
        "resultParam": {"resultCode": code, "resultDescription": "Success"},
    }
    if param is not None:
        body["responseParam"] = param
    body.update(top)
    return {"Response": body}


def fail(code: str, description: str = "failed") -> dict[str, Any]:
    return {
        "Response": {
            "resultCode": "1",
            "resultParam": {"resultCode": code, "resultDescription": description},
        }
    }


SIM_ROW = {
    "simId": "1",
    "iccid": "8932075100000000012",
    "endPointId": "50000001",
    "simStatus": "Pre-Active",
    "simAttachStatus": "ATTACHED",
    "activationCode": {
        "textQrCode": f"LPA:1$smdp.sim.local${MATCHING_ID}",
        "smDpPlusAdress": "smdp.sim.local",
        "matchingId": MATCHING_ID,
    },
}

Script = Callable[[httpx.Request], httpx.Response | Exception | None]


class FakePlatform:
    """Issues tokens, serves scripted answers per operation, records every request."""

    def __init__(self, access_tokens: list[str] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.scripts: dict[str, list[Script]] = {}
        self.access_tokens = access_tokens or [f"access-{i}" for i in range(1, 100)]
        self.issued = 0
        self.valid: set[str] = set()

    def op(self, request: httpx.Request) -> str:
        return request.url.path.rsplit("/", 1)[-1]

    def count(self, op: str) -> int:
        return sum(1 for r in self.requests if self.op(r) == op)

    def script(self, op: str, *answers: Script) -> None:
        self.scripts.setdefault(op, []).extend(answers)

    def issue(self) -> httpx.Response:
        token = self.access_tokens[self.issued]
        self.issued += 1
        self.valid = {token}
        return httpx.Response(
            200, json={"AccessToken": token, "RefreshToken": f"refresh-{self.issued}"}
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        op = self.op(request)
        queue = self.scripts.get(op)
        if queue:
            answer = queue.pop(0)(request)
            if isinstance(answer, Exception):
                raise answer
            if answer is not None:
                return answer
        if op in ("login", "RefreshToken"):
            return self.issue()
        token = request.headers.get("X-Authorization", "").removeprefix("Bearer ")
        if token not in self.valid:
            return httpx.Response(401, json=fail("401", "Token expired"))
        if op == "fetchSIM":
            return httpx.Response(200, json=ok({"rows": [SIM_ROW], "totalCount": "1"}))
        if op == "SubscribeAddon":
            return httpx.Response(200, json=ok({"addonDetails": {"uniqueId": "7000001"}}))
        return httpx.Response(200, json=ok({}, code="5017"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(platform: FakePlatform, **kwargs: Any) -> SFTClient:
    kwargs.setdefault("retry_backoff", 0.001)
    kwargs.setdefault("retry_backoff_max", 0.002)
    kwargs.setdefault("rate_limit_backoff", 0.001)
    kwargs.setdefault("rate_limit_backoff_max", 0.002)
    kwargs.setdefault("rate_budget", LocalRateBudget(10_000))
    return SFTClient(
        "https://sft.example",
        "api-user",
        PASSWORD,
        transport=httpx.MockTransport(platform),
        **kwargs,
    )


def respond(status: int, body: Any = None, text: str | None = None, **headers: str) -> Script:
    def answer(_request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return answer


def raise_(exc: Exception) -> Script:
    return lambda request: exc


# --- headers, login -------------------------------------------------------------------------
async def test_headers_login_body_and_lazy_single_login() -> None:
    platform = FakePlatform()
    async with make_client(platform, target_account_id="41094429") as client:
        assert platform.requests == []  # lazy
        await client.fetch_sims(priority=P)
        await client.fetch_sims(priority=P)
    login, fetch, _ = platform.requests
    assert json.loads(login.content) == {
        "username": "api-user",
        "password": PASSWORD,
        "targetAccountId": "41094429",
    }
    assert "X-Authorization" not in login.headers
    assert fetch.headers["X-Authorization"] == "Bearer access-1"
    assert fetch.headers["X-Requested-With"] == "XMLHttpRequest"
    assert fetch.headers["Content-Type"] == "application/json"
    assert fetch.url.params["simStatusId"] == "12"
    assert fetch.url.params["simAttachStatusId"] == "1"
    assert platform.count("login") == 1


async def test_wrong_credentials_raise_auth_error() -> None:
    platform = FakePlatform()
    platform.script("login", respond(401, fail("401", "Invalid credentials")))
    async with make_client(platform) as client:
        with pytest.raises(SFTAuthError) as info:
            await client.fetch_sims(priority=P)
    assert info.value.http_status == 401
    assert PASSWORD not in str(info.value)


# --- token scheduling ------------------------------------------------------------------------
async def test_jwt_lifetime_drives_proactive_refresh_at_80_percent() -> None:
    platform = FakePlatform(access_tokens=[jwt({"iat": 5000, "exp": 5100}), "second"])
    clock = Clock()
    async with make_client(platform, clock=clock) as client:
        await client.fetch_sims(priority=P)
        clock.now += 79  # < 80 % of 100 s
        await client.fetch_sims(priority=P)
        assert platform.count("RefreshToken") == 0
        clock.now += 2  # > 80 %
        await client.fetch_sims(priority=P)
    refresh = next(r for r in platform.requests if platform.op(r) == "RefreshToken")
    assert refresh.method == "GET"
    assert refresh.headers["X-Authorization"] == "Bearer refresh-1"
    assert platform.count("login") == 1
    assert platform.requests[-1].headers["X-Authorization"] == "Bearer second"


async def test_opaque_token_assumes_15_minutes() -> None:
    platform = FakePlatform()
    clock = Clock()
    async with make_client(platform, clock=clock) as client:
        await client.fetch_sims(priority=P)
        clock.now += 0.8 * 900 - 1
        await client.fetch_sims(priority=P)
        assert platform.count("RefreshToken") == 0
        clock.now += 2
        await client.fetch_sims(priority=P)
        assert platform.count("RefreshToken") == 1


async def test_refused_refresh_falls_back_to_login() -> None:
    platform = FakePlatform()
    platform.script("RefreshToken", respond(401, fail("401", "Token expired")))
    clock = Clock()
    async with make_client(platform, clock=clock) as client:
        await client.fetch_sims(priority=P)
        clock.now += 800
        await client.fetch_sims(priority=P)
    assert platform.count("RefreshToken") == 1
    assert platform.count("login") == 2


@pytest.mark.parametrize("shape", ["http401", "http200"])
async def test_rejected_token_is_renewed_once_and_replayed(shape: str) -> None:
    platform = FakePlatform()
    status = 401 if shape == "http401" else 200
    async with make_client(platform) as client:
        await client.fetch_sims(priority=P)
        platform.script("SubscribeAddon", respond(status, fail("401", "Token expired")))
        result = await client.subscribe_addon("50000001", "870101", priority=P)
    assert result.unique_id == "7000001"
    assert platform.count("SubscribeAddon") == 2  # rejected once, replayed once
    assert platform.count("RefreshToken") == 1


async def test_token_rejected_after_every_reauthentication_raises_auth_error() -> None:
    platform = FakePlatform()
    reject = respond(401, fail("401", "Invalid token"))
    platform.script("fetchSIM", *[reject] * 10)
    async with make_client(platform) as client:
        with pytest.raises(SFTAuthError):
            await client.fetch_sims(priority=P)
    # The first try, then one replay after each of MAX_REAUTHENTICATIONS (3) renewals.
    assert platform.count("fetchSIM") == 4


async def test_token_rejected_twice_then_accepted_succeeds() -> None:
    platform = FakePlatform()
    reject = respond(401, fail("401", "Token expired"))
    platform.script("fetchSIM", reject, reject)
    async with make_client(platform) as client:
        rows, _ = await client.fetch_sims(priority=P)
    assert rows is not None
    assert platform.count("fetchSIM") == 3


# --- rate limiting ----------------------------------------------------------------------------
async def test_429_resends_the_same_post_until_accepted() -> None:
    platform = FakePlatform()
    limited = respond(429, fail("429", "API rate limit exceeded"), **{"X-Rate-Limit-TPS": "2"})
    platform.script("SubscribeAddon", limited, limited, limited)
    async with make_client(platform) as client:
        result = await client.subscribe_addon("50000001", "870101", priority=P)
        assert client.announced_tps == 2.0
    assert result.unique_id == "7000001"
    bodies = {r.content for r in platform.requests if platform.op(r) == "SubscribeAddon"}
    assert len(bodies) == 1 and platform.count("SubscribeAddon") == 4


async def test_429_past_the_bound_raises_rate_limited() -> None:
    platform = FakePlatform()
    platform.script("fetchSIM", *[respond(429, fail("429"))] * 4)
    async with make_client(platform, max_rate_limited=3) as client:
        with pytest.raises(SFTRateLimited):
            await client.fetch_sims(priority=P)


class RecordingBudget(LocalRateBudget):
    """A fast budget that remembers every penalty (seconds)."""

    def __init__(self) -> None:
        super().__init__(10_000)
        self.penalties: list[float] = []

    def penalize(self, seconds: float) -> None:
        self.penalties.append(seconds)
        super().penalize(seconds)


# The rate-limit shape a public production client (Telcon) detects besides HTTP 429: an HTTP 200
# failure envelope whose text says "rate limit", in any case (docs/sft-platform.md#rate-limit).
@pytest.mark.parametrize("text", ["Rate limit exceeded", "API RATE LIMIT reached"])
async def test_rate_limit_text_in_a_200_failure_is_resent_like_429(text: str) -> None:
    platform = FakePlatform()
    platform.script("SubscribeAddon", respond(200, fail("1", text)))
    budget = RecordingBudget()
    async with make_client(platform, rate_budget=budget) as client:
        result = await client.subscribe_addon("50000001", "870101", priority=P)
    assert result.unique_id == "7000001"
    bodies = [r.content for r in platform.requests if platform.op(r) == "SubscribeAddon"]
    assert len(bodies) == 2 and bodies[0] == bodies[1]  # the same POST, resent once
    assert budget.penalties == [0.001]  # make_client's rate_limit_backoff: the budget paused


async def test_rate_limit_text_past_the_bound_raises_rate_limited() -> None:
    platform = FakePlatform()
    platform.script("fetchSIM", *[respond(200, fail("1", "Rate limit exceeded"))] * 4)
    async with make_client(platform, max_rate_limited=3) as client:
        with pytest.raises(SFTRateLimited):
            await client.fetch_sims(priority=P)
    assert platform.count("fetchSIM") == 4


async def test_rate_limit_text_in_a_success_or_other_error_is_not_a_rate_limit() -> None:
    platform = FakePlatform()
    success = ok({"rows": [SIM_ROW]})
    success["Response"]["resultParam"]["resultDescription"] = "Success (rate limit 2 TPS)"
    platform.script("SubscribeAddon", respond(200, ok({"addonDetails": {"uniqueId": "7000002"}})))
    platform.script("fetchSIM", respond(200, success))
    platform.script("EndPointActivation", respond(200, fail("6420", "SIM not attached")))
    budget = RecordingBudget()
    async with make_client(platform, rate_budget=budget) as client:
        rows, _ = await client.fetch_sims(priority=P)
        with pytest.raises(SFTBusinessError):
            await client.activate_endpoint("50000001", priority=P)
    assert rows[0].iccid == SIM_ROW["iccid"]
    assert platform.count("fetchSIM") == 1 and platform.count("EndPointActivation") == 1
    assert budget.penalties == []


async def test_sim_status_reads_simstatus_and_unreadable_is_none() -> None:
    # fetchSIM row as production and third-party clients read it (docs/sft-platform.md#fetchsim).
    platform = FakePlatform()
    no_status = {k: v for k, v in SIM_ROW.items() if k != "simStatus"}
    platform.script(
        "fetchSIM",
        respond(200, ok({"rows": [SIM_ROW]})),
        respond(200, ok({"rows": [SIM_ROW]})),
        respond(200, ok({"rows": [no_status]})),
        respond(200, fail("1359", "No data available")),
    )
    async with make_client(platform) as client:
        iccid = "8932075100000000012"
        assert await client.sim_status(iccid, endpoint_id="50000001", priority=P) == "Pre-Active"
        assert await client.sim_status(iccid, endpoint_id="50000002", priority=P) is None
        assert await client.sim_status(iccid, priority=P) is None  # no simStatus
        assert await client.sim_status(iccid, priority=P) is None  # not listed
    assert platform.requests[-1].url.params["iccid"] == iccid


# --- retries and outcome-unknown ---------------------------------------------------------------
async def test_get_is_retried_on_5xx_and_timeouts() -> None:
    platform = FakePlatform()
    platform.script(
        "fetchSIM",
        respond(500, fail("10239")),
        raise_(httpx.ReadTimeout("slow")),
        respond(502, text="<html>bad gateway</html>"),
    )
    async with make_client(platform, retry_attempts=4) as client:
        rows, total = await client.fetch_sims(priority=P)
    assert total == 1 and rows[0].iccid == "8932075100000000012"
    assert platform.count("fetchSIM") == 4


async def test_get_gives_up_after_bounded_attempts() -> None:
    platform = FakePlatform()
    platform.script("fetchSIM", *[respond(503, text="busy")] * 5)
    async with make_client(platform, retry_attempts=3) as client:
        with pytest.raises(SFTTransportError) as info:
            await client.fetch_sims(priority=P)
    assert info.value.http_status == 503
    assert platform.count("fetchSIM") == 3


@pytest.mark.parametrize(
    "answer",
    [
        respond(500, fail("10239")),
        respond(502, text="<html>bad gateway</html>"),
        raise_(httpx.ReadTimeout("slow")),
        raise_(httpx.RemoteProtocolError("server disconnected")),
        respond(200, fail("10240", "operation timeout, verify completion")),
    ],
)
async def test_post_that_may_have_happened_is_never_resent(answer: Script) -> None:
    platform = FakePlatform()
    platform.script("SubscribeAddon", answer)
    async with make_client(platform) as client:
        with pytest.raises(SFTOutcomeUnknown) as info:
            await client.subscribe_addon("50000001", "870101", priority=P)
    assert info.value.operation == "SubscribeAddon"
    assert platform.count("SubscribeAddon") == 1


async def test_post_not_sent_at_all_is_retried() -> None:
    platform = FakePlatform()
    platform.script("EndPointActivation", raise_(httpx.ConnectError("refused")))
    async with make_client(platform) as client:
        result = await client.activate_endpoint("50000001", priority=P)
    assert result.endpoint_id == "50000001"
    assert platform.count("EndPointActivation") == 2


async def test_malformed_answer_to_post_is_outcome_unknown_too() -> None:
    platform = FakePlatform()
    platform.script("SubscribeAddon", respond(200, text='{"Response": {"resultCo'))
    async with make_client(platform) as client:
        with pytest.raises(SFTMalformedOutcomeUnknown) as info:
            await client.subscribe_addon("50000001", "870101", priority=P)
    assert isinstance(info.value, SFTOutcomeUnknown)
    assert isinstance(info.value, SFTMalformedResponse)


@pytest.mark.parametrize(
    ("answer", "asked"),
    [
        (respond(200, text=""), 3),
        (respond(200, text="<html><body>maintenance</body></html>"), 3),
        (respond(200, text="{not json"), 3),
        (respond(200, body=["Response"]), 3),
        (respond(200, body={"Response": None}), 3),
        # A well-formed envelope whose payload has the wrong shape: the platform answered,
        # asking again would get the same answer.
        (respond(200, body={"Response": {"resultCode": "0", "responseParam": {"rows": 5}}}), 1),
        (respond(404, text="<html>not found</html>"), 3),
    ],
)
async def test_malformed_answer_to_get_raises_malformed(answer: Script, asked: int) -> None:
    platform = FakePlatform()
    platform.script("fetchSIM", *[answer] * 10)
    async with make_client(platform, retry_attempts=3) as client:
        with pytest.raises(SFTMalformedResponse):
            await client.fetch_sims(priority=P)
    assert platform.count("fetchSIM") == asked  # unreadable envelopes: asked again, bounded


async def test_business_errors_carry_the_op_code() -> None:
    platform = FakePlatform()
    platform.script("SubscribeAddon", respond(200, fail("9010", "max 15 active addons")))
    async with make_client(platform) as client:
        with pytest.raises(SFTBusinessError) as info:
            await client.subscribe_addon("50000001", "870101", priority=P)
    assert info.value.result_code == "9010"
    assert info.value.code == "9010"


async def test_activation_already_active_and_delink_codes_are_success() -> None:
    platform = FakePlatform()
    platform.script("EndPointActivation", respond(200, fail("2507", "Endpoint already active")))
    platform.script("DeLinkSim", respond(200, fail("6420", "SIM not attached")))
    async with make_client(platform) as client:
        activation = await client.activate_endpoint("50000001", priority=P)
        delink = await client.delink_sim("50000001", priority=P)
    assert activation.already_active and activation.result_code == "2507"
    assert delink.result_code == "6420"


async def test_no_data_code_is_an_empty_list() -> None:
    platform = FakePlatform()
    platform.script("GetEndpointAddonDetails", respond(200, fail("1359", "No data available")))
    async with make_client(platform) as client:
        assert await client.addon_details(endpoint_id="1", priority=P) == []


async def test_argument_checks() -> None:
    platform = FakePlatform()
    async with make_client(platform) as client:
        with pytest.raises(ValueError):
            await client.addon_details(priority=P)
        with pytest.raises(ValueError):
            await client.modify_endpoint_addons("1", priority=P)
        with pytest.raises(ValueError):
            await client.change_lifecycle("1", "X", priority=P)  # type: ignore[arg-type]
    assert platform.requests == []


async def test_custom_addon_details_path() -> None:
    platform = FakePlatform()
    platform.script("GetEndpointAddon", respond(200, ok({"rows": []})))
    async with make_client(platform, addon_details_path="/api/GetEndpointAddon") as client:
        assert await client.addon_details(unique_id="7", priority=P) == []
    assert platform.requests[-1].url.path == "/api/GetEndpointAddon"
    assert platform.requests[-1].url.params["uniqueId"] == "7"


# --- secrets never logged -------------------------------------------------------------------------
async def test_logs_and_reprs_never_contain_secrets(caplog: pytest.LogCaptureFixture) -> None:
    platform = FakePlatform()
    platform.script("fetchSIM", respond(401, fail("401", "Token expired")))
    platform.script("SubscribeAddon", raise_(httpx.ReadTimeout("slow")))
    caplog.set_level(logging.DEBUG)
    async with make_client(platform) as client:
        rows, _ = await client.fetch_sims(priority=P)
        sim = await client.find_sim(rows[0].iccid, priority=P)
        with pytest.raises(SFTOutcomeUnknown) as info:
            await client.subscribe_addon("50000001", "870101", priority=P)
        texts = [repr(client), repr(sim), repr(rows), str(info.value), repr(client._access)]
    texts += [json.dumps(r.__dict__, default=str) for r in caplog.records]
    assert len(caplog.records) >= 5
    blob = "\n".join(texts)
    for secret in (PASSWORD, MATCHING_ID, "access-1", "access-2", "refresh-1", "refresh-2"):
        assert secret not in blob, secret

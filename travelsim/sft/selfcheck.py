"""``sft check``: ask a real SFT account the read-only questions the portal depends on and say,
field by field, whether it answered as docs/sft-platform.md expects
(docs/sft-platform.md#self-check).

The calls go through the portal's own :class:`~travelsim.sft.client.SFTClient` (its rate
budget, retries, token handling and parsers), over a :class:`RecordingTransport` that keeps
each answer's JSON body and refuses, before anything is sent, any request that is not one of
the read-only operations below: the check never changes anything on the platform. In order:
login, RefreshToken, fetchSIM page 1 (every SIM), QueryRatePlan (add-on plans), then for the
given ``--endpoint`` or the first endpoint linked on that page: GetEndPointProfile, Get
Endpoint Add-on Details and GetStatistics (the last 7 days, UTC).

Each field of :data:`~travelsim.sft.selfcheck_fields.EXPECTATIONS` is then ``as expected``,
``answered differently`` (found only where the portal's alternatives look, shown with the
shape the platform used, identifiers masked), ``not answered`` or ``not checked`` (its call
could not run, or its list was empty). Exit status (:func:`exit_status`): 0 everything checked
was understood, 3 some checks could not run (it says which and how to run them), 1 the portal
would misunderstand the platform (a parser refused an answer, or a required field is nowhere).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import httpx

from travelsim.sft import wire
from travelsim.sft.errors import SFTBusinessError, SFTError, SFTMalformedResponse
from travelsim.sft.models import Priority
from travelsim.sft.selfcheck_fields import (
    EXPECTATIONS,
    SHOWN_VALUES,
    FieldExpectation,
    first_linked_endpoint,
)

__all__ = [
    "CallResult",
    "CheckReport",
    "FieldOutcome",
    "FieldResult",
    "Outcome",
    "RecordingTransport",
    "exit_status",
    "format_report",
    "mask_shape",
    "run_check",
]

PRIORITY: Final = Priority.SYNC  # behind any purchase sharing the budget
#: The only operations the check sends (all read-only: ``state_changing`` is False for each).
READ_ONLY: Final = (
    wire.LOGIN,
    wire.REFRESH_TOKEN,
    wire.FETCH_SIM,
    wire.QUERY_RATE_PLAN,
    wire.ENDPOINT_PROFILE,
    wire.ADDON_DETAILS,
    wire.STATISTICS,
)
STATS_DAYS: Final = 7


class Outcome(StrEnum):
    """How one call went."""

    UNDERSTOOD = "understood"
    MISUNDERSTOOD = "not understood"
    FAILED = "failed"
    FALLBACK = "not available (fallback used)"
    NOT_RUN = "not run"


class FieldOutcome(StrEnum):
    """How one field was answered."""

    EXPECTED = "as expected"
    DIFFERENT = "answered differently"
    MISSING = "not answered"
    NOT_CHECKED = "not checked"


@dataclass
class CallResult:
    """One operation of the check: its path, HTTP status, outcome and a line of detail."""

    operation: str
    path: str
    outcome: Outcome
    http_status: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FieldResult:
    """One field: ``seen_at`` is where it was found (the expected path or an alternative),
    ``shape`` the masked shape of the nearest object the platform answered, when it differs."""

    expectation: FieldExpectation
    outcome: FieldOutcome
    seen_at: str | None = None
    shape: str | None = None


@dataclass
class CheckReport:
    """What :func:`run_check` found: calls in order, fields, and what could not be run."""

    base_url: str
    calls: list[CallResult] = field(default_factory=list)
    fields: list[FieldResult] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    endpoint_id: str | None = None
    endpoint_choice: str = ""  # how endpoint_id was chosen, as the report prints it


class ReadOnlyViolation(RuntimeError):
    """The check was about to send a request that is not one of :data:`READ_ONLY`."""


class RecordingTransport(httpx.AsyncBaseTransport):
    """Sends only :data:`READ_ONLY` requests (method and path, compared case-insensitively,
    as the platform does) through ``inner``, keeping the last JSON body answered per
    operation name (``bodies``) and its HTTP status (``statuses``). Anything else raises
    :class:`ReadOnlyViolation` before a byte is sent."""

    def __init__(self, inner: httpx.AsyncBaseTransport, addon_details_path: str) -> None:
        self.inner = inner
        self._ops: dict[tuple[str, str], wire.Operation] = {
            (op.method, (addon_details_path if op is wire.ADDON_DETAILS else op.path).lower()): op
            for op in READ_ONLY
        }
        self.bodies: dict[str, Any] = {}
        self.statuses: dict[str, int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        op = self._ops.get((request.method, request.url.path.lower()))
        if op is None or op.state_changing:
            raise ReadOnlyViolation(f"refused to send {request.method} {request.url.path}")
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.statuses[op.name] = response.status_code
        try:
            self.bodies[op.name] = json.loads(content)
        except ValueError:
            self.bodies.pop(op.name, None)
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


# --- finding fields --------------------------------------------------------------------------
def _walk(data: Any, parts: list[str]) -> Iterator[Any]:
    """Every value at ``parts`` below ``data`` (``key[]`` fans out over a list)."""
    if not parts:
        yield data
        return
    head, rest = parts[0], parts[1:]
    many = head.endswith("[]")
    key = head[:-2] if many else head
    if not isinstance(data, dict) or key not in data:
        return
    value = data[key]
    if many:
        for item in value if isinstance(value, list) else [value]:
            yield from _walk(item, rest)
    else:
        yield from _walk(value, rest)


def _present(data: Any, path: str) -> bool:
    return any(v is not None for v in _walk(data, path.split(".")))


def _nearest(data: Any, path: str) -> Any:
    """The deepest object on ``path`` that exists (the first list element), for showing."""
    parts, node = path.split("."), data
    for head in parts[:-1]:
        key = head[:-2] if head.endswith("[]") else head
        if not isinstance(node, dict) or key not in node:
            break
        node = node[key]
        if isinstance(node, list):
            if not node:
                break
            node = node[0]
    return node


def _empty_list_on(data: Any, path: str) -> bool:
    """True when a list on ``path`` exists but is empty (nothing to check below it)."""
    node = data
    for head in path.split("."):
        key = head[:-2] if head.endswith("[]") else head
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
        if head.endswith("[]"):
            if not isinstance(node, list):
                node = [node]
            if not node:
                return True
            node = node[0]
    return False


def mask_shape(value: Any, *, depth: int = 0, key: str | None = None) -> Any:
    """``value`` with every identifier masked: strings become ``"<text, N chars>"`` (or
    ``"<digits, N>"``) unless their key is one of
    :data:`~travelsim.sft.selfcheck_fields.SHOWN_VALUES`; lists show their first element
    and their length; deeper than 4 levels becomes ``"…"``."""
    if depth > 4:
        return "…"
    if isinstance(value, dict):
        return {k: mask_shape(v, depth=depth + 1, key=k) for k, v in value.items()}
    if isinstance(value, list):
        if not value:
            return []
        head = mask_shape(value[0], depth=depth + 1, key=key)
        return [head, f"… {len(value)} items"] if len(value) > 1 else [head]
    if isinstance(value, str):
        if key in SHOWN_VALUES and len(value) <= 32:
            return value
        kind = "digits" if value.isdigit() else "text"
        return f"<{kind}, {len(value)} chars>"
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return value if key in SHOWN_VALUES else "<number>"
    return f"<{type(value).__name__}>"


def judge_field(expectation: FieldExpectation, body: Any) -> FieldResult:
    """One field against the body its operation answered (``None``: the call did not run)."""
    if body is None:
        return FieldResult(expectation, FieldOutcome.NOT_CHECKED)
    if _present(body, expectation.path):
        return FieldResult(expectation, FieldOutcome.EXPECTED, seen_at=expectation.path)
    for alternative in expectation.alternatives:
        if _present(body, alternative):
            shape = json.dumps(mask_shape(_nearest(body, alternative)), ensure_ascii=False)
            return FieldResult(expectation, FieldOutcome.DIFFERENT, alternative, shape)
    if _empty_list_on(body, expectation.path):
        return FieldResult(expectation, FieldOutcome.NOT_CHECKED)
    shape = json.dumps(mask_shape(_nearest(body, expectation.path)), ensure_ascii=False)
    return FieldResult(expectation, FieldOutcome.MISSING, shape=shape)


# --- running the check -----------------------------------------------------------------------
async def _step(
    report: CheckReport,
    recorder: RecordingTransport,
    op: wire.Operation,
    path: str,
    call: Callable[[], Any],
) -> Any:
    """Run one call; record how it went. Returns the call's value, or ``None`` if it failed."""
    try:
        value = await call()
    except SFTMalformedResponse as exc:
        report.calls.append(
            CallResult(
                op.name,
                path,
                Outcome.MISUNDERSTOOD,
                exc.http_status,
                exc.result_description or str(exc),
            )
        )
        return None
    except SFTBusinessError as exc:
        report.calls.append(
            CallResult(op.name, path, Outcome.FAILED, exc.http_status, f"result code {exc.code}")
        )
        return None
    except SFTError as exc:
        report.calls.append(
            CallResult(op.name, path, Outcome.FAILED, exc.http_status, type(exc).__name__)
        )
        return None
    report.calls.append(
        CallResult(op.name, path, Outcome.UNDERSTOOD, recorder.statuses.get(op.name))
    )
    return value


async def run_check(
    client: Any,
    recorder: RecordingTransport,
    *,
    endpoint_id: str | None = None,
    addon_details_path: str = wire.DEFAULT_ADDON_DETAILS_PATH,
    today: dt.date | None = None,
) -> CheckReport:
    """Run the read-only calls of the module docstring with ``client`` (an ``SFTClient``
    whose transport is ``recorder``) and judge every field. ``endpoint_id``: the endpoint to
    inspect (default: the first linked one on fetchSIM page 1). ``today`` (UTC) ends the
    GetStatistics window. Never raises for a platform answer; a refused login ends the check
    (everything after it is "not run")."""
    report = CheckReport(base_url=str(getattr(client, "base_url", "")))
    await _step(report, recorder, wire.LOGIN, wire.LOGIN.path, client.sign_in)
    if report.calls[-1].outcome != Outcome.UNDERSTOOD:
        report.not_run.append("every other call: the login was refused or not understood")
        return _judge(report, recorder)
    refreshed = await _step(
        report,
        recorder,
        wire.REFRESH_TOKEN,
        wire.REFRESH_TOKEN.path,
        client.renew_with_refresh_token,
    )
    if refreshed is False:
        report.calls[-1].outcome = Outcome.NOT_RUN
        report.calls[-1].detail = "the login answered no RefreshToken"
        report.not_run.append("RefreshToken: the login gave no refresh token")
    sims = await _step(
        report,
        recorder,
        wire.FETCH_SIM,
        wire.FETCH_SIM.path + "?page=1&perPage=10",
        lambda: client.fetch_sims(
            priority=PRIORITY, status_id=None, attach_status_id=None, page=1, per_page=10
        ),
    )
    await _step(
        report,
        recorder,
        wire.QUERY_RATE_PLAN,
        wire.QUERY_RATE_PLAN.path,
        lambda: client.rate_plans(priority=PRIORITY),
    )
    endpoint: str | None
    if endpoint_id is not None:
        endpoint, report.endpoint_choice = endpoint_id, "given with --endpoint"
    else:
        endpoint, report.endpoint_choice = first_linked_endpoint(sims[0] if sims else [])
    report.endpoint_id = endpoint
    if endpoint is None:
        for op in (wire.ENDPOINT_PROFILE, wire.ADDON_DETAILS, wire.STATISTICS):
            report.calls.append(
                CallResult(op.name, op.path, Outcome.NOT_RUN, None, "no endpoint to inspect")
            )
        report.not_run.append(
            "GetEndPointProfile, Get Endpoint Add-on Details and GetStatistics: no SIM on "
            "fetchSIM page 1 is linked to an endpoint yet. Run again with --endpoint ID once "
            "one is (an endpoint of a sold or test eSIM)."
        )
        return _judge(report, recorder)
    await _step(
        report,
        recorder,
        wire.ENDPOINT_PROFILE,
        wire.ENDPOINT_PROFILE.path,
        lambda: client.endpoint_profile(endpoint, priority=PRIORITY),
    )
    addons = await _step(
        report,
        recorder,
        wire.ADDON_DETAILS,
        addon_details_path,
        lambda: client.addon_details(priority=PRIORITY, endpoint_id=endpoint, fallback=False),
    )
    if addons is None and report.calls[-2].outcome == Outcome.UNDERSTOOD:
        # The portal reads the add-ons from GetEndPointProfile when this path fails
        # (docs/sft-platform.md#get-endpoint-add-on-details): understood, not a failure.
        last = report.calls[-1]
        last.outcome = Outcome.FALLBACK
        last.detail = (
            f"{last.detail}; the portal reads add-ons from GetEndPointProfile instead "
            "(set SFT_ADDON_DETAILS_PATH if BICS names another path)"
        )
    end = today or dt.datetime.now(dt.UTC).date()
    await _step(
        report,
        recorder,
        wire.STATISTICS,
        wire.STATISTICS.path,
        lambda: client.statistics(
            endpoint, end - dt.timedelta(days=STATS_DAYS - 1), end, priority=PRIORITY
        ),
    )
    return _judge(report, recorder)


def _judge(report: CheckReport, recorder: RecordingTransport) -> CheckReport:
    answered = (Outcome.UNDERSTOOD, Outcome.MISUNDERSTOOD)
    ran = {c.operation for c in report.calls if c.outcome in answered}
    no_data = {op for op in ran if _result_code(recorder.bodies.get(op)) == wire.CODE_NO_DATA}
    for expectation in EXPECTATIONS:
        body = recorder.bodies.get(expectation.operation) if expectation.operation in ran else None
        if expectation.operation in no_data and not expectation.path.startswith(_ENVELOPE):
            body = None  # "1359 no data": an empty answer, nothing below the envelope to judge
        report.fields.append(judge_field(expectation, body))
    if no_data:
        report.not_run.append(
            f"{', '.join(sorted(no_data))} answered {wire.CODE_NO_DATA} (no data) for this "
            "endpoint: check the endpoint id, or run again with --endpoint ID of an eSIM that "
            "has a live add-on and some usage"
        )
    empty = sorted(
        {
            f.expectation.operation
            for f in report.fields
            if f.outcome == FieldOutcome.NOT_CHECKED
            and f.expectation.operation in ran
            and f.expectation.operation not in no_data
        }
    )
    if empty:
        report.not_run.append(
            f"the fields inside empty lists of {', '.join(empty)}: run again with --endpoint "
            "ID of an eSIM that has a live add-on and some usage"
        )
    return report


_ENVELOPE: Final = (
    f"{wire.RESPONSE}.{wire.RESULT_CODE}",
    f"{wire.RESPONSE}.{wire.RESULT_PARAM}.",
)


def _result_code(body: Any) -> str | None:
    """``Response.resultParam.resultCode`` of a body, if it has one."""
    param = body.get(wire.RESPONSE, {}).get(wire.RESULT_PARAM) if isinstance(body, dict) else None
    code = param.get(wire.RESULT_CODE) if isinstance(param, dict) else None
    return str(code) if code is not None else None


def exit_status(report: CheckReport) -> int:
    """0 understood, 3 some checks could not run, 1 a misunderstanding (module docstring)."""
    if any(c.outcome == Outcome.MISUNDERSTOOD for c in report.calls):
        return 1
    if any(f.outcome == FieldOutcome.MISSING and f.expectation.required for f in report.fields):
        return 1
    if report.not_run or any(c.outcome in (Outcome.NOT_RUN, Outcome.FAILED) for c in report.calls):
        return 3
    return 0


def format_report(report: CheckReport) -> str:
    """The report as printed: one block per operation, one line per field."""
    lines = [
        f"SFT self-check against {report.base_url} (read-only calls only)",
        "  as expected: where docs/sft-platform.md says; answered differently: found only "
        "where the portal also looks (its older guesses), still understood; not answered: "
        "nowhere (a problem when required); not checked: its call did not run or its list "
        "was empty. Identifiers are masked.",
    ]
    if report.endpoint_id:
        lines.append(
            f"endpoint inspected: ••••{report.endpoint_id[-4:]} ({report.endpoint_choice})"
        )
    by_op: dict[str, list[FieldResult]] = {}
    for result in report.fields:
        by_op.setdefault(result.expectation.operation, []).append(result)
    for call in report.calls:
        status = f"HTTP {call.http_status}" if call.http_status is not None else "no answer"
        detail = f": {call.detail}" if call.detail else ""
        lines.append(f"\n{call.operation}  {call.path}  {status}  {call.outcome}{detail}")
        shown: str | None = None
        for result in by_op.get(call.operation, []):
            exp = result.expectation
            need = "required" if exp.required else "optional"
            lines.append(f"  {result.outcome:<21} {exp.path}  ({exp.source}, {need}; {exp.doc})")
            if result.outcome == FieldOutcome.DIFFERENT:
                same = result.shape == shown
                shape = "(the same object as above)" if same else result.shape
                lines.append(f"      seen at {result.seen_at}: {shape}")
                shown = result.shape
            elif result.outcome == FieldOutcome.MISSING and result.shape:
                lines.append(f"      answered instead: {result.shape}")
    if report.not_run:
        lines.append("\nNot run:")
        lines.extend(f"  - {item}" for item in report.not_run)
    code = exit_status(report)
    verdict = {
        0: "everything checked was understood",
        3: "some checks could not run (see above)",
        1: "the portal would misunderstand this platform (see 'not understood' / required "
        "fields 'not answered' above)",
    }[code]
    lines.append(f"\nResult: {verdict} (exit {code})")
    return "\n".join(lines)

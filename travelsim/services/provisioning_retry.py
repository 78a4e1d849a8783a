"""When a failed provisioning step is tried again later, and when the portal gives up.

Pure rules (no I/O), applied by the runner (``provisioning.run_order``;
docs/business-rules.md#provisioning-retries). When a step's last attempt failed on a *transient*
fault (:func:`is_transient`: HTTP 5xx, an HTML gateway page or another malformed body, a timeout
or lost connection, HTTP 429 or a "rate limit" answer, a refused login, an outcome still
unknown after its re-read, an endpoint status that could not be re-read, an activation code
not ready yet), the order goes back to ``paid`` with its payment untouched and
the retry schedule on the order row: ``retry_count``, ``first_failed_at`` and
``next_attempt_at`` (:func:`next_retry_at`: 1 min after the first failure, doubling to at most
1 h apart, the last one at the end of the window). The recovery job (``jobs.runs.run_recovery``, on
the scheduler's leader) runs it again when due; the traveler meanwhile reads "we are still
setting up your eSIM". Only a *definite* refusal (the platform said no: a business error code,
an unknown ICCID, an invalid activation code, a bug) or a transient fault still there at the
end of the window (``PROVISIONING_RETRY_HOURS``, 24 h) gives up: the order becomes
``needs_attention`` with ``last_error``, and its payment is voided through the provider
(``flagged`` if voiding fails) — never silently lost. An unknown outcome is never resent
blindly by a retry either: every step re-reads the platform first (``provisioning_steps``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tenacity import RetryCallState, wait_exponential

from travelsim.services.provisioning_steps import StepError
from travelsim.sft.errors import SFTBusinessError, SFTError

__all__ = ["RETRY_FIRST_DELAY", "RETRY_MAX_DELAY", "is_transient", "next_retry_at", "retry_delay"]

#: Automatic retries after a transient fault: the first waits this long...
RETRY_FIRST_DELAY = timedelta(minutes=1)
#: ... each next one twice as long as the previous, but never longer than this.
RETRY_MAX_DELAY = timedelta(hours=1)


def is_transient(exc: BaseException) -> bool:
    """Whether a failed step may succeed if simply run again later
    (docs/business-rules.md#provisioning-retries).

    Transient: every :class:`SFTError` that is not a business refusal, i.e.
    ``SFTTransportError`` (timeouts, lost connections, HTTP 5xx on a read, gateway pages),
    ``SFTOutcomeUnknown`` (a write whose answer was lost; the next run re-reads first),
    ``SFTRateLimited`` (HTTP 429: never processed), ``SFTMalformedResponse`` (HTML error
    pages, truncated or malformed bodies) and ``SFTAuthError`` (a refused login is an
    account-wide problem that staff fix without touching the order); a step's own
    ``retryable`` errors too. Definite: ``SFTBusinessError`` (the platform answered "no"
    with an operation code), a step's non-retryable errors (unknown ICCID, invalid code) and
    any other exception (a bug: staff must look)."""
    if isinstance(exc, StepError):
        return exc.retryable
    if isinstance(exc, SFTBusinessError):
        return False
    return isinstance(exc, SFTError)


_WAIT = wait_exponential(
    multiplier=RETRY_FIRST_DELAY.total_seconds(), max=RETRY_MAX_DELAY.total_seconds()
)


def retry_delay(retry_number: int) -> timedelta:
    """The pause before automatic retry ``retry_number`` (1 = the first retry):
    ``RETRY_FIRST_DELAY * 2 ** (retry_number - 1)``, at most ``RETRY_MAX_DELAY``, i.e.
    1, 2, 4, 8, 16, 32 min, then 1 h. Computed by tenacity's ``wait_exponential``.
    Raises ``ValueError`` for ``retry_number < 1``."""
    if retry_number < 1:
        raise ValueError("retry_number must be >= 1")
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = retry_number
    return timedelta(seconds=_WAIT(state))


def next_retry_at(
    *, first_failed_at: datetime, now: datetime, retry_number: int, window: timedelta
) -> datetime | None:
    """When automatic retry ``retry_number`` is due (UTC): ``now + retry_delay(...)``, but
    not after the end of the window (``first_failed_at + window``) so the last retry runs at
    its end (docs/business-rules.md#provisioning-retries). ``None`` when the window is over at
    ``now``: give up."""
    deadline = first_failed_at + window
    if now >= deadline:
        return None
    return min(now + retry_delay(retry_number), deadline)

"""The portal's Prometheus metrics measured in process (docs/monitoring.md).

Counters and histograms of what happens in this process: SFT calls by operation and result,
rate-limited answers, the wait for the shared rate budget, provisioning step durations and
failures, platform-callback and Stripe-webhook lag. What the database already knows (orders
by state, figure staleness, job runs, stock, outbox) is read at scrape time instead
(``services.monitoring``), so every worker answers the same for it.

Several worker processes (``make serve``): set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
directory writable by every worker, the same for all, before they start; each worker then
writes its values there and any worker's ``/metrics`` sums them (prometheus_client's
multiprocess mode, https://prometheus.github.io/client_python/multiprocess/). Without it each
worker reports only its own.

Plain Python: importable from ``sft/`` and ``services/`` alike; imports nothing of the portal.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "CALLBACK_LAG",
    "SFT_CALLS",
    "SFT_RATE_LIMITED",
    "SFT_RATE_WAIT",
    "STEP_SECONDS",
    "WEBHOOK_LAG",
    "observe_lag",
]

#: Seconds: 5 ms … 2 min (step durations, budget waits).
_DURATION_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
#: Seconds: 1 s … 1 day (an event's age when it reached the portal).
_LAG_BUCKETS = (1, 5, 15, 30, 60, 300, 900, 3600, 21600, 86400)

SFT_CALLS = Counter(
    "travelsim_sft_calls",
    "SFT API calls by operation and outcome: the platform's resultCode ('0' success), or "
    "the error class when no code came back (transport error, outcome unknown, rate limited).",
    ["operation", "result"],
)
SFT_RATE_LIMITED = Counter(
    "travelsim_sft_rate_limited",
    "Rate-limited SFT answers (HTTP 429 or a rate-limit envelope), each resent after a pause.",
    ["operation"],
)
SFT_RATE_WAIT = Histogram(
    "travelsim_sft_rate_budget_wait_seconds",
    "Time an SFT request waited for the shared request budget before it was sent.",
    buckets=_DURATION_BUCKETS,
)
STEP_SECONDS = Histogram(
    "travelsim_provisioning_step_seconds",
    "Duration of one attempt of a provisioning step (activate, subscribe, fetch_code, "
    "deliver), by outcome (done, failed).",
    ["step", "outcome"],
    buckets=_DURATION_BUCKETS,
)
CALLBACK_LAG = Histogram(
    "travelsim_sft_callback_lag_seconds",
    "Age of a platform callback event when the portal received it (receipt time minus the "
    "event's own time).",
    buckets=_LAG_BUCKETS,
)
WEBHOOK_LAG = Histogram(
    "travelsim_stripe_webhook_lag_seconds",
    "Age of a Stripe webhook event when the portal received it (receipt time minus the "
    "event's created time).",
    buckets=_LAG_BUCKETS,
)


def observe_lag(histogram: Histogram, seconds: float | None) -> None:
    """Record one event's lag; ``None`` (no event time) is skipped, and a negative lag (the
    sender's clock ahead of ours) counts as 0."""
    if seconds is not None:
        histogram.observe(max(0.0, seconds))

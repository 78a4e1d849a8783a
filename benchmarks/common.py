"""Shared helpers of the benchmarks: machine description, percentiles, environment."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any


def machine() -> str:
    """One line describing where the figures were measured."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()} "
        f"({sys.implementation.name}), {platform.system()} {platform.release()}"
    )


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by linear interpolation (``statistics.quantiles``)."""
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[min(98, max(0, round(p) - 1))]


def fresh_environment(prefix: str) -> Path:
    """Point the portal at a new temporary DATA_DIR (call BEFORE importing travelsim)."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"travelsim-bench-{prefix}-"))
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ["APP_ENV"] = "test"  # explicit: unset means production (fails closed)
    for name in ("SFT_BASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    return data_dir


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_localstripe(data_dir: Path) -> object:
    """Start the embedded localstripe (``travelsim.stripe_local.LocalStripe``: a separate
    process, loopback only, its store and log in ``data_dir``) on a free port and point the
    portal's ``stripe_config()`` at it (``STRIPE_LOCAL_PORT``; every other ``STRIPE_*``
    setting removed). Call after :func:`fresh_environment`, before the settings are read.
    Returns the ``LocalStripe``; the caller stops it (``.stop()``)."""
    from travelsim.stripe_local import LocalStripe

    for name in (
        "STRIPE_SECRET_KEY",
        "STRIPE_PUBLISHABLE_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "STRIPE_API_BASE",
        "STRIPE_JS_URL",
    ):
        os.environ.pop(name, None)
    port = free_port()
    os.environ["STRIPE_LOCAL_PORT"] = str(port)
    # own_group=False: it stops by itself when this process is gone (--exit-with-parent).
    return LocalStripe(own_group=False).start(
        port, data_dir / "localstripe.pickle", log_path=data_dir / "localstripe.log"
    )


_token_client: Any = None


def card_token(api_base: str, publishable_key: str, number: str = "4242424242424242") -> str:
    """What Stripe.js ``createToken`` does in the browser: ``POST <api_base>/v1/tokens`` with
    the card and the publishable key; the ``tok_…`` id (the portal only ever sees that).

    One HTTP client for the whole run, as a browser keeps its connection: a throwaway client
    per token leaves its connection pool in a reference cycle holding an SSL context (its CA
    store), which the garbage collector then frees in whatever runs next, i.e. inside the
    portal's timed purchase (about 1 ms of "portal" time per purchase that was the
    benchmark's own browser side)."""
    import datetime

    import httpx

    global _token_client
    if _token_client is None:
        _token_client = httpx.Client(timeout=10)
    response = _token_client.post(
        f"{api_base}/v1/tokens",
        data={
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": str(datetime.date.today().year + 1),
            "card[cvc]": "123",
            "key": publishable_key,
        },
    )
    response.raise_for_status()
    return str(response.json()["id"])


class TimedProvider:
    """A payment provider (``travelsim.services.payments.PaymentProvider``) that passes every
    call to ``inner`` and accumulates the wall and process-CPU time spent in them
    (``seconds``, ``cpu_seconds``, ``calls``): the Stripe calls (HTTP round trip, Stripe's
    own work, the ``stripe`` library), to subtract from the portal's time."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", "stripe")
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.calls = 0

    def __getattr__(self, attr: str) -> object:
        import functools
        import time

        method = getattr(self.inner, attr)
        if not callable(method):
            return method

        @functools.wraps(method)
        async def timed(*args: object, **kwargs: object) -> object:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return await method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.cpu_seconds += time.process_time() - c0
                self.calls += 1

        return timed

"""Start, find and stop the embedded localstripe (portal side: never imports localstripe).

localstripe is GPL-3.0, so it only ever runs as a separate process,
``python -m travelsim.stripe_local_server`` (loopback only, its own store file, debounced
writes: see that module). This module starts it and talks to it over HTTP:

* :class:`LocalStripe`: one such process: :meth:`LocalStripe.start` (ready when its fake
  Stripe.js ``GET /js.stripe.com/v3/`` answers 200), :meth:`LocalStripe.register_webhook`,
  :meth:`LocalStripe.stop`; a context manager;
* :func:`ensure_started`: what the app does at start in demo/test with the embedded
  localstripe (``travelsim.stripe_config``): nothing answers on ``STRIPE_LOCAL_PORT`` →
  start one (store ``DATA_DIR/localstripe.pickle``, log ``DATA_DIR/localstripe.log``) and
  own it; something answers (another worker's, or one an operator started) → only
  (re-)register the portal's webhook, ``http://127.0.0.1:<BACKEND_PORT>/stripe/webhook``
  (localstripe keeps webhooks in memory only, so every start registers again);
* :func:`stripe_local_lifespan`: the Reflex lifespan task doing that, stopping what it
  started at shutdown;
* ``python -m travelsim.stripe_local [--port N] [--store PATH]``: one in the foreground for
  an operator who wants it standalone (Ctrl-C stops it); a demo started afterwards finds it
  on ``STRIPE_LOCAL_PORT`` and registers its webhook there.

A localstripe the app starts stays in the app's process group (so ending the group, as
``tests/harness.py`` does, ends it too) and runs with ``--exit-with-parent`` (a worker
killed outright leaves none behind).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from travelsim.settings import PROJECT_ROOT, Settings, get_settings
from travelsim.stripe_config import LOCAL_JS_PATH, stripe_config

__all__ = [
    "WEBHOOK_ID",
    "LocalStripe",
    "LocalStripeError",
    "answers",
    "ensure_started",
    "register_webhook",
    "stripe_local_lifespan",
    "webhook_url",
]

log = logging.getLogger(__name__)

#: The id the portal's webhook is registered under (a new registration replaces it).
WEBHOOK_ID = "travelsim"
#: Seconds a new localstripe may take to answer.
START_SECONDS = 30.0
#: Seconds :meth:`LocalStripe.stop` waits after SIGTERM before SIGKILL.
STOP_SECONDS = 10.0


class LocalStripeError(RuntimeError):
    """localstripe did not start, or refused a webhook registration."""


def _base(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def answers(base: str, timeout: float = 2.0, *, client: httpx.Client | None = None) -> bool:
    """True when a localstripe answers at ``base`` (``GET <base>/js.stripe.com/v3/`` is 200)."""
    try:
        get = client.get if client is not None else httpx.get
        return get(base + LOCAL_JS_PATH, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def register_webhook(
    base: str,
    url: str,
    secret: str,
    *,
    events: list[str] | None = None,
    webhook_id: str = WEBHOOK_ID,
) -> None:
    """Register (or replace) webhook ``webhook_id`` on the localstripe at ``base``: every
    event (or only ``events``) is POSTed to ``url``, signed with ``secret`` (header
    ``Stripe-Signature: t=…,v1=…``, as real Stripe signs:
    https://docs.stripe.com/webhooks#verify-events). localstripe keeps it in memory until it
    stops (localstripe behaviour). Raises :class:`LocalStripeError` when refused or
    unreachable."""
    body: dict[str, object] = {"url": url, "secret": secret}
    if events is not None:
        body["events"] = events
    try:
        response = httpx.post(f"{base}/_config/webhooks/{webhook_id}", json=body, timeout=10)
    except httpx.HTTPError as exc:
        raise LocalStripeError(f"webhook registration at {base} failed: {exc}") from exc
    if response.status_code != 200:
        raise LocalStripeError(
            f"webhook registration at {base} refused: {response.status_code} {response.text}"
        )


def webhook_url(settings: Settings) -> str:
    """Where localstripe posts the portal's events: ``http://127.0.0.1:<BACKEND_PORT>/stripe/webhook``."""
    return f"http://127.0.0.1:{settings.backend_port}/stripe/webhook"


class LocalStripe:
    """One ``python -m travelsim.stripe_local_server`` process.

    ``own_group=True`` (the default, for tests and tools) starts it in a process group of
    its own, which :meth:`stop` ends; ``own_group=False`` (the app) keeps it in the caller's
    group, so whoever ends that group ends it too, and it stops by itself when the caller's
    process is gone (``--exit-with-parent``).
    """

    def __init__(self, *, own_group: bool = True) -> None:
        self.own_group = own_group
        self.port = 0
        self.store_path: Path | None = None
        self.log_path: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: the API base (``StripeConfig.api_base``)."""
        return _base(self.port)

    def start(
        self,
        port: int,
        store_path: Path,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        log_path: Path | None = None,
        *,
        timeout: float = START_SECONDS,
    ) -> Self:
        """Start localstripe on ``127.0.0.1:port`` with its store at ``store_path`` (loaded
        if it exists), stdout/stderr appended to ``log_path`` (``None``: this process'
        stderr); wait until it answers; then register ``webhook_url`` with
        ``webhook_secret`` when given. Returns ``self``. Raises :class:`LocalStripeError`
        (with the log's tail) when it exits early (e.g. the port is taken) or does not
        answer within ``timeout`` seconds; nothing is left running then."""
        if self.proc is not None:
            raise LocalStripeError("already started")
        self.port, self.store_path, self.log_path = port, Path(store_path), log_path
        self.store_path.parent.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "travelsim.stripe_local_server"]
        args += ["--port", str(port), "--store", str(self.store_path)]
        if not self.own_group:
            args.append("--exit-with-parent")
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            args,
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT if self._log is not None else None,
            start_new_session=self.own_group,
        )
        try:
            self._wait_ready(timeout)
            if webhook_url and webhook_secret:
                self.register_webhook(webhook_url, webhook_secret)
        except BaseException:
            self.stop()
            raise
        log.info("localstripe started on %s (pid %d)", self.base_url, self.proc.pid)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        with httpx.Client() as client:
            while not answers(self.base_url, timeout=1.0, client=client):
                self._check_alive(deadline, timeout)
                time.sleep(0.05)

    def _check_alive(self, deadline: float, timeout: float) -> None:
        assert self.proc is not None
        code = self.proc.poll()
        if code is not None:
            raise LocalStripeError(
                f"localstripe on port {self.port} exited with status {code}{self._tail()}"
            )
        if time.monotonic() > deadline:
            raise LocalStripeError(
                f"localstripe on port {self.port} did not answer in {timeout:.0f} s{self._tail()}"
            )

    def _tail(self, chars: int = 2000) -> str:
        if self.log_path is None:
            return ""
        try:
            return ":\n" + self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def register_webhook(self, url: str, secret: str, *, events: list[str] | None = None) -> None:
        """:func:`register_webhook` on this localstripe."""
        register_webhook(self.base_url, url, secret, events=events)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """SIGTERM (localstripe saves its store and exits), SIGKILL after ``timeout``
        seconds; to its process group when it has its own, else to the process alone.
        Idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None:
            self._signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait(timeout=timeout)
            if self.own_group:  # anything it left in its group
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _signal(self, proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self.own_group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def _start_lock(settings: Settings) -> Iterator[None]:
    """One worker at a time decides whether to start localstripe (``DATA_DIR/localstripe.lock``,
    an advisory ``flock``): several workers of one app never race to start two."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (settings.data_dir / "localstripe.lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def ensure_started(settings: Settings | None = None) -> LocalStripe | None:
    """In demo/test with the embedded localstripe (``stripe_config(settings).local``): start
    it unless something answers on ``STRIPE_LOCAL_PORT`` already, and register the portal's
    webhook (:func:`webhook_url`, secret ``StripeConfig.webhook_secret``) on whichever
    answers. Returns the :class:`LocalStripe` this call started (the caller stops it), or
    ``None`` (another one answers, or real Stripe / an override is configured). Blocks up to
    :data:`START_SECONDS`; raises :class:`LocalStripeError` when it cannot start or
    register."""
    s = settings or get_settings()
    if s.app_env not in ("demo", "test"):
        return None
    config = stripe_config(s)
    if not config.local:
        return None
    hook = webhook_url(s)
    with _start_lock(s):
        if answers(config.api_base):
            register_webhook(config.api_base, hook, config.webhook_secret)
            log.info("localstripe already answers on %s: webhook registered", config.api_base)
            return None
        local = LocalStripe(own_group=False)
        local.start(
            s.stripe_local_port,
            s.data_dir / "localstripe.pickle",
            hook,
            config.webhook_secret,
            s.data_dir / "localstripe.log",
        )
        return local


@asynccontextmanager
async def stripe_local_lifespan() -> AsyncIterator[None]:
    """Reflex lifespan task (``app.register_lifespan_task(stripe_local_lifespan)``, before the
    scheduler's): :func:`ensure_started` at start, :meth:`LocalStripe.stop` on what it
    started at shutdown. A failure is logged, never fatal: payments then fail as they would
    with Stripe unreachable."""
    started: LocalStripe | None = None
    try:
        started = await asyncio.to_thread(ensure_started, get_settings())
    except Exception:
        log.exception("the embedded localstripe did not start")
    try:
        yield
    finally:
        if started is not None:
            await asyncio.to_thread(started.stop)


def main(argv: list[str] | None = None) -> int:
    """``python -m travelsim.stripe_local``: localstripe in the foreground until Ctrl-C
    (or SIGTERM), on ``--port`` (default ``STRIPE_LOCAL_PORT``) with its store at
    ``--store`` (default ``DATA_DIR/localstripe.pickle``), logging to stderr; with
    ``--webhook-url`` it registers that endpoint with ``--webhook-secret`` (staging's
    rehearsal, docs/going-live.md#rehearse-on-one-machine). Exit status 1 when it does not
    start, 2 for a webhook URL without a secret."""
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m travelsim.stripe_local",
        description="The embedded localstripe (GPL-3.0, a separate process) on loopback.",
    )
    parser.add_argument("--port", type=int, default=settings.stripe_local_port)
    parser.add_argument("--store", type=Path, default=settings.data_dir / "localstripe.pickle")
    parser.add_argument(
        "--webhook-url",
        help="register this webhook endpoint (the portal's /stripe/webhook), as the Stripe "
        "Dashboard does for a real account",
    )
    parser.add_argument(
        "--webhook-secret",
        help="its signing secret (whsec_...; default: STRIPE_WEBHOOK_SECRET)",
    )
    args = parser.parse_args(argv)
    secret = args.webhook_secret or (
        settings.stripe_webhook_secret.get_secret_value()
        if settings.stripe_webhook_secret
        else None
    )
    if args.webhook_url and not secret:
        print("localstripe: --webhook-url needs --webhook-secret (or STRIPE_WEBHOOK_SECRET)")
        return 2
    local = LocalStripe(own_group=False)  # Ctrl-C reaches it through the terminal's group
    try:
        local.start(args.port, args.store, args.webhook_url, secret)
    except LocalStripeError as exc:
        print(f"localstripe: {exc}", file=sys.stderr)
        return 1
    hooked = f", webhook {args.webhook_url}" if args.webhook_url else ""
    print(
        f"localstripe on {local.base_url} (store {args.store}{hooked}); Ctrl-C stops it",
        file=sys.stderr,
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C
    try:
        assert local.proc is not None
        local.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        local.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

# localstripe (https://github.com/adrienverge/localstripe) is GPL-3.0. This module is the ONLY
# part of TravelSIM that imports it, and it runs only as a separate process
# (`python -m travelsim.stripe_local_server`, started by travelsim/stripe_local.py): the portal
# itself never imports localstripe, it talks to it over HTTP like to real Stripe.
"""The embedded localstripe, run as its own process: a fake Stripe API for demo and tests.

``python -m travelsim.stripe_local_server --port N --store PATH [--exit-with-parent]``

What it changes from ``localstripe`` run as is (localstripe behaviour, read from its
``server.py`` and ``resources.py`` 1.15.10):

* **Loopback only.** localstripe binds ``::`` (every interface, IPv4 and IPv6); this binds
  ``127.0.0.1`` alone, so the fake API and its store are never reachable from the network.
* **Its own store file.** localstripe loads and pickles its whole store at the fixed path
  ``/tmp/localstripe.pickle`` (shared by every run on the machine, so two runs would see and
  overwrite each other's objects). ``Store.try_load_from_disk`` / ``Store.dump_to_disk`` are
  patched to use ``--store PATH``; a run restarted on the same path finds its objects again.
* **Debounced writes.** localstripe dumps the whole store after *every* write (each
  ``Store.__setitem__``/``__delitem__`` and every POST/PUT/DELETE request), so one request
  costs O(size of the store) and a test suite or a long demo slows down quadratically. Here
  a write only marks the store dirty; a background task writes it at most once per
  :data:`WRITE_INTERVAL_SECONDS` and once more at shutdown. Each write is atomic (pickled
  in the event loop, where nothing mutates the store meanwhile, then written to a temporary
  file in the same folder, fsynced and renamed over ``PATH``), so a crash leaves the last
  complete store, never a torn one; what a crash loses is at most the last second.
* **Card countries.** localstripe gives every card ``country`` "US". Here a card made from
  one of Stripe's international test numbers gets that number's country, as on Stripe's
  test mode (:data:`TEST_CARD_COUNTRIES`; the portal records it as VAT evidence).
* **Logs to stderr**, one line per request with method, path (no query string, no body),
  status and duration; webhook deliveries as localstripe logs them.

``--exit-with-parent``: stop (saving the store) when the process that started it is gone,
so a portal worker killed outright never leaves a localstripe behind.

Exit status: 0 after SIGTERM/SIGINT, 2 when the port cannot be bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import pickle
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

__all__ = ["HOST", "TEST_CARD_COUNTRIES", "WRITE_INTERVAL_SECONDS", "StoreFile", "main"]

#: The only address the fake Stripe API listens on.
HOST = "127.0.0.1"
#: At most one store write per this many seconds (plus one at shutdown).
WRITE_INTERVAL_SECONDS = 1.0
#: Issuing country of some of Stripe's international test card numbers (Visa), from
#: https://docs.stripe.com/testing#international-cards; any other number is a US card.
TEST_CARD_COUNTRIES: dict[str, str] = {
    "4000000400000008": "AT",
    "4000000560000004": "BE",
    "4000002500000003": "FR",
    "4000002760000016": "DE",
    "4000003800000008": "IT",
    "4000005280000002": "NL",
    "4000007240000007": "ES",
    "4000008260000000": "GB",
}
#: How often ``--exit-with-parent`` checks its parent (seconds).
PARENT_POLL_SECONDS = 0.5

log = logging.getLogger("travelsim.stripe_local_server")


class StoreFile:
    """The store's file at ``path``: loads it once, writes it debounced and atomically
    (module docstring). ``store`` is localstripe's ``Store`` (a ``dict``)."""

    def __init__(self, store: dict[str, Any], path: Path) -> None:
        self.store = store
        self.path = path
        self.dirty = False
        self.writes = 0
        self._wake = asyncio.Event()

    def load(self) -> None:
        """Fill the store from ``path`` (nothing there: empty). A file that does not unpickle
        is moved aside to ``<path>.corrupt`` and the run starts empty (with a warning)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        try:
            old = pickle.loads(data)  # noqa: S301 - our own store file, written below
        except Exception:
            aside = self.path.with_name(self.path.name + ".corrupt")
            os.replace(self.path, aside)
            log.warning("store %s did not load: moved to %s, starting empty", self.path, aside)
            return
        dict.clear(self.store)
        dict.update(self.store, old)
        log.info("store loaded from %s (%d objects)", self.path, len(self.store))

    def mark_dirty(self) -> None:
        """What localstripe's ``dump_to_disk`` does here: note that the store changed."""
        self.dirty = True
        self._wake.set()

    def _snapshot(self) -> bytes:
        self.dirty = False
        return pickle.dumps(self.store, protocol=pickle.HIGHEST_PROTOCOL)

    def _write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.writes += 1

    def flush(self) -> None:
        """Write now if anything changed (at shutdown)."""
        if self.dirty:
            self._write(self._snapshot())

    async def run(self) -> None:
        """The background writer: at most one write per :data:`WRITE_INTERVAL_SECONDS`."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.dirty:
                data = self._snapshot()  # in the loop: no handler mutates the store meanwhile
                try:
                    await asyncio.to_thread(self._write, data)
                except OSError:
                    self.dirty = True
                    log.exception("store write to %s failed; retrying", self.path)
            await asyncio.sleep(WRITE_INTERVAL_SECONDS)


class PathOnlyAccessLogger(AbstractAccessLogger):
    """``METHOD /path STATUS 12.3ms``: never the query string or a body (card data posted to
    ``/v1/tokens`` stays out of the log)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1fms", request.method, request.path, response.status, time * 1000
        )


def _patch_store(store_file: StoreFile) -> None:
    from localstripe import resources

    def try_load_from_disk(self: Any) -> None:
        store_file.load()

    def dump_to_disk(self: Any) -> None:
        store_file.mark_dirty()

    resources.Store.try_load_from_disk = try_load_from_disk
    resources.Store.dump_to_disk = dump_to_disk


def _patch_card_country() -> None:
    from localstripe import resources

    original = resources.Card.__init__

    def init(self: Any, source: Any = None, **kwargs: Any) -> None:
        original(self, source, **kwargs)
        self.country = TEST_CARD_COUNTRIES.get(self._card_number, "US")

    resources.Card.__init__ = init


async def _watch_parent(stop: asyncio.Event) -> None:
    parent = os.getppid()
    while not stop.is_set():
        if os.getppid() != parent:
            log.info("parent process %d is gone: stopping", parent)
            stop.set()
            return
        await asyncio.sleep(PARENT_POLL_SECONDS)


async def _serve(port: int, store_path: Path, *, exit_with_parent: bool) -> int:
    from localstripe import resources, server

    store_file = StoreFile(resources.store, store_path)
    _patch_store(store_file)
    _patch_card_country()
    resources.store.try_load_from_disk()

    runner = web.AppRunner(
        server.app,
        access_log_class=PathOnlyAccessLogger,
        access_log=logging.getLogger("localstripe.access"),
        handle_signals=False,
    )
    await runner.setup()
    site = web.TCPSite(runner, HOST, port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", HOST, port, exc)
        await runner.cleanup()
        return 2
    log.info("localstripe on http://%s:%d, store %s (pid %d)", HOST, port, store_path, os.getpid())

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(store_file.run())]
    if exit_with_parent:
        tasks.append(asyncio.create_task(_watch_parent(stop)))
    try:
        await stop.wait()
    finally:
        started = time.monotonic()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()
        store_file.flush()
        log.info(
            "stopped; store saved to %s (%d writes, last took %.0f ms)",
            store_path,
            store_file.writes,
            (time.monotonic() - started) * 1000,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run localstripe on ``127.0.0.1:--port`` with its store at ``--store`` until SIGTERM or
    SIGINT (then the store is saved). Returns the exit status (module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m travelsim.stripe_local_server",
        description="localstripe (GPL-3.0) on loopback with its own store file.",
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", type=Path, required=True, help="the store's pickle file")
    parser.add_argument(
        "--exit-with-parent", action="store_true", help="stop when the parent process is gone"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    return asyncio.run(
        _serve(args.port, args.store.resolve(), exit_with_parent=args.exit_with_parent)
    )


if __name__ == "__main__":
    sys.exit(main())

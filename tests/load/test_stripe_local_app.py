"""The app starts its own embedded localstripe and takes it down with it (no browser).

``tests/harness.py`` gives the app a free ``STRIPE_LOCAL_PORT``; the app's lifespan task
(``travelsim.stripe_local.stripe_local_lifespan``) starts localstripe there, in the app's
process group, with its store in the app's ``DATA_DIR``. :meth:`AppServer.stop` must leave no
localstripe behind.

It starts an app of its own from this tree, so it runs in a pytest process of its own (the
Makefile's test target): started beside the e2e session's app, its build would replace the
bundle that app serves.
"""

from __future__ import annotations

import os
import time

import httpx
import pytest

from tests.harness import app_environment, localstripe_pids, seed, start_app

pytestmark = pytest.mark.e2e


def test_the_app_runs_its_own_localstripe_and_stop_ends_it() -> None:
    env = app_environment("stripe-local", app_env="test")
    seed(env, quiet=True)
    app = start_app(env)
    try:
        deadline = time.monotonic() + 30
        while not (pids := app.localstripe_pids()) and time.monotonic() < deadline:
            time.sleep(0.2)
        [pid] = pids
        assert pid in app.processes()  # started by a worker of this app
        assert os.getpgid(pid) == app.proc.pid  # in the app's process group
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        assert str(app.data_dir / "localstripe.pickle").encode() in cmdline
        assert httpx.get(f"{app.stripe_base}/js.stripe.com/v3/", timeout=5).status_code == 200
    finally:
        app.stop()
    deadline = time.monotonic() + 10
    while app.localstripe_pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert app.localstripe_pids() == [], "a localstripe survived the app's stop"
    assert localstripe_pids(int(env["STRIPE_LOCAL_PORT"])) == []

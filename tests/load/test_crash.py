"""The provisioning backend killed with SIGKILL at every step boundary, then restarted.

A real process (``tests/load/crash_worker.py``) runs ``provisioning.run_order`` against a
standalone simulator process and the test's database, and is killed:

* right after each database commit of a run (the worker SIGKILLs itself from SQLAlchemy's
  ``after_commit`` hook: the K-th commit is durable and nothing after it ran). A clean run
  first counts the commits (claim + first step ``running``; each step's ``done`` together
  with the next step's ``running``; the add-on baseline), so every boundary is hit, whatever
  the implementation's exact sequence;
* while the platform has already applied ``EndPointLifeCycleChange`` / ``SubscribeAddon``
  but its answer has not arrived (simulator ``timeout_after_commit``; the test polls the
  simulator until the change shows, then sends SIGKILL): the most dangerous moment, where a
  blind resend would subscribe twice.

A new process then resumes the order once the killed run's lease (1 s here) has lapsed. Each
order must complete exactly once: delivered, one add-on instance on its endpoint in the
simulator's own records (the one the order stored), one installation email, and the stored
activation code equal to the simulator's.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from checkout_support import Sim, add_plan, add_user, buy, stripe_get
from sqlmodel import col, select

from tests.load.support import PLAN_ID, ROOT, SimProcess, seed_pool
from travelsim import db
from travelsim.keys import secret_box
from travelsim.models import Esim, Order, OutboxEmail, Payment, ProvisioningStep, User
from travelsim.services import payment_recovery
from travelsim.settings import Settings
from travelsim.sft import SFTClient

LEASE_SECONDS = 1.0
WORKER = [sys.executable, "-m", "tests.load.crash_worker"]


@pytest.fixture
def standalone_sim(tmp_path: Path) -> Iterator[Sim]:
    sim = Sim(SimProcess(tmp_path / "sim.db", esims=40))  # type: ignore[arg-type]
    yield sim
    sim.close()


def worker(order_id: str, url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*WORKER, order_id, url, "--lease", str(LEASE_SECONDS), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out + err[-2000:]


async def new_order(client: SFTClient) -> tuple[Order, User]:
    user = await add_user()
    outcome = await buy(user, client)
    assert outcome.status == "paid" and outcome.order_id
    async with db.session() as s:
        order = await s.get(Order, outcome.order_id)
    assert order is not None
    return order, user


async def snapshot(order_id: str) -> str:
    """``<order status>: <step>=<status>, ...`` as left in the database (``+detail``: a
    step not done yet that already recorded something, e.g. the add-on baseline)."""
    async with db.session() as s:
        order = await s.get(Order, order_id, populate_existing=True)
        steps = (
            await s.exec(
                select(ProvisioningStep)
                .where(col(ProvisioningStep.order_id) == order_id)
                .order_by(col(ProvisioningStep.seq))
            )
        ).all()
        payment = await s.get(Payment, order.payment_id, populate_existing=True) if order else None
    assert order is not None and payment is not None
    return (
        f"{order.status}: "
        + ", ".join(
            f"{st.name}={st.status}" + ("+detail" if st.status != "done" and st.detail else "")
            for st in steps
        )
        + f"; payment {payment.status}"
    )


async def assert_exactly_once(sim: Sim, order_id: str, user: User) -> None:
    async with db.session() as s:
        order = await s.get(Order, order_id, populate_existing=True)
        assert order is not None
        esim = await s.get(Esim, order.esim_id, populate_existing=True)
        assert esim is not None
        mails = (await s.exec(select(OutboxEmail).where(col(OutboxEmail.user_id) == user.id))).all()
        steps = (
            await s.exec(select(ProvisioningStep).where(col(ProvisioningStep.order_id) == order_id))
        ).all()
    assert order.status == "delivered"
    assert {st.status for st in steps} == {"done"}
    assert [m.kind for m in mails] == ["installation"]
    per_plan = sim.state()["subscriptionsPerEndpointPlan"]
    assert per_plan.get(esim.endpoint_id) == {PLAN_ID: 1}
    (addon,) = sim.addons(esim.endpoint_id)
    assert addon["uniqueId"] == order.addon_unique_id
    assert sim.endpoint_status(esim.endpoint_id) == "Active"
    platform = sim.sim_row(esim.iccid)["activationCode"]["textQrCode"]
    assert esim.activation_code_enc and secret_box().decrypt(esim.activation_code_enc) == platform
    # Charged once for the delivered eSIM: a kill between delivery and capture leaves the hold,
    # which the recovery job captures (at Stripe too).
    await payment_recovery.recover_payments()
    async with db.session() as s:
        payment = await s.get(Payment, order.payment_id, populate_existing=True)
    assert payment is not None and payment.status == "succeeded"
    assert stripe_get(f"payment_intents/{payment.provider_ref}")["status"] == "succeeded"


async def test_sigkill_at_every_commit_boundary(
    any_db: Settings, standalone_sim: Sim, sft_clients: Callable[..., SFTClient]
) -> None:
    sim = standalone_sim
    client = sft_clients(sim.url)
    await add_plan()
    assert await seed_pool(client) == 40

    # A clean run counts the commit boundaries of one order.
    order, user = await new_order(client)
    rc, out = finish(worker(order.id, sim.url, "--count-commits"))
    assert rc == 0 and out.splitlines()[0] == "delivered", out
    commits = int(out.split("commits=")[1].split()[0])
    # claim + activate running, 3 x (done + next running), the add-on baseline, deliver done
    assert commits >= 6
    await assert_exactly_once(sim, order.id, user)

    seen: list[str] = []
    for k in range(1, commits + 1):
        order, user = await new_order(client)
        rc, out = finish(worker(order.id, sim.url, "--kill-after-commit", str(k)))
        assert rc == -signal.SIGKILL, out
        seen.append(await snapshot(order.id))
        rc, out = finish(worker(order.id, sim.url))
        assert (rc, out.splitlines()[0]) == (0, "delivered"), out
        await assert_exactly_once(sim, order.id, user)
    # Each kill left a different state: every boundary was really hit.
    assert len(set(seen)) == commits, seen
    print("\nkilled after each commit, left:\n  " + "\n  ".join(seen))


@pytest.mark.parametrize(
    ("operation", "step"),
    [("EndPointLifeCycleChange", "activate"), ("SubscribeAddon", "subscribe")],
)
async def test_sigkill_after_the_platform_applied_a_change(
    any_db: Settings,
    standalone_sim: Sim,
    sft_clients: Callable[..., SFTClient],
    operation: str,
    step: str,
) -> None:
    sim = standalone_sim
    client = sft_clients(sim.url)
    await add_plan()
    await seed_pool(client)
    order, user = await new_order(client)
    async with db.session() as s:
        esim = await s.get(Esim, order.esim_id)
    assert esim is not None
    # The platform applies the change, then holds the answer for 60 s.
    sim.fault(operation, "timeout_after_commit", count=1, latency_seconds=60)

    def applied() -> bool:
        if step == "activate":
            return sim.endpoint_status(esim.endpoint_id) == "Active"
        return len(sim.addons(esim.endpoint_id)) == 1

    proc = worker(order.id, sim.url)
    for _ in range(2000):
        if applied() or proc.poll() is not None:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the worker ended before the platform applied the change"
    proc.send_signal(signal.SIGKILL)
    rc, _ = finish(proc)
    assert rc == -signal.SIGKILL
    # The platform has the change; the portal never learnt the answer.
    left = await snapshot(order.id)
    assert f"{step}=running" in left, left

    rc, out = finish(worker(order.id, sim.url))
    assert (rc, out.splitlines()[0]) == (0, "delivered"), out
    await assert_exactly_once(sim, order.id, user)

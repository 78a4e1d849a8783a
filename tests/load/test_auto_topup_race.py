"""Automatic top-up under a race: two worker processes (``tests/load/auto_topup_worker.py``)
each process a burst of platform callbacks and run usage syncs at the same moment, every one
of them seeing the same crossing of the threshold. Exactly one purchase may come out of it
(docs/business-rules.md#automatic-top-up): one charge row, one top-up order, and one
PaymentIntent at localstripe (read from localstripe itself, ``GET /v1/payment_intents``), on
SQLite and on PostgreSQL.

The figures come from the setup: France 1 GB, a 200 MB threshold, 1 GB - 150 MB used on the
simulator (then 5 MB twice more, so three distinct callback batches all below the threshold).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from checkout_support import Sim, add_plan, add_user, buy, stripe_intents
from sqlmodel import select

from tests.harness import ROOT
from tests.stripe_support import RunningLocalStripe
from travelsim import db
from travelsim.models import (
    AutoTopupCharge,
    AutoTopupRule,
    Checkout,
    Esim,
    Order,
    PurchaseKind,
)
from travelsim.services import auto_topup, callbacks, provisioning, saved_cards, usage_sync
from travelsim.settings import Settings
from travelsim.sft import Priority, SFTClient

MB = 1_048_576
GB = 1_073_741_824
WORKER = [sys.executable, "-m", "tests.load.auto_topup_worker"]


async def test_two_workers_and_a_burst_of_callbacks_buy_once(
    any_db: Settings,
    localstripe: RunningLocalStripe,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
    tmp_path: Path,
) -> None:
    sim = sim_factory(esims=4)
    client = sft_clients(sim.url)
    await add_plan()
    user = await add_user()
    outcome = await buy(user, client, keep_card=True)
    assert outcome.status == "paid" and outcome.order_id
    first = await provisioning.run_order(outcome.order_id, client=client, backoff=(0.01,))
    assert first.status == "delivered"
    await usage_sync.sync_esims(client, [first.esim_id], priority=Priority.SYNC)
    assert user.id is not None
    async with db.session() as s:
        (card,) = await saved_cards.list_cards(s, user.id)
        await auto_topup.enable(
            s,
            user_id=user.id,
            esim_id=first.esim_id,
            kind="bytes",
            value=200 * MB,
            plan_id="870101",
            saved_card_id=card.id,
        )
        esim = await s.get(Esim, first.esim_id)
        assert esim is not None

    # Three batches collected by the simulator (an unreachable receiver), stored as pending.
    sim.ctl("POST", "callbacks", {"url": "http://127.0.0.1:9/unused", "interval_seconds": 3600})
    for used in (GB - 150 * MB, 5 * MB, 5 * MB):
        sim.api.consume(esim.endpoint_id, used)
        sim.ctl("POST", "callbacks/flush")
    batches = [b["body"] for b in sim.ctl("GET", "callbacks")["history"]]
    assert len(batches) == 3
    for body in batches:
        assert (await callbacks.receive(body)).stored > 0

    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [*WORKER, sim.url, str(first.esim_id), str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    go.touch()
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-3000:] for _, err in outputs]
    handed = [line[6:] for out, _ in outputs for line in out.splitlines() if line[:6] == "order="]

    async with db.session() as s:
        charges = (await s.exec(select(AutoTopupCharge))).all()
        topups = (
            await s.exec(select(Order).where(Order.kind == PurchaseKind.TOPUP))  # type: ignore[arg-type]
        ).all()
        rule = (await s.exec(select(AutoTopupRule))).one()
        ours = {c.id for c in (await s.exec(select(Checkout))).all()}
    assert [(c.crossing, c.status) for c in charges] == [(1, "charged")]
    (order,) = topups
    assert handed == [order.id] and charges[0].order_id == order.id
    assert (rule.crossings, rule.armed, rule.enabled) == (1, False, True)
    mine = stripe_intents(ours)  # this run's checkouts (localstripe serves the whole session)
    assert len(mine) == 2  # the first purchase and exactly one automatic top-up
    (auto,) = [pi for pi in mine if pi["metadata"]["checkout_id"] == charges[0].checkout_id]
    assert (auto["status"], auto["amount"]) == ("requires_capture", 990)

"""Helpers shared by the load tests (no tests here)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select

from travelsim import db
from travelsim.models import Checkout, Esim, Order, OutboxEmail, Payment, User
from travelsim.services import checkout, inventory
from travelsim.services.payments import Card, DemoCardProvider
from travelsim.sft import SFTClient

ROOT = Path(__file__).resolve().parents[2]
PLAN_ID = "870101"  # simulator catalogue: "France 1 GB 7 days"
CARD_OK = "4242 4242 4242 4242"


async def rows(model: Any) -> list[Any]:
    async with db.session() as s:
        return list((await s.exec(select(model))).all())


async def seed_pool(client: SFTClient) -> int:
    """Mirror the simulator's free eSIMs into the local pool (``inventory.refill_pool``)."""
    async with db.session() as s:
        return await inventory.refill_pool(client, s)


async def add_users(n: int, prefix: str = "load") -> list[User]:
    async with db.session() as s:
        users = [User(email=f"{prefix}{i}@example.com", password_hash="x") for i in range(n)]
        s.add_all(users)
        await s.commit()
        for u in users:
            await s.refresh(u)
        return users


async def checkout_and_pay(
    user: User, client: SFTClient | None, provider: DemoCardProvider
) -> checkout.PayOutcome | str:
    """``start_checkout`` + ``pay`` in two sessions, as the UI does. Returns the outcome, or
    the CheckoutError code when refused."""
    try:
        async with db.session() as s:
            c = await checkout.start_checkout(
                s, user=user, plan_id=PLAN_ID, destination="FR", client=client
            )
            checkout_id = c.id
        async with db.session() as s:
            return await checkout.pay(
                s,
                provider,
                checkout_id=checkout_id,
                user=user,
                card=Card(CARD_OK, "12/35", "123"),
                device_confirmed=True,
            )
    except checkout.CheckoutError as exc:
        return exc.code


def duplicate_subscriptions(state: dict[str, Any]) -> dict[str, dict[str, int]]:
    """(endpoint, plan) pairs the simulator subscribed more than once, from its own records."""
    per_plan: dict[str, dict[str, int]] = state["subscriptionsPerEndpointPlan"]
    return {
        ep: {plan: n for plan, n in plans.items() if n > 1}
        for ep, plans in per_plan.items()
        if any(n > 1 for n in plans.values())
    }


async def ledger() -> tuple[list[Order], list[Payment], list[Checkout], list[Esim], list[Any]]:
    """Every order, payment, checkout, eSIM and email of the database."""
    return (
        await rows(Order),
        await rows(Payment),
        await rows(Checkout),
        await rows(Esim),
        await rows(OutboxEmail),
    )


def distinct(values: Sequence[Any]) -> bool:
    return len(set(values)) == len(values)


# --- a standalone simulator process ----------------------------------------------------------
class SimProcess:
    """``python -m travelsim.sft_simulator serve`` on a free loopback port (duck-types the
    ``SimServer`` that ``checkout_support.Sim`` wraps)."""

    def __init__(self, db_path: Path, esims: int, rate_limit_tps: float = 0.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (db_path.parent / f"sim-{self.port}.log").open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "travelsim.sft_simulator",
                "serve",
                "--port",
                str(self.port),
                "--db",
                str(db_path),
                "--seed",
                str(esims),
                "--rate-limit-tps",
                str(rate_limit_tps),
            ],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError("the simulator exited early")
            try:
                if httpx.get(f"{self.url}/_sim/clock", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the simulator did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

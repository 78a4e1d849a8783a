"""The confirmation-code notice of the installation email names the seller's support.

A profile whose activation code carries the "confirmation code required" flag (5th field
``1``, SGP.22) needs a code that is neither in the QR nor returned by any platform call, and
that the portal never sends: the seller's support gives it. The email (read back from the
outbox after a real provisioning run against the simulator) must say so with the configured
contact, and must not send the traveler to the install page for it.
"""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

import pytest
from checkout_support import (  # noqa: F401 - fixtures
    Sim,
    add_plan,
    add_user,
    buy,
    sft_clients,
    sim_factory,
)
from sqlmodel import select

from travelsim import db
from travelsim.models import Esim, Order, OutboxEmail
from travelsim.services import provisioning
from travelsim.settings import Settings, get_settings
from travelsim.sft import SFTClient

SUPPORT_EMAIL = "esim-help@seller.example"
SUPPORT_URL = "https://seller.example/help/esim"
SUPPORT_PHONE = "+32 2 555 01 23"


def _paragraph_with(body: str, words: str) -> str:
    return next(p for p in re.split(r"\n\n|</p>", body) if words in p)


@pytest.fixture
def support_settings(sqlite_db: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SUPPORT_EMAIL", SUPPORT_EMAIL)
    monkeypatch.setenv("SUPPORT_URL", SUPPORT_URL)
    monkeypatch.setenv("SUPPORT_PHONE", SUPPORT_PHONE)
    get_settings.cache_clear()
    return get_settings()


async def _delivered_email(
    sim: Sim, client: SFTClient, *, flagged: bool
) -> tuple[OutboxEmail, Esim]:
    await add_plan()
    user = await add_user()
    if flagged:  # the platform answers every code with the 5th field set: LPA:1$..$..$$1
        with sqlite3.connect(sim.server.db_path) as conn:
            conn.execute("UPDATE sim_sims SET matching_id = matching_id || '$$1'")
    outcome = await buy(user, client)
    assert outcome.status == "paid" and outcome.order_id
    done = await provisioning.run_order(outcome.order_id, client=client, backoff=(0.01,))
    assert done.status == "delivered"
    async with db.session() as s:
        order = await s.get(Order, outcome.order_id)
        assert order is not None
        esim = await s.get(Esim, order.esim_id)
        (mail,) = (await s.exec(select(OutboxEmail))).all()
    assert esim is not None
    return mail, esim


async def test_installation_email_says_support_gives_the_confirmation_code(
    support_settings: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
) -> None:
    sim = sim_factory(esims=3)
    mail, esim = await _delivered_email(sim, sft_clients(sim.url), flagged=True)
    assert esim.confirmation_code_required is True
    assert mail.kind == "installation" and mail.body_html

    text_para = _paragraph_with(mail.body_text, "confirmation code")
    html_para = _paragraph_with(mail.body_html, "confirmation code")
    for para in (text_para, html_para):
        assert SUPPORT_EMAIL in para and SUPPORT_URL in para and SUPPORT_PHONE in para
        assert "support" in para
        # Not circular: the email does not point to the install page for the code.
        assert "install page" not in para
        assert "separately" not in para
    assert f'href="mailto:{SUPPORT_EMAIL}"' in html_para
    assert 'href="tel:+3225550123"' in html_para
    # Said once.
    assert mail.body_text.count("confirmation code") == 1
    assert mail.body_html.count("confirmation code") == 1


async def test_no_confirmation_code_no_notice(
    support_settings: Settings,
    sim_factory: Callable[..., Sim],
    sft_clients: Callable[..., SFTClient],
) -> None:
    sim = sim_factory(esims=3)
    mail, esim = await _delivered_email(sim, sft_clients(sim.url), flagged=False)
    assert esim.confirmation_code_required is False
    assert "confirmation code" not in mail.body_text
    assert mail.body_html and "confirmation code" not in mail.body_html

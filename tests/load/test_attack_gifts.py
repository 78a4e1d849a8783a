"""Attack and race proofs of gifts (docs/business-rules.md#gifts).

* Concurrency: eight claims of one gift at once by its recipient (two tabs, many clicks) give
  exactly one winner and one holder; a claim racing the buyer's take-back: exactly one wins
  and the eSIM ends with that side.
* The buyer reading the recipient's installation data, before and after the claim: the QR
  image and ``install.json`` routes answer 404 exactly as for an id that does not exist, the
  install page's and the eSIM page's states say "not found" and hold no code; the holder
  gets 200.
* Guessed claim tokens (fresh 256-bit tokens, the real token with one character changed,
  truncated, over-long, empty): every one is "not valid", tells nothing of the gift's
  address, and the gift stays unclaimed and claimable.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from checkout_support import Sim, add_plan
from gift_support import claim_tokens, gift_order, session_token, verified_user

from tests.load.test_attack import call, tab
from travelsim import db
from travelsim.keys import secret_box
from travelsim.models import Esim, Gift, GiftStatus
from travelsim.routes.app import build_routes_app
from travelsim.services import gift_claim, gifts
from travelsim.services.auth import sessions
from travelsim.services.gifts import GiftError
from travelsim.settings import Settings
from travelsim.sft import SFTClient
from travelsim.state.esim import EsimState
from travelsim.state.gift_claim import GiftClaimState
from travelsim.state.install import InstallState

ADDRESS = "gift.recipient@example.com"


@pytest.fixture
def client(
    sqlite_db: Settings, sim_factory: Callable[..., Sim], sft_clients: Callable[..., SFTClient]
) -> SFTClient:
    return sft_clients(sim_factory(esims=8).url)


async def _esim(esim_id: int) -> Esim:
    async with db.session() as s:
        esim = await s.get(Esim, esim_id, populate_existing=True)
        assert esim is not None
        return esim


async def _try_claim(token: str, user: Any) -> str:
    try:
        async with db.session() as s:
            await gift_claim.claim(s, token, user)
    except GiftError as exc:
        return exc.code
    return "won"


async def test_eight_concurrent_claims_have_one_winner(client: SFTClient) -> None:
    await add_plan()
    gifted = await gift_order(client, ADDRESS)
    (token,) = await claim_tokens(ADDRESS)
    recipient = await verified_user(ADDRESS)
    results = await asyncio.gather(*(_try_claim(token, recipient) for _ in range(8)))
    assert sorted(results) == ["claimed"] * 7 + ["won"]
    esim = await _esim(gifted.order.esim_id)
    assert (esim.user_id, esim.gift_pending) == (recipient.id, False)


async def test_a_claim_racing_the_take_back_has_one_winner(client: SFTClient) -> None:
    await add_plan()
    gifted = await gift_order(client, ADDRESS)
    (token,) = await claim_tokens(ADDRESS)
    recipient = await verified_user(ADDRESS)

    async def take_back() -> str:
        try:
            async with db.session() as s:
                await gifts.take_back(s, user_id=gifted.buyer.id or 0, order_id=gifted.order.id)
                await s.commit()
        except GiftError as exc:
            return exc.code
        return "won"

    claimed, taken = await asyncio.gather(_try_claim(token, recipient), take_back())
    assert sorted([claimed, taken]).count("won") == 1, (claimed, taken)
    esim = await _esim(gifted.order.esim_id)
    async with db.session() as s:
        gift = await gifts.order_gift(s, gifted.order.id)
    assert gift is not None and esim.gift_pending is False
    if claimed == "won":
        assert (gift.status, esim.user_id, taken) == (
            GiftStatus.CLAIMED,
            recipient.id,
            "not_outstanding",
        )
    else:
        assert (gift.status, esim.user_id) == (GiftStatus.CANCELLED, gifted.buyer.id)
        assert claimed in ("cancelled", "claimed")


async def _routes(token: str, esim_id: int) -> list[tuple[int, bytes]]:
    transport = httpx.ASGITransport(app=build_routes_app())
    headers = {"cookie": f"{sessions.COOKIE_NAME}={token}", "sec-fetch-site": "same-origin"}
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:3000") as http:
        qr = await http.get(f"/esims/{esim_id}/qr.png", headers=headers)
        dl = await http.get(f"/esims/{esim_id}/qr.png?download=1", headers=headers)
        data = await http.get(f"/esims/{esim_id}/install.json", headers=headers)
    return [(r.status_code, r.content) for r in (qr, dl, data)]


async def _pages_leak(token: str, esim_id: int, secret: str) -> tuple[bool, bool]:
    """(install page says not found, eSIM page says not found) for the session ``token``;
    asserts neither state holds the activation code or matching id."""
    install = tab(InstallState, token, f"/esims/{esim_id}/install")
    await call(InstallState.load, install, [])
    page = tab(EsimState, token, f"/esims/{esim_id}")
    await call(EsimState.load, page, [])
    for state in (install, page):
        dumped = repr(state.dict())
        assert secret not in dumped and secret.rsplit("$", 1)[-1] not in dumped
    return bool(install.not_found), bool(page.not_found)


async def test_probe_the_buyer_reading_the_recipients_installation_data(
    client: SFTClient,
) -> None:
    await add_plan()
    gifted = await gift_order(client, ADDRESS)
    esim_id = gifted.order.esim_id
    lpa = secret_box().decrypt((await _esim(esim_id)).activation_code_enc or "")
    buyer_token = await session_token(gifted.buyer)
    # Refused exactly as an id that does not exist (nothing tells the two apart).
    refused = await _routes(buyer_token, 999_999)
    assert [status for status, _ in refused] == [404, 404, 404]
    # Before the claim: the gift is nobody's, the buyer's included.
    assert await _routes(buyer_token, esim_id) == refused
    assert await _pages_leak(buyer_token, esim_id, lpa) == (True, True)

    (token,) = await claim_tokens(ADDRESS)
    recipient = await verified_user(ADDRESS)
    assert await _try_claim(token, recipient) == "won"
    assert await _routes(buyer_token, esim_id) == refused
    assert await _pages_leak(buyer_token, esim_id, lpa) == (True, True)
    holder_token = await session_token(recipient)
    answers = await _routes(holder_token, esim_id)
    assert [status for status, _ in answers] == [200, 200, 200]
    assert answers[0][1].startswith(b"\x89PNG")
    assert await _pages_leak(holder_token, esim_id, lpa) == (False, False)


async def test_probe_guessed_claim_tokens(client: SFTClient) -> None:
    await add_plan()
    gifted = await gift_order(client, ADDRESS)
    (token,) = await claim_tokens(ADDRESS)
    recipient = await verified_user(ADDRESS)
    attacker = await verified_user("attacker@example.com")
    flipped = [token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :] for i in (0, 20, 42)]
    guesses = [
        *(secrets.token_urlsafe(32) for _ in range(300)),
        *flipped,
        token[:-1],
        token + "A",
        token.upper(),
        "",
        "x" * 201,
    ]
    for guess in guesses:
        for who in (attacker, recipient):
            assert await _try_claim(guess, who) == "link_invalid", guess
        async with db.session() as s:
            view = await gift_claim.claim_view(s, guess, attacker)
        assert (view.problem, view.recipient, view.message) == ("link_invalid", "", "")
    # The claim page's state for a guessed token: no address, no message.
    attacker_token = await session_token(attacker)
    page = tab(GiftClaimState, attacker_token, f"/gifts/claim?token={flipped[0]}")
    await call(GiftClaimState.load, page, [])
    assert page.problem == "link_invalid" and "example.com" not in page.text
    await call(GiftClaimState.claim, page, [])
    async with db.session() as s:
        gift = await s.get(Gift, (await gifts.order_gift(s, gifted.order.id)).id)  # type: ignore[union-attr]
    assert gift is not None and gift.status == GiftStatus.SENT
    assert (await _esim(gifted.order.esim_id)).gift_pending is True
    # The real link still works for the right account.
    assert await _try_claim(token, recipient) == "won"

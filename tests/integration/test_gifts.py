"""Gifts end to end at the services level (docs/business-rules.md#gifts): real SQLite, the
simulator over a loopback socket, localstripe over HTTP, the claim link read from the outbox
row queued for the recipient; the install routes over ASGI with real session cookies."""

# ruff: noqa: F811  (pytest fixtures imported from checkout_support)

from __future__ import annotations

import html
from typing import Any

import httpx
import pytest
from checkout_support import add_plan, sft_clients, sim_factory  # noqa: F401 - fixtures
from gift_support import (
    claim_tokens,
    gift_order,
    mails,
    session_token,
    verified_user,
)
from sqlalchemy import update
from test_admin_actions import make_staff, setup  # noqa: F401 - fixture

from travelsim import db
from travelsim.models import Esim, Gift, GiftLink, GiftStatus, utcnow
from travelsim.routes.app import build_routes_app
from travelsim.services import admin, checkout, gift_claim, gifts, installation, orders
from travelsim.services.auth import sessions
from travelsim.services.gifts import GiftError

RECIPIENT = "Rita.Recipient@Example.com"
ADDRESS = "rita.recipient@example.com"


async def _esim(esim_id: int) -> Esim:
    async with db.session() as s:
        esim = await s.get(Esim, esim_id)
        assert esim is not None
        return esim


async def _claim(token: str, user: Any) -> int:
    async with db.session() as s:
        return await gift_claim.claim(s, token, user)


async def _routes(token: str, esim_id: int) -> tuple[int, int]:
    """(QR image status, install.json status) for the session ``token``."""
    transport = httpx.ASGITransport(app=build_routes_app())
    cookie = {"cookie": f"{sessions.COOKIE_NAME}={token}", "sec-fetch-site": "same-origin"}
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:3000") as http:
        qr = await http.get(f"/esims/{esim_id}/qr.png", headers=cookie)
        data = await http.get(f"/esims/{esim_id}/install.json", headers=cookie)
    return qr.status_code, data.status_code


async def test_gift_is_delivered_as_a_claim_email_and_the_claim_moves_the_esim(
    setup: Any,
) -> None:
    _sim, client = setup
    await add_plan()
    gifted = await gift_order(client, RECIPIENT)
    buyer, order = gifted.buyer, gifted.order

    # The recipient's claim email: the buyer's message escaped in HTML, no installation data.
    (claim_mail,) = await mails(ADDRESS, "gift_claim")
    assert claim_mail.attachments == [] and "LPA:" not in claim_mail.body_text
    assert html.escape("Happy travels! <b>x</b>") in (claim_mail.body_html or "")
    assert "<b>x</b>" not in (claim_mail.body_html or "")
    assert buyer.email in claim_mail.body_text
    # The buyer: a "gift sent" email without QR, and no installation email at all.
    (sent_mail,) = await mails(buyer.email, "gift_sent")
    assert sent_mail.attachments == [] and "r•••@example.com" in sent_mail.body_text
    assert await mails(buyer.email, "installation") == []

    # Before the claim: nobody holds the eSIM; the buyer has the order, not the QR.
    assert (await _esim(order.esim_id)).gift_pending is True
    buyer_token = await session_token(buyer)
    assert await _routes(buyer_token, order.esim_id) == (404, 404)
    async with db.session() as s:
        view = await orders.order_view(s, order_id=order.id, user_id=buyer.id or 0)
        assert view is not None and view.holder is False
        panel = await gifts.buyer_panel(s, await s.get(type(order), order.id) or order)
        assert panel is not None
        assert (panel.status, panel.recipient) == (GiftStatus.SENT, "r•••@example.com")

    (token,) = await claim_tokens(ADDRESS)
    recipient = await verified_user(ADDRESS)
    async with db.session() as s:
        shown = await gift_claim.claim_view(s, token, recipient)
    assert shown.problem == "" and shown.message == "Happy travels! <b>x</b>"
    assert await _claim(token, recipient) == order.esim_id

    esim = await _esim(order.esim_id)
    assert (esim.user_id, esim.gift_pending) == (recipient.id, False)
    holder_token = await session_token(recipient)
    assert await _routes(holder_token, order.esim_id) == (200, 200)
    assert await _routes(buyer_token, order.esim_id) == (404, 404)
    async with db.session() as s:
        assert await installation.install_view(s, user=buyer, esim_id=order.esim_id) is None
        assert await installation.install_view(s, user=recipient, esim_id=order.esim_id)
        receipt = await orders.receipt_view(
            s, order_id=order.id, user_id=buyer.id or 0, fallback_rate_bp=2000
        )
        assert receipt is not None and receipt.reference == order.reference
        assert receipt.customer_email == buyer.email
        # The recipient does not see the buyer's order.
        assert await orders.order_view(s, order_id=order.id, user_id=recipient.id or 0) is None
        mine = await orders.orders_of(s, buyer.id or 0)
        assert [o.order_id for o in mine] == [order.id]
        panel = await gifts.buyer_panel(s, order)
        assert panel is not None and panel.status == GiftStatus.CLAIMED


async def test_wrong_or_unverified_account_is_refused_and_told_the_masked_address(
    setup: Any,
) -> None:
    _sim, client = setup
    await add_plan()
    gifted = await gift_order(client, RECIPIENT)
    (token,) = await claim_tokens(ADDRESS)
    other = await verified_user("someone.else@example.com")
    async with db.session() as s:
        shown = await gift_claim.claim_view(s, token, other)
        anonymous = await gift_claim.claim_view(s, token, None)
    assert (shown.problem, shown.recipient) == ("wrong_account", "r•••@example.com")
    assert shown.message == ""  # the message is for the recipient only
    assert anonymous.problem == "signed_out"
    with pytest.raises(GiftError) as wrong:
        await _claim(token, other)
    assert wrong.value.code == "wrong_account"
    # The right address, not verified yet.
    async with db.session() as s:
        from travelsim.models import User

        unverified = User(email=ADDRESS, password_hash="x")
        s.add(unverified)
        await s.commit()
        await s.refresh(unverified)
    with pytest.raises(GiftError) as pending:
        await _claim(token, unverified)
    assert pending.value.code == "unverified"
    esim = await _esim(gifted.order.esim_id)
    assert (esim.user_id, esim.gift_pending) == (gifted.buyer.id, True)


async def test_a_used_link_and_an_expired_link_are_refused(setup: Any) -> None:
    _sim, client = setup
    await add_plan()
    gifted = await gift_order(client, RECIPIENT)
    (token,) = await claim_tokens(ADDRESS)
    recipient = await verified_user(ADDRESS)
    async with db.session() as s:
        await s.exec(update(GiftLink).values(expires_at=utcnow()))
        await s.commit()
    with pytest.raises(GiftError) as expired:
        await _claim(token, recipient)
    assert expired.value.code == "link_expired"
    # A new link from a re-send works; afterwards both are spent.
    async with db.session() as s:
        await gifts.resend(s, user_id=gifted.buyer.id or 0, order_id=gifted.order.id)
        await s.commit()
    _old, fresh = await claim_tokens(ADDRESS)
    assert await _claim(fresh, recipient) == gifted.order.esim_id
    with pytest.raises(GiftError) as reused:
        await _claim(fresh, recipient)
    assert reused.value.code == "claimed"
    with pytest.raises(GiftError) as guessed:
        await _claim(fresh[:-2] + "xx", recipient)
    assert guessed.value.code == "link_invalid"


async def test_resend_keeps_earlier_links_and_is_rate_limited(setup: Any) -> None:
    _sim, client = setup
    await add_plan()
    gifted = await gift_order(client, RECIPIENT)
    async with db.session() as s:
        await gifts.resend(s, user_id=gifted.buyer.id or 0, order_id=gifted.order.id)
        await s.commit()
    async with db.session() as s:
        with pytest.raises(GiftError) as limited:
            await gifts.resend(s, user_id=gifted.buyer.id or 0, order_id=gifted.order.id)
    assert limited.value.code == "rate_limited"
    first, second = await claim_tokens(ADDRESS)
    assert first != second
    recipient = await verified_user(ADDRESS)
    async with db.session() as s:
        for token in (first, second):  # the re-send invalidated nothing
            assert (await gift_claim.claim_view(s, token, recipient)).problem == ""
    # Someone else cannot re-send the buyer's gift.
    stranger = await verified_user("stranger@example.com")
    async with db.session() as s:
        with pytest.raises(GiftError) as foreign:
            await gifts.resend(s, user_id=stranger.id or 0, order_id=gifted.order.id)
    assert foreign.value.code == "not_found"


async def test_take_back_stops_the_link_and_gives_the_buyer_the_esim(setup: Any) -> None:
    _sim, client = setup
    await add_plan()
    gifted = await gift_order(client, RECIPIENT)
    buyer, order = gifted.buyer, gifted.order
    (token,) = await claim_tokens(ADDRESS)
    async with db.session() as s:
        await gifts.take_back(s, user_id=buyer.id or 0, order_id=order.id)
        await s.commit()
    recipient = await verified_user(ADDRESS)
    with pytest.raises(GiftError) as stopped:
        await _claim(token, recipient)
    assert stopped.value.code == "cancelled"
    esim = await _esim(order.esim_id)
    assert (esim.user_id, esim.gift_pending) == (buyer.id, False)
    assert await _routes(await session_token(buyer), order.esim_id) == (200, 200)
    assert len(await mails(buyer.email, "installation")) == 1
    async with db.session() as s:
        gift = await gifts.order_gift(s, order.id)
        assert gift is not None and gift.status == GiftStatus.CANCELLED
        with pytest.raises(GiftError) as again:
            await gifts.take_back(s, user_id=buyer.id or 0, order_id=order.id)
        assert again.value.code == "not_outstanding"
        assert await gifts.buyer_panel(s, order) is None


async def test_a_gift_needs_an_open_new_esim_checkout_and_another_address(setup: Any) -> None:
    _sim, client = setup
    await add_plan()
    gifted = await gift_order(client, RECIPIENT)
    buyer = gifted.buyer
    async with db.session() as s:
        with pytest.raises(GiftError) as paid:  # the checkout is paid: no longer open
            await gifts.mark_checkout(
                s,
                buyer=buyer,
                checkout_id=gifted.order.checkout_id,
                recipient="x@example.com",
                message=None,
                locale="en",
            )
        assert paid.value.code == "not_giftable"
        co = await checkout.start_checkout(
            s, user=buyer, plan_id="870101", destination="FR", client=client
        )
        cases = [(buyer.email.upper(), "own_address"), ("not an address", "email_invalid")]
        for address, code in cases:
            with pytest.raises(GiftError) as refused:
                await gifts.mark_checkout(
                    s, buyer=buyer, checkout_id=co.id, recipient=address, message="", locale="en"
                )
            assert refused.value.code == code
        with pytest.raises(GiftError) as long:
            await gifts.mark_checkout(
                s, buyer=buyer, checkout_id=co.id, recipient=ADDRESS, message="a" * 301, locale="fr"
            )
        assert long.value.code == "message_too_long"
        gift = await gifts.mark_checkout(
            s, buyer=buyer, checkout_id=co.id, recipient=RECIPIENT, message=" hi\x07 ", locale="fr"
        )
        assert (gift.recipient_email, gift.message, gift.locale) == (ADDRESS, "hi", "fr")
        await gifts.unmark_checkout(s, user_id=buyer.id or 0, checkout_id=co.id)
        assert await gifts.checkout_gift(s, co.id) is None
        row = await s.get(Gift, gift.id)
        assert row is not None and row.status == GiftStatus.CANCELLED


async def test_staff_see_the_gift_and_cannot_mail_its_qr_to_the_buyer(setup: Any) -> None:
    _sim, client = setup
    await add_plan()
    staff = await make_staff()
    gifted = await gift_order(client, RECIPIENT)
    async with db.session() as s:
        detail = await admin.order_detail(s, gifted.order.id)
    assert detail is not None
    assert (detail["gift_recipient"], detail["gift_status"]) == (ADDRESS, GiftStatus.SENT)
    assert detail["gift_sent"] and detail["gift_claimed"] == ""
    refused = await admin.resend_installation_email(staff, gifted.order.id)
    assert refused.result == "refused" and "gift" in refused.message
    (token,) = await claim_tokens(ADDRESS)
    recipient = await verified_user(ADDRESS)
    await _claim(token, recipient)
    async with db.session() as s:
        detail = await admin.order_detail(s, gifted.order.id)
    assert detail is not None and detail["gift_status"] == GiftStatus.CLAIMED
    assert detail["gift_claimed"].endswith(ADDRESS)


async def test_deleting_the_buyer_cancels_an_unclaimed_gift(setup: Any) -> None:
    from travelsim.services.privacy import deletion

    _sim, client = setup
    await add_plan()
    gifted = await gift_order(client, RECIPIENT)
    (token,) = await claim_tokens(ADDRESS)
    await deletion.delete_account(gifted.buyer.id or 0, client)
    recipient = await verified_user(ADDRESS)
    with pytest.raises(GiftError) as stopped:
        await _claim(token, recipient)
    assert stopped.value.code == "cancelled"
    esim = await _esim(gifted.order.esim_id)
    assert (esim.state, esim.user_id) == ("retired", None)
    async with db.session() as s:
        gift = await gifts.order_gift(s, gifted.order.id)
    assert gift is not None and (gift.buyer_id, gift.message) == (None, None)


async def test_deleting_the_buyer_after_the_claim_leaves_the_recipients_esim(
    setup: Any,
) -> None:
    from travelsim.services.privacy import deletion

    _sim, client = setup
    await add_plan()
    gifted = await gift_order(client, RECIPIENT)
    (token,) = await claim_tokens(ADDRESS)
    recipient = await verified_user(ADDRESS)
    await _claim(token, recipient)
    await deletion.delete_account(gifted.buyer.id or 0, client)
    esim = await _esim(gifted.order.esim_id)
    assert (esim.state, esim.user_id) == ("assigned", recipient.id)
    assert await _routes(await session_token(recipient), gifted.order.esim_id) == (200, 200)


async def test_the_claim_email_speaks_the_recipients_language(setup: Any) -> None:
    """docs/i18n.md#emails: the recipient's account language, else the buyer's at checkout."""
    from travelsim.models import User

    _sim, client = setup
    await add_plan()
    german = await verified_user("hans@example.com")
    async with db.session() as s:
        row = await s.get(User, german.id)
        assert row is not None
        row.locale = "de"
        s.add(row)
        await s.commit()
    await gift_order(client, "hans@example.com", locale="fr")
    await gift_order(client, "nobody@example.com", locale="fr")
    (to_german,) = await mails("hans@example.com", "gift_claim")
    (to_stranger,) = await mails("nobody@example.com", "gift_claim")
    assert (to_german.locale, to_stranger.locale) == ("de", "fr")
    assert to_german.subject == "Ihnen wurde eine eSIM geschenkt"
    assert to_stranger.subject == "On vous a offert une eSIM"

"""A gift in real browsers (docs/business-rules.md#gifts): the buyer marks the checkout as a
gift, pays with 4242; the recipient, in a second browser context, opens the claim link from
the email (the e2e portal runs without SMTP: the outbox row is the email), creates an account
with that address, verifies it, comes back to the claim, claims and sees the eSIM. The buyer
keeps the order page with its gift panel but never gets the QR."""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import DESKTOP, shot
from tests.e2e.stripe_card import fill_card, pay_button
from tests.e2e.test_purchase import PASSWORD, sign_up_and_verify
from tests.e2e.test_security_pages import outbox_link

MESSAGE = "Bon voyage! <script>alert(1)</script>"


def open_checkout(page: Page, app_url: str) -> None:
    """France 1 GB from the home page, trip and phone confirmed: the pay step."""
    page.goto(app_url)
    page.get_by_test_id("destination-option").filter(has_text="France").click()
    page.locator("[data-plan-id='870101']").get_by_role("button", name="Choose").click()
    expect(page).to_have_url(re.compile(r"/buy/870101"))
    page.get_by_text("My phone supports eSIM").click()
    page.get_by_text("My phone is carrier-unlocked").click()
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"checkout="))


def mark_gift(page: Page, recipient: str) -> None:
    page.get_by_test_id("gift-toggle").click()
    expect(page.get_by_test_id("gift-unsaved")).to_be_visible()
    page.get_by_label("Recipient's email").fill(recipient)
    page.get_by_label("Message (optional)").fill(MESSAGE)
    page.get_by_role("button", name="Save gift details").click()
    expect(page.get_by_test_id("gift-saved")).to_contain_text(recipient)
    expect(page.get_by_test_id("gift-unsaved")).to_have_count(0)


def claim_link(data_dir: str, recipient: str) -> str:
    with sqlite3.connect(Path(data_dir) / "travelsim.db") as conn:
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM outbox_email WHERE to_address = ? AND kind = 'gift_claim'",
            (recipient,),
        ).fetchone()
    assert count == 1
    return outbox_link(data_dir, recipient, r"https?://\S+/gifts/claim\?token=[\w\-]+")


def test_gift_bought_claimed_by_the_recipient_buyer_keeps_the_order(
    app_url: str, app_env: dict[str, str], browser: Browser
) -> None:
    data_dir = app_env["DATA_DIR"]
    recipient = f"friend-{uuid.uuid4().hex[:8]}@example.com"
    buyer_ctx = browser.new_context(viewport=DESKTOP)
    buyer = buyer_ctx.new_page()
    sign_up_and_verify(buyer, app_url, data_dir)
    open_checkout(buyer, app_url)
    mark_gift(buyer, recipient)
    fill_card(buyer)
    pay_button(buyer).click()
    expect(buyer).to_have_url(re.compile(r"/orders/"), timeout=30_000)
    order_id = buyer.url.rstrip("/").rsplit("/", 1)[-1]
    expect(buyer.get_by_test_id("order-delivered")).to_be_visible(timeout=60_000)
    buyer.reload()
    masked = f"{recipient[0]}•••@example.com"
    expect(buyer.get_by_test_id("gift-line")).to_contain_text(f"Sent to {masked}")
    expect(buyer.get_by_test_id("gift-line")).to_contain_text("not claimed yet")
    expect(buyer.get_by_role("button", name="Install your eSIM")).to_have_count(0)
    with sqlite3.connect(Path(data_dir) / "travelsim.db") as conn:
        (esim_id,) = conn.execute(
            "SELECT esim_id FROM purchase_order WHERE id = ?", (order_id,)
        ).fetchone()
    assert buyer.request.get(f"{app_url}/esims/{esim_id}/qr.png").status == 404

    # The recipient, in another browser: the link, sign-up with that address, back to claim.
    friend_ctx = browser.new_context(viewport=DESKTOP)
    friend = friend_ctx.new_page()
    friend.goto(claim_link(data_dir, recipient).replace("http://localhost:3000", app_url))
    expect(friend.get_by_test_id("gift-problem")).to_have_attribute("data-problem", "signed_out")
    expect(friend.get_by_test_id("gift-problem")).to_contain_text(masked)
    friend.get_by_role("button", name="Create account").click()
    expect(friend).to_have_url(re.compile(r"/signup\?next="))
    friend.get_by_label("Email").fill(recipient)
    friend.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    friend.get_by_role("button", name="Create account").click()
    expect(friend.get_by_text("Check your inbox")).to_be_visible()
    verify = outbox_link(data_dir, recipient, r"https?://\S+/auth/verify\?\S+")
    friend.goto(verify.replace("http://localhost:3000", app_url))
    expect(friend).to_have_url(re.compile(r"/gifts/claim/?\?token="))
    expect(friend.get_by_test_id("gift-message")).to_have_text(MESSAGE)  # text, not markup
    friend.get_by_test_id("gift-claim").click()
    expect(friend).to_have_url(re.compile(rf"/esims/{esim_id}$"), timeout=20_000)
    assert friend.request.get(f"{app_url}/esims/{esim_id}/qr.png").status == 200
    friend.goto(f"{app_url}/esims/{esim_id}/install")
    expect(friend.get_by_test_id("smdp")).to_be_visible()
    shot(friend, "gift-claimed-install-desktop")

    # The buyer still has the order (claimed), never the QR or the install page.
    buyer.reload()
    expect(buyer.get_by_test_id("gift-line")).to_contain_text("claimed on")
    expect(buyer.get_by_role("button", name="Install your eSIM")).to_have_count(0)
    assert buyer.request.get(f"{app_url}/esims/{esim_id}/qr.png").status == 404
    buyer.goto(f"{app_url}/esims/{esim_id}/install")
    expect(buyer.get_by_test_id("smdp")).to_have_count(0)
    buyer.goto(f"{app_url}/orders/{order_id}/receipt")
    expect(buyer.get_by_text(re.compile(r"TS-\w+")).first).to_be_visible()
    buyer_ctx.close()
    friend_ctx.close()

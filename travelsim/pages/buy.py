"""Checkout page: plan summary, destination and device checks, then card payment.

The pay step's card box is Stripe.js (``travelsim.components.card_element``): the card
never reaches the portal; ``travelsim.state.buy`` explains the flow."""

from __future__ import annotations

import reflex as rx

from travelsim.components.card_element import card_element
from travelsim.components.consent import consent_box
from travelsim.components.device_check import device_check
from travelsim.components.gift import checkout_gift_box
from travelsim.components.layout import page
from travelsim.components.network_facts import checkout_networks
from travelsim.components.tax_country import residence_country
from travelsim.i18n import _, localized
from travelsim.state.buy import NEW_CARD, BuyState


def plan_summary() -> rx.Component:
    p = BuyState.plan
    return rx.card(
        rx.vstack(
            rx.text(_("Your plan"), size="2", color=rx.color("gray", 11)),
            rx.heading(p["title"], size="5"),
            rx.hstack(
                rx.heading(p["volume"], size="6"),
                rx.text("·", aria_hidden="true"),
                rx.heading(p["validity"], size="5"),
                align="baseline",
                spacing="2",
            ),
            rx.text(p["activation_policy"], size="2"),
            rx.text(_("Covers:"), " ", p["coverage"], size="2", color=rx.color("gray", 11)),
            rx.divider(),
            rx.hstack(
                rx.text(_("Total"), weight="bold"),
                rx.spacer(),
                rx.heading(p["price"], size="6", data_testid="checkout-total"),
                width="100%",
            ),
            rx.cond(
                p["price_note"] != "",
                rx.text(p["price_note"], size="1", data_testid="checkout-price-note"),
            ),
            rx.text(_("Prices include VAT."), size="1", color=rx.color("gray", 11)),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def how_to_check() -> rx.Component:
    return rx.el.details(
        rx.el.summary(_("How do I check?")),
        rx.vstack(
            rx.text(
                rx.text.strong("iPhone: "),
                _(
                    "Settings › General › About. If you see an “EID” line, your iPhone "
                    "supports eSIM. Under “Carrier Lock” it should say “No SIM restrictions”."
                ),
                size="2",
            ),
            rx.text(
                rx.text.strong("Android: "),
                _(
                    "Settings › About phone › SIM status (or dial *#06#). An EID means eSIM "
                    "support. Your carrier can tell you if the phone is locked to their network."
                ),
                size="2",
            ),
            spacing="2",
            padding_top="2",
        ),
        font_size="14px",
    )


def confirm_step() -> rx.Component:
    return rx.vstack(
        rx.heading(_("1. Confirm your trip and phone"), size="4"),
        rx.el.label(_("Destination"), html_for="destination", font_weight="500"),
        rx.select.root(
            rx.select.trigger(
                placeholder=_("Choose your destination"),
                id="destination",
                aria_label=_("Destination"),
            ),
            rx.select.content(
                rx.foreach(
                    BuyState.destinations,
                    lambda d: rx.select.item(d["label"], value=d["code"]),
                )
            ),
            value=BuyState.destination,
            on_change=BuyState.set_destination,
        ),
        device_check(),
        rx.checkbox(
            _("My phone supports eSIM"),
            checked=BuyState.device_esim,
            on_change=BuyState.set_device_esim,
        ),
        rx.checkbox(
            _("My phone is carrier-unlocked"),
            checked=BuyState.device_unlocked,
            on_change=BuyState.set_device_unlocked,
        ),
        how_to_check(),
        rx.button(
            _("Continue to payment"),
            on_click=BuyState.start,
            loading=BuyState.busy,
            disabled=~(BuyState.device_esim & BuyState.device_unlocked) | BuyState.busy,
            size="3",
        ),
        spacing="3",
        width="100%",
    )


def _topup_target() -> rx.Component:
    """Which eSIM a top-up adds its data to (nothing is reserved for a top-up)."""
    t = BuyState.target
    return rx.callout(
        rx.text(t["sentence"]),
        icon="smartphone",
        size="2",
        data_testid="topup-target",
    )


def _trip_confirmed() -> rx.Component:
    """Step 1, done: what the traveler confirmed before paying for a new eSIM."""
    return rx.hstack(
        rx.icon("circle-check", size=18, color=rx.color("green", 10)),
        rx.text(
            _("1. Trip and phone confirmed"),
            rx.cond(BuyState.destination_label != "", ": " + BuyState.destination_label, ""),
            size="2",
        ),
        align="center",
        spacing="2",
        data_testid="trip-confirmed",
    )


def _card_choice() -> rx.Component:
    """Once the traveler has saved cards: pay with one of them or with a new card."""
    return rx.vstack(
        rx.text(_("Pay with"), weight="medium", size="2", id="card-choice-label"),
        rx.radio_group.root(
            rx.vstack(
                rx.foreach(
                    BuyState.saved_cards,
                    lambda c: rx.radio_group.item(c["label"], value=c["id"]),
                ),
                rx.radio_group.item(_("A new card"), value=NEW_CARD),
                spacing="2",
            ),
            value=BuyState.card_choice,
            on_change=BuyState.set_card_choice,
            aria_labelledby="card-choice-label",
            data_testid="card-choice",
        ),
        spacing="2",
        width="100%",
    )


def _new_card() -> rx.Component:
    """The Stripe.js card box (always mounted on the pay step, hidden while a saved card is
    chosen, so switching back keeps what was typed) and "keep this card"."""
    new = BuyState.card_choice == NEW_CARD
    return rx.vstack(
        card_element(BuyState.stripe_publishable_key, BuyState.stripe_js_url),
        rx.checkbox(
            _("Keep this card for later top-ups"),
            checked=BuyState.keep_card,
            on_change=BuyState.set_keep_card,
            data_testid="keep-card",
        ),
        spacing="3",
        width="100%",
        display=rx.cond(new, "flex", "none"),
    )


def pay_step() -> rx.Component:
    topup = BuyState.is_topup
    return rx.vstack(
        rx.cond(topup, _topup_target(), _trip_confirmed()),
        rx.cond(topup, rx.fragment(), checkout_gift_box()),  # a top-up is never a gift
        rx.heading(rx.cond(topup, _("Pay"), _("2. Pay")), size="4"),
        residence_country(),  # VAT evidence (docs/business-rules.md#vat-evidence)
        rx.cond(BuyState.saved_cards.length() > 0, _card_choice()),
        _new_card(),
        consent_box(),  # the terms and immediate start (docs/legal.md#acceptance-at-checkout)
        rx.cond(
            BuyState.notice != "",
            rx.callout(
                BuyState.notice,
                icon="loader",
                size="1",
                role="status",
                width="100%",
                data_testid="pay-notice",
            ),
        ),
        rx.cond(
            BuyState.error != "",
            rx.callout(
                BuyState.error,
                icon="triangle-alert",
                color_scheme="red",
                role="alert",
                width="100%",
                data_testid="pay-error",
            ),
        ),
        rx.button(
            _("Pay"),
            " ",
            BuyState.plan["price"],
            on_click=BuyState.pay,
            size="3",
            width="100%",
            loading=BuyState.busy,
            disabled=BuyState.busy,
        ),
        rx.text(
            rx.cond(
                topup,
                _(
                    "The data is added to this eSIM right after payment. You are charged once, "
                    "even if you click twice or reload."
                ),
                _(
                    "Your eSIM is reserved for you while you pay. The amount is held on your "
                    "card and charged only once your eSIM is delivered; you are charged once, "
                    "even if you click twice or reload."
                ),
            ),
            size="1",
            color=rx.color("gray", 11),
        ),
        rx.text(
            _(
                "Card details go straight to our card processor, Stripe; they never reach "
                "TravelSIM."
            ),
            size="1",
            color=rx.color("gray", 11),
        ),
        spacing="3",
        width="100%",
    )


def expired_step() -> rx.Component:
    """The checkout in the URL expired: say so plainly, one way on (not an error)."""
    return rx.vstack(
        rx.heading(_("This checkout expired"), size="4"),
        rx.text(
            _(
                "It was not paid in time, so the eSIM held for it went back on sale. You have "
                "not been charged. Start again to get today's price and a fresh reservation."
            ),
            size="2",
        ),
        rx.link(rx.button(_("Start again"), size="3"), href=BuyState.restart_url),
        spacing="3",
        width="100%",
        data_testid="checkout-expired",
    )


def price_changed_step() -> rx.Component:
    """The plan's price moved since the checkout opened: nothing was charged; paying the new
    price needs the traveler's explicit yes."""
    return rx.vstack(
        rx.heading(_("The price changed"), size="4"),
        rx.callout(BuyState.price_message, icon="info", size="2", width="100%"),
        rx.text(_("You have not been charged."), size="2"),
        rx.button(
            _("Continue at the new price"),
            on_click=BuyState.accept_price,
            loading=BuyState.busy,
            disabled=BuyState.busy,
            size="3",
        ),
        spacing="3",
        width="100%",
        data_testid="checkout-price-changed",
    )


def buy() -> rx.Component:
    return page(
        rx.cond(
            BuyState.step == "not_found",
            rx.vstack(
                rx.heading(_("This plan is not available"), size="6"),
                rx.link(_("Back to all plans"), href=localized("/")),
            ),
            rx.vstack(
                rx.heading(_("Checkout"), size="7"),
                rx.cond(
                    (BuyState.error != "") & (BuyState.step != "pay"),
                    rx.callout(
                        BuyState.error,
                        icon="triangle-alert",
                        color_scheme="red",
                        role="alert",
                        width="100%",
                    ),
                ),
                rx.grid(
                    rx.box(
                        rx.match(
                            BuyState.step,
                            ("confirm", confirm_step()),
                            ("pay", pay_step()),
                            ("expired", expired_step()),
                            ("price_changed", price_changed_step()),
                            rx.spinner(),
                        ),
                        width="100%",
                    ),
                    rx.vstack(plan_summary(), checkout_networks(), spacing="4", width="100%"),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="6",
                    align="start",
                    width="100%",
                ),
                spacing="4",
                width="100%",
            ),
        )
    )

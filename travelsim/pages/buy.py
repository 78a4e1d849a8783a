"""Checkout page: plan summary, destination and device checks, then card payment."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page
from travelsim.state.buy import BuyState


def plan_summary() -> rx.Component:
    p = BuyState.plan
    return rx.card(
        rx.vstack(
            rx.text("Your plan", size="2", color=rx.color("gray", 11)),
            rx.heading(p["title"], size="5"),
            rx.hstack(
                rx.heading(p["volume"], size="6"),
                rx.text("for"),
                rx.heading(p["validity"], size="5"),
                align="baseline",
                spacing="2",
            ),
            rx.text(p["activation_policy"], size="2"),
            rx.text("Covers: ", p["coverage"], size="2", color=rx.color("gray", 11)),
            rx.divider(),
            rx.hstack(
                rx.text("Total", weight="bold"),
                rx.spacer(),
                rx.heading(p["price"], size="6", data_testid="checkout-total"),
                width="100%",
            ),
            rx.text("Prices include VAT.", size="1", color=rx.color("gray", 11)),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def how_to_check() -> rx.Component:
    return rx.el.details(
        rx.el.summary("How do I check?"),
        rx.vstack(
            rx.text(
                rx.text.strong("iPhone: "),
                "Settings › General › About. If you see an “EID” line, your iPhone supports "
                "eSIM. Under “Carrier Lock” it should say “No SIM restrictions”.",
                size="2",
            ),
            rx.text(
                rx.text.strong("Android: "),
                "Settings › About phone › SIM status (or dial *#06#). An EID means eSIM "
                "support. Your carrier can tell you if the phone is locked to their network.",
                size="2",
            ),
            spacing="2",
            padding_top="2",
        ),
        font_size="14px",
    )


def confirm_step() -> rx.Component:
    return rx.vstack(
        rx.heading("1. Confirm your trip and phone", size="4"),
        rx.el.label("Destination", html_for="destination", font_weight="500"),
        rx.select.root(
            rx.select.trigger(
                placeholder="Choose your destination", id="destination", aria_label="Destination"
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
        rx.checkbox(
            "My phone supports eSIM",
            checked=BuyState.device_esim,
            on_change=BuyState.set_device_esim,
        ),
        rx.checkbox(
            "My phone is carrier-unlocked",
            checked=BuyState.device_unlocked,
            on_change=BuyState.set_device_unlocked,
        ),
        how_to_check(),
        rx.button(
            "Continue to payment",
            on_click=BuyState.start,
            loading=BuyState.busy,
            disabled=~(BuyState.device_esim & BuyState.device_unlocked) | BuyState.busy,
            size="3",
        ),
        spacing="3",
        width="100%",
    )


def _card_input(label: str, name: str, **props: object) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=name, font_weight="500", font_size="14px"),
        rx.input(id=name, name=name, size="3", width="100%", required=True, **props),
        spacing="1",
        width="100%",
    )


def _topup_target() -> rx.Component:
    """Which eSIM a top-up adds its data to (nothing is reserved for a top-up)."""
    t = BuyState.target
    return rx.callout(
        rx.text(
            "The data is added to ",
            rx.text.strong(t["name"]),
            " (ICCID ending ",
            rx.code(t["iccid_tail"]),
            ")",
            rx.cond(t["destination"] != "", rx.text.span(" for ", t["destination"]), ""),
            ". Same eSIM, no new QR code.",
        ),
        icon="smartphone",
        size="2",
        data_testid="topup-target",
    )


def _trip_confirmed() -> rx.Component:
    """Step 1, done: what the traveler confirmed before paying for a new eSIM."""
    return rx.hstack(
        rx.icon("circle-check", size=18, color=rx.color("green", 10)),
        rx.text(
            "1. Trip and phone confirmed",
            rx.cond(BuyState.destination_label != "", ": " + BuyState.destination_label, ""),
            size="2",
        ),
        align="center",
        spacing="2",
        data_testid="trip-confirmed",
    )


def pay_step() -> rx.Component:
    topup = BuyState.is_topup
    return rx.vstack(
        rx.cond(topup, _topup_target(), _trip_confirmed()),
        rx.heading(rx.cond(topup, "Pay", "2. Pay"), size="4"),
        rx.callout(
            "Demo payments (test mode): 4242 4242 4242 4242 succeeds, "
            "4000 0000 0000 0002 is declined, 4000 0025 0000 3155 asks for a code (123456). "
            "Any future expiry and any 3-digit CVC.",
            icon="info",
            size="1",
        ),
        rx.form(
            rx.vstack(
                _card_input(
                    "Card number",
                    "card_number",
                    input_mode="numeric",
                    auto_complete="cc-number",
                    placeholder="4242 4242 4242 4242",
                ),
                rx.hstack(
                    _card_input(
                        "Expiry (MM/YY)", "card_expiry", auto_complete="cc-exp", placeholder="12/30"
                    ),
                    _card_input(
                        "CVC",
                        "card_cvc",
                        input_mode="numeric",
                        auto_complete="cc-csc",
                        placeholder="123",
                    ),
                    width="100%",
                ),
                rx.button(
                    "Pay ",
                    BuyState.plan["price"],
                    type="submit",
                    size="3",
                    width="100%",
                    loading=BuyState.busy,
                    disabled=BuyState.busy,
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=BuyState.pay,
            reset_on_submit=False,
            width="100%",
        ),
        rx.text(
            rx.cond(
                topup,
                "The data is added to this eSIM right after payment. You are charged once, "
                "even if you click twice or reload.",
                "Your eSIM is reserved for you while you pay. You are charged once, even if "
                "you click twice or reload.",
            ),
            size="1",
            color=rx.color("gray", 11),
        ),
        spacing="3",
        width="100%",
    )


def action_step() -> rx.Component:
    return rx.vstack(
        rx.heading("Confirm the payment with your bank", size="4"),
        rx.text("Enter the code your bank sent you (demo: 123456).", size="2"),
        rx.form(
            rx.hstack(
                rx.input(
                    name="code",
                    id="code",
                    aria_label="Verification code",
                    input_mode="numeric",
                    auto_complete="one-time-code",
                    required=True,
                ),
                rx.button("Confirm", type="submit", loading=BuyState.busy, disabled=BuyState.busy),
            ),
            on_submit=BuyState.confirm_action,
            reset_on_submit=False,
        ),
        spacing="3",
        width="100%",
    )


def expired_step() -> rx.Component:
    """The checkout in the URL expired: say so plainly, one way on (not an error)."""
    return rx.vstack(
        rx.heading("This checkout expired", size="4"),
        rx.text(
            "It was not paid in time, so the eSIM held for it went back on sale. You have not "
            "been charged. Start again to get today's price and a fresh reservation.",
            size="2",
        ),
        rx.link(rx.button("Start again", size="3"), href=BuyState.restart_url),
        spacing="3",
        width="100%",
        data_testid="checkout-expired",
    )


def price_changed_step() -> rx.Component:
    """The plan's price moved since the checkout opened: nothing was charged; paying the new
    price needs the traveler's explicit yes."""
    return rx.vstack(
        rx.heading("The price changed", size="4"),
        rx.callout(BuyState.price_message, icon="info", size="2", width="100%"),
        rx.text("You have not been charged.", size="2"),
        rx.button(
            "Continue at ",
            BuyState.plan["price"],
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
                rx.heading("This plan is not available", size="6"),
                rx.link("Back to all plans", href="/"),
            ),
            rx.vstack(
                rx.heading("Checkout", size="7"),
                rx.cond(
                    BuyState.error != "",
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
                            ("action", action_step()),
                            ("expired", expired_step()),
                            ("price_changed", price_changed_step()),
                            rx.spinner(),
                        ),
                        width="100%",
                    ),
                    plan_summary(),
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

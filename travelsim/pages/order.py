"""Order page: live provisioning progress, then the way to the installation page."""

from __future__ import annotations

import reflex as rx

from travelsim.components.gift import order_gift_panel
from travelsim.components.layout import page
from travelsim.i18n import _, localized
from travelsim.state.order import OrderState


def _step(st: rx.Var) -> rx.Component:
    icon = rx.match(
        st["status"],
        ("done", rx.icon("circle-check", color=rx.color("green", 9))),
        ("running", rx.spinner(size="2")),
        ("failed", rx.icon("circle-alert", color=rx.color("amber", 9))),
        ("retrying", rx.icon("hourglass", color=rx.color("gray", 10))),
        rx.icon("circle", color=rx.color("gray", 8)),
    )
    return rx.hstack(
        rx.box(icon, flex_shrink="0", display="flex"),  # same size when the label wraps
        rx.text(st["label"]),
        rx.spacer(),
        rx.badge(
            st["status_label"],
            variant="soft",
            color_scheme=rx.match(st["status"], ("done", "green"), ("failed", "amber"), "gray"),
            flex_shrink="0",
            data_testid="step-badge",
        ),
        align="center",
        width="100%",
        data_testid="step",
        data_step=st["name"],
        data_status=st["status"],
    )


def _heading() -> tuple[rx.Component, ...]:
    """The reference, the destination bought (flag and name) and what was bought."""
    return (
        rx.heading(OrderState.heading, size="7"),
        rx.cond(
            OrderState.destination_name != "",
            rx.hstack(
                rx.text(OrderState.destination_flag, size="6", aria_hidden="true"),
                rx.text(OrderState.destination_name, size="4", weight="medium"),
                align="center",
                spacing="2",
                data_testid="order-destination",
            ),
        ),
        rx.text(
            rx.cond(OrderState.is_topup, _("Top-up:"), _("New eSIM:")),
            " ",
            OrderState.plan_title,
            " · ",
            OrderState.amount,
            color=rx.color("gray", 11),
            data_testid="order-summary",
        ),
    )


def _steps() -> rx.Component:
    return rx.card(
        rx.vstack(rx.foreach(OrderState.steps, _step), spacing="3", width="100%"),
        width="100%",
        max_width="40em",
    )


def _delivered() -> rx.Component:
    """Ready: a top-up links to the eSIM, a new eSIM to its installation page; an eSIM the
    viewer does not hold (a gift) to nothing: its installation is the recipient's. Refunded
    (its service withdrawn): says so, and never invites to install."""
    return rx.cond(
        OrderState.refunded,
        _refunded(),
        rx.cond(
            ~OrderState.holder,
            rx.callout(
                _("Your gift eSIM is ready."),
                icon="party-popper",
                color_scheme="green",
                data_testid="order-delivered",
            ),
            _holder_delivered(),
        ),
    )


def _refunded() -> rx.Component:
    return rx.callout(
        rx.cond(
            OrderState.is_topup,
            _("This order was refunded: its data plan was removed from your eSIM."),
            _("This order was refunded: its eSIM no longer works."),
        ),
        icon="undo-2",
        color_scheme="gray",
        data_testid="order-refunded",
    )


def _holder_delivered() -> rx.Component:
    return rx.cond(
        OrderState.is_topup,
        rx.callout(
            rx.vstack(
                rx.text(
                    _(
                        "Your new data plan is on your eSIM. If data does not resume within a "
                        "few minutes, turn airplane mode on and off."
                    )
                ),
                rx.link(rx.button(_("See your eSIM"), size="3"), href=OrderState.esim_url),
            ),
            icon="party-popper",
            color_scheme="green",
            data_testid="order-delivered",
        ),
        rx.callout(
            rx.vstack(
                rx.text(_("Your eSIM is ready. Install it before you travel.")),
                rx.link(rx.button(_("Install your eSIM"), size="3"), href=OrderState.install_url),
            ),
            icon="party-popper",
            color_scheme="green",
            data_testid="order-delivered",
        ),
    )


def _needs_attention() -> rx.Component:
    return rx.callout(
        _(
            "We could not finish setting up your eSIM. Our team has been alerted and will fix "
            "it. The amount held on your card is released: you are not charged for it. No need "
            "to buy again."
        ),
        icon="life-buoy",
        color_scheme="amber",
        data_testid="order-needs-attention",
    )


def _in_progress() -> rx.Component:
    """Still setting up: "we keep trying" while a retry is coming, else "a few seconds"."""
    return rx.cond(
        OrderState.retrying,
        rx.callout(
            rx.cond(
                OrderState.is_topup,
                _(
                    "We are still adding the data plan to your eSIM. The mobile network is "
                    "slow to answer right now, so we keep trying automatically; we will email "
                    "you as soon as it is done. No need to buy again."
                ),
                _(
                    "We are still setting up your eSIM. The mobile network is slow to answer "
                    "right now, so we keep trying automatically; we will email you as soon as "
                    "it is ready. No need to buy again."
                ),
            ),
            icon="hourglass",
            color_scheme="blue",
            role="status",
            data_testid="order-retrying",
        ),
        rx.text(
            rx.cond(
                OrderState.is_topup,
                _(
                    "Adding the data plan to your eSIM… this usually takes a few seconds. You "
                    "can leave this page; we will email you when it is done."
                ),
                _(
                    "Setting up your eSIM… this usually takes a few seconds. You can leave this "
                    "page; we will email you when it is ready."
                ),
            ),
            size="2",
            color=rx.color("gray", 11),
            role="status",
        ),
    )


def order_page() -> rx.Component:
    return page(
        rx.cond(
            OrderState.not_found,
            rx.vstack(
                rx.heading(_("Order not found"), size="6"),
                rx.link(_("Back home"), href=localized("/")),
            ),
            rx.vstack(
                *_heading(),
                order_gift_panel(),
                _steps(),
                rx.match(
                    OrderState.status,
                    ("delivered", _delivered()),
                    ("needs_attention", _needs_attention()),
                    _in_progress(),
                ),
                spacing="4",
                width="100%",
            ),
        )
    )

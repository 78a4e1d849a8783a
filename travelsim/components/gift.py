"""Gift pieces (docs/business-rules.md#gifts): the checkout's "this eSIM is for someone else"
box and the buyer's gift panel on the order page. Layout only: the states are in
``state/gift.py``."""

from __future__ import annotations

import reflex as rx

from travelsim.i18n import _
from travelsim.models import GiftStatus
from travelsim.state.gift import GiftCheckoutState, GiftPanelState


def _gift_form() -> rx.Component:
    s = GiftCheckoutState
    return rx.form(
        rx.vstack(
            rx.el.label(_("Recipient's email"), html_for="gift-recipient", font_weight="500"),
            rx.input(
                id="gift-recipient",
                name="recipient",
                type="email",
                required=True,
                default_value=s.recipient,
                auto_complete="off",
                size="3",
                width="100%",
            ),
            rx.el.label(_("Message (optional)"), html_for="gift-message", font_weight="500"),
            rx.text_area(
                id="gift-message",
                name="message",
                default_value=s.message,
                max_length=s.message_max,
                rows="3",
                width="100%",
            ),
            rx.button(_("Save gift details"), type="submit", variant="soft", size="2"),
            spacing="2",
            width="100%",
        ),
        on_submit=GiftCheckoutState.save,
        reset_on_submit=False,
        width="100%",
        data_testid="gift-form",
    )


def checkout_gift_box() -> rx.Component:
    """A new-eSIM checkout's gift option: the tick box, the recipient's address and a short
    message; once saved, who it will be sent to."""
    s = GiftCheckoutState
    return rx.card(
        rx.vstack(
            rx.checkbox(
                _("This eSIM is for someone else"),
                checked=s.is_gift,
                on_change=GiftCheckoutState.set_is_gift,
                data_testid="gift-toggle",
            ),
            rx.cond(
                s.is_gift,
                rx.vstack(
                    rx.text(
                        _(
                            "Once the eSIM is ready we email them a link to claim it. The QR "
                            "code is theirs: you keep the order and the receipt."
                        ),
                        size="2",
                        color=rx.color("gray", 11),
                    ),
                    _gift_form(),
                    rx.cond(
                        s.saved_for == "",
                        rx.callout(
                            _("Save the gift details before you pay, or the eSIM is yours."),
                            icon="info",
                            color_scheme="amber",
                            size="1",
                            data_testid="gift-unsaved",
                        ),
                    ),
                    rx.cond(
                        s.saved_for != "",
                        rx.callout(
                            rx.text(
                                _("Gift saved. We will email the claim link to:"),
                                " ",
                                rx.text.strong(s.saved_for),
                            ),
                            icon="gift",
                            color_scheme="green",
                            size="1",
                            data_testid="gift-saved",
                        ),
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
            rx.cond(
                s.error != "",
                rx.callout(
                    s.error,
                    icon="triangle-alert",
                    color_scheme="red",
                    role="alert",
                    size="1",
                    data_testid="gift-error",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="gift-box",
    )


def _take_back() -> rx.Component:
    s = GiftPanelState
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button(_("Take the gift back"), variant="outline", color_scheme="red", size="2")
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title(_("Take the gift back?")),
            rx.alert_dialog.description(
                _(
                    "The link we sent stops working and the eSIM becomes yours, with its QR "
                    "code and installation page."
                )
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button(_("Keep it a gift"), variant="soft")),
                rx.alert_dialog.action(
                    rx.button(_("Take it back"), color_scheme="red", on_click=s.take_back)
                ),
                spacing="3",
                justify="end",
                margin_top="1em",
            ),
        ),
    )


def order_gift_panel() -> rx.Component:
    """The buyer's view of a gift order: to whom, when, claimed or not, and the actions
    (send the email again, take the gift back) while it is not claimed."""
    s = GiftPanelState
    return rx.cond(
        s.status != "",
        rx.callout(
            rx.vstack(
                rx.text(_("This eSIM is a gift"), weight="bold"),
                rx.text(s.line, data_testid="gift-line"),
                rx.cond(
                    s.status != GiftStatus.CLAIMED,
                    rx.text(
                        _("The QR code and installation details are for the recipient."),
                        size="2",
                    ),
                ),
                rx.cond(
                    s.can_resend | s.can_take_back,
                    rx.flex(
                        rx.cond(
                            s.can_resend,
                            rx.button(
                                _("Send the email again"),
                                on_click=s.resend,
                                variant="soft",
                                size="2",
                            ),
                        ),
                        rx.cond(s.can_take_back, _take_back()),
                        spacing="3",
                        wrap="wrap",
                    ),
                ),
                rx.cond(s.notice != "", rx.text(s.notice, size="2", role="status")),
                rx.cond(s.error != "", rx.text(s.error, size="2", role="alert", color="red")),
                spacing="2",
                width="100%",
            ),
            icon="gift",
            color_scheme="violet",
            width="100%",
            max_width="40em",
            data_testid="gift-panel",
        ),
    )

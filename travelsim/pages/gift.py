"""The gift claim page, ``/gifts/claim?token=…`` (docs/business-rules.md#gifts): sign in or
sign up with the gift's address, then one button moves the eSIM into the account."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page
from travelsim.i18n import _
from travelsim.state.gift_claim import GiftClaimState


def _message() -> rx.Component:
    return rx.cond(
        GiftClaimState.message != "",
        rx.blockquote(GiftClaimState.message, white_space="pre-wrap", data_testid="gift-message"),
    )


def _ready() -> rx.Component:
    return rx.vstack(
        rx.text(
            _("Someone sent you an eSIM with a data plan. Claim it to add it to your account.")
        ),
        _message(),
        rx.button(
            rx.icon("gift"),
            _("Claim my eSIM"),
            on_click=GiftClaimState.claim,
            loading=GiftClaimState.busy,
            disabled=GiftClaimState.busy,
            size="3",
            data_testid="gift-claim",
        ),
        spacing="4",
        width="100%",
    )


def _refused() -> rx.Component:
    signin_again = (GiftClaimState.problem == "signed_out") | (
        GiftClaimState.problem == "wrong_account"
    )
    return rx.vstack(
        rx.callout(
            GiftClaimState.text,
            icon=rx.cond(signin_again, "log-in", "circle-alert"),
            color_scheme=rx.cond(signin_again, "blue", "amber"),
            role="status",
            data_testid="gift-problem",
            data_problem=GiftClaimState.problem,
        ),
        rx.cond(
            signin_again,
            rx.flex(
                rx.link(rx.button(_("Sign in"), size="3"), href=GiftClaimState.signin_url),
                rx.link(
                    rx.button(_("Create account"), size="3", variant="outline"),
                    href=GiftClaimState.signup_url,
                ),
                spacing="3",
                wrap="wrap",
            ),
        ),
        spacing="4",
        width="100%",
    )


def gift_claim_page() -> rx.Component:
    return page(
        rx.vstack(
            rx.heading(_("Your gift eSIM"), size="7"),
            rx.cond(
                GiftClaimState.loaded,
                rx.cond(GiftClaimState.problem == "", _ready(), _refused()),
                rx.spinner(),
            ),
            spacing="4",
            width="100%",
            max_width="36em",
        )
    )

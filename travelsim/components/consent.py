"""The checkout's "before you pay" box (docs/legal.md#acceptance-at-checkout): the refund
rules in short, the terms box (linked to the terms page, with its version) and the
immediate-start box. Layout only: the state is ``state/buy_consent.py``; the server refuses a
payment without both boxes whatever the page shows."""

from __future__ import annotations

import reflex as rx

from travelsim.i18n import N_, _, localized
from travelsim.state.buy_consent import AUTO_TOPUP_TEXT, IMMEDIATE_START_TEXT, BuyConsentState

#: The refund rules shown before payment (docs/business-rules.md#voids-and-refunds and
#: docs/legal.md#withdrawal-right), in the page's language.
REFUND_RULES = (
    N_(
        "You are charged only once your eSIM or top-up is delivered; if delivery fails, the "
        "amount held on your card is released."
    ),
    N_("We refund an eSIM in full while it has not been installed and no data has been used."),
    N_(
        "EU law gives you 14 days to withdraw. Once you ask for an immediate start, "
        "withdrawing costs the service provided until then, and the right ends when the eSIM "
        "starts downloading or the service has been fully provided."
    ),
)


def terms_link(label: str) -> rx.Component:
    """A link to the terms page in the page's language, opening in a new tab (the checkout
    stays as it is)."""
    return rx.link(
        label,
        rx.icon("external-link", size=12, aria_hidden="true"),
        href=localized("/terms"),
        is_external=True,
        size="2",
        display="inline-flex",
        align_items="center",
        gap="4px",
        data_testid="consent-terms-link",
    )


def consent_box() -> rx.Component:
    """Refund rules, then the two boxes the payment needs."""
    s = BuyConsentState
    return rx.card(
        rx.vstack(
            rx.heading(_("Before you pay"), size="3", as_="h3"),
            rx.el.ul(
                *[
                    rx.el.li(rx.text(_(rule), size="2"), margin_bottom="4px")
                    for rule in REFUND_RULES
                ],
                padding_left="1.2em",
                margin="0",
                list_style_type="disc",
                data_testid="refund-rules",
            ),
            terms_link(_("Read the terms and conditions")),
            rx.checkbox(
                s.terms_label,
                checked=s.terms,
                on_change=BuyConsentState.set_terms,
                size="2",
                data_testid="accept-terms",
            ),
            rx.checkbox(
                _(IMMEDIATE_START_TEXT),
                checked=s.immediate_start,
                on_change=BuyConsentState.set_immediate_start,
                size="2",
                data_testid="accept-immediate-start",
            ),
            rx.cond(
                s.error != "",
                rx.callout(s.error, icon="triangle-alert", color_scheme="red", size="1"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="consent-box",
    )


def auto_topup_consent() -> rx.Component:
    """What confirming an automatic top-up also agrees to, with the terms linked."""
    return rx.vstack(
        rx.text(_(AUTO_TOPUP_TEXT), size="2", data_testid="auto-consent"),
        terms_link(_("Read the terms and conditions")),
        spacing="1",
    )

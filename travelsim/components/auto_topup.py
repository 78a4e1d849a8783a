"""The automatic top-up card of the eSIM page (``state/auto_topup.py``): the rule and its
statement, turning it on (with an explicit confirmation) or off, its charges and the next
trigger point (docs/business-rules.md#automatic-top-up)."""

from __future__ import annotations

import reflex as rx

from travelsim.components.consent import auto_topup_consent
from travelsim.i18n import _
from travelsim.state.auto_topup import AutoTopupState as S


def _select(
    items: rx.Var, value: rx.Var, on_change: object, label: str, testid: str
) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.select.root(
            rx.select.trigger(aria_label=label, width="100%", data_testid=testid),
            rx.select.content(
                rx.foreach(items, lambda i: rx.select.item(i["label"], value=i["id"]))
            ),
            value=value,
            on_change=on_change,
        ),
        spacing="1",
        width="100%",
    )


def _form() -> rx.Component:
    caps = [str(n) for n in range(1, 11)]
    return rx.vstack(
        rx.grid(
            _select(
                S.thresholds,
                S.threshold,
                S.set_threshold,
                _("When data left falls to"),
                "auto-threshold",
            ),
            _select(S.plans, S.plan_id, S.set_plan, _("Buy this plan"), "auto-plan"),
            _select(S.cards, S.card_id, S.set_card, _("With this saved card"), "auto-card"),
            rx.vstack(
                rx.text(_("At most, per calendar month (UTC)"), size="2", weight="medium"),
                rx.select(
                    caps, value=S.cap, on_change=S.set_cap, width="100%", data_testid="auto-cap"
                ),
                spacing="1",
                width="100%",
            ),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="3",
            width="100%",
        ),
        rx.cond(
            S.confirming,
            rx.callout(
                rx.vstack(
                    rx.text(S.statement, data_testid="auto-statement"),
                    auto_topup_consent(),
                    rx.hstack(
                        rx.button(
                            _("Confirm and turn on"), on_click=S.confirm, data_testid="auto-confirm"
                        ),
                        rx.button(
                            _("Cancel"), variant="soft", color_scheme="gray", on_click=S.cancel
                        ),
                        wrap="wrap",
                    ),
                ),
                icon="info",
                width="100%",
            ),
            rx.button(_("Turn on automatic top-up"), on_click=S.review, data_testid="auto-review"),
        ),
        spacing="3",
        width="100%",
    )


def _charges() -> rx.Component:
    return rx.cond(
        S.charges.length() > 0,
        rx.vstack(
            rx.text(_("Automatic charges"), size="2", weight="medium"),
            rx.foreach(
                S.charges,
                lambda c: rx.hstack(
                    rx.text(c["at"], size="2"),
                    rx.text(c["plan"], size="2"),
                    rx.text(c["amount"], size="2"),
                    rx.text(c["status"], size="2", color=rx.color("gray", 11)),
                    rx.cond(
                        c["order_url"] != "", rx.link(_("Order"), href=c["order_url"], size="2")
                    ),
                    rx.cond(
                        c["pay_url"] != "",
                        rx.link(_("Finish the payment"), href=c["pay_url"], size="2"),
                    ),
                    wrap="wrap",
                    spacing="3",
                    data_testid="auto-charge",
                ),
            ),
            spacing="1",
            width="100%",
        ),
    )


def auto_topup_card() -> rx.Component:
    """The card (nothing for an eSIM the state did not load)."""
    return rx.cond(
        S.esim_id != "",
        rx.card(
            rx.vstack(
                rx.heading(_("Automatic top-up"), size="4"),
                rx.cond(
                    S.stop_text != "",
                    rx.callout(
                        S.stop_text,
                        icon="triangle_alert",
                        color_scheme="amber",
                        data_testid="auto-stopped",
                    ),
                ),
                rx.cond(
                    S.enabled,
                    rx.vstack(
                        rx.text(S.rule_text, data_testid="auto-rule"),
                        rx.cond(
                            S.next_text != "",
                            rx.text(S.next_text, size="2", data_testid="auto-next"),
                        ),
                        rx.button(
                            _("Turn off"),
                            variant="soft",
                            color_scheme="red",
                            on_click=S.turn_off,
                            data_testid="auto-off",
                        ),
                        spacing="2",
                        width="100%",
                    ),
                    rx.cond(
                        S.cards.length() == 0,
                        rx.text(
                            _(
                                "Automatic top-up pays with a saved card, and you have none. "
                                "Keep a card "
                                "when you pay, then manage it on "
                            ),
                            rx.link(_("your account page"), href=S.cards_url),
                            ".",
                            size="2",
                        ),
                        rx.cond(
                            S.plans.length() == 0,
                            rx.text(_("No top-up plan is offered for this eSIM today."), size="2"),
                            _form(),
                        ),
                    ),
                ),
                rx.cond(S.error != "", rx.text(S.error, color=rx.color("red", 11), size="2")),
                _charges(),
                spacing="3",
                width="100%",
            ),
            width="100%",
            data_testid="auto-topup",
        ),
    )

"""Buy more data for an eSIM: plans, the preview of the result, then checkout."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page
from travelsim.i18n import _, localized
from travelsim.pages.esim import support_contact
from travelsim.state.topup import TopupState


def _offer(o: rx.Var) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.vstack(
                rx.heading(o["title"], size="3"),
                rx.text(o["volume"], " · ", o["validity"], " · ", o["starts_label"], size="2"),
                spacing="1",
            ),
            rx.spacer(),
            rx.vstack(
                rx.text(o["price"], weight="bold"),
                rx.cond(
                    o["price_note"] != "",
                    rx.text(o["price_note"], size="1", data_testid="topup-price-note"),
                ),
                spacing="0",
                align="end",
            ),
            rx.button(
                rx.cond(TopupState.selected == o["plan_id"], _("Selected"), _("Preview")),
                variant=rx.cond(TopupState.selected == o["plan_id"], "solid", "soft"),
                on_click=TopupState.choose(o["plan_id"]),
            ),
            align="center",
            width="100%",
            wrap="wrap",
        ),
        width="100%",
        data_testid="topup-offer",
        data_plan_id=o["plan_id"],
    )


def _preview_row(p: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(p["order"]),
        rx.table.cell(rx.text(p["name"], weight=rx.cond(p["new"] != "", "bold", "regular"))),
        rx.table.cell(p["data"]),
        rx.table.cell(p["starts"]),
        rx.table.cell(p["expiry"]),
        data_testid="preview-row",
    )


def preview() -> rx.Component:
    return rx.cond(
        TopupState.selected != "",
        rx.card(
            rx.vstack(
                rx.heading(_("Your eSIM after this purchase"), size="4"),
                rx.box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell(_("Use order")),
                                rx.table.column_header_cell(_("Plan")),
                                rx.table.column_header_cell(_("Data")),
                                rx.table.column_header_cell(_("Validity")),
                                rx.table.column_header_cell(_("Expires")),
                            )
                        ),
                        rx.table.body(rx.foreach(TopupState.preview, _preview_row)),
                        size="1",
                    ),
                    overflow_x="auto",
                    width="100%",
                ),
                rx.text(TopupState.totals, size="2", weight="medium"),
                rx.cond(TopupState.hint != "", rx.callout(TopupState.hint, icon="info", size="1")),
                rx.cond(
                    TopupState.allowed,
                    rx.button(
                        _("Continue to payment"),
                        on_click=TopupState.start,
                        loading=TopupState.busy,
                        disabled=TopupState.busy,
                        size="3",
                    ),
                    rx.callout(
                        rx.vstack(
                            rx.text(TopupState.refusal),
                            rx.cond(
                                TopupState.support.contains("email"),
                                support_contact(TopupState.support),
                            ),
                            spacing="1",
                        ),
                        icon="ban",
                        color_scheme="red",
                        data_testid="topup-refused",
                    ),
                ),
                rx.text(
                    _(
                        "After paying, your data resumes within minutes. If it does not, turn "
                        "airplane mode on and off."
                    ),
                    size="1",
                    color=rx.color("gray", 11),
                ),
                width="100%",
            ),
            width="100%",
        ),
    )


def topup_page() -> rx.Component:
    return page(
        rx.cond(
            TopupState.not_found,
            rx.vstack(
                rx.heading(_("eSIM not found"), size="6"),
                rx.link(_("My eSIMs"), href=localized("/account")),
            ),
            rx.vstack(
                rx.link(_("← Back to the eSIM"), href=TopupState.esim_url),
                rx.heading(_("Buy more data"), size="7"),
                rx.text(
                    _("Same eSIM, no new QR code: the new plan is added to it."),
                    color=rx.color("gray", 11),
                ),
                rx.cond(
                    TopupState.error != "",
                    rx.callout(
                        TopupState.error, icon="triangle-alert", color_scheme="red", role="alert"
                    ),
                ),
                rx.grid(
                    rx.vstack(rx.foreach(TopupState.offers, _offer), spacing="2", width="100%"),
                    preview(),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="4",
                    width="100%",
                ),
                spacing="4",
                width="100%",
            ),
        )
    )

"""The eSIM page's history: the data plans on the eSIM and the data used per day (static texts
translated when the page is built, the rows' words by the state: docs/i18n.md)."""

from __future__ import annotations

import reflex as rx

from travelsim.components.tables import STACKED_TABLE, stacked_cell
from travelsim.i18n import _
from travelsim.state.esim import EsimState


def _addon_row(a: rx.Var) -> rx.Component:
    color = rx.match(
        a["state"],
        ("active", "green"),
        ("waiting", "blue"),
        ("used_up", "gray"),
        ("expired", "gray"),
        "amber",
    )
    return rx.table.row(
        stacked_cell(
            _("Plan"), rx.text(a["name"], weight=rx.cond(a["current"] != "", "bold", "regular"))
        ),
        stacked_cell(_("State"), rx.badge(a["state_label"], color_scheme=color)),
        stacked_cell(_("Data"), a["data"], data_testid="addon-data"),
        stacked_cell(_("Validity"), a["validity"], data_testid="addon-validity"),
        data_testid="addon",
        data_state=a["state"],
    )


def addons_table() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(_("Data plans on this eSIM"), size="4"),
            rx.cond(
                EsimState.addons.length() == 0,
                rx.cond(
                    EsimState.usage_known,
                    rx.text(_("No data plan on this eSIM yet."), size="2"),
                    rx.text(
                        _("Your data plans show here once the network reports them."),
                        size="2",
                        color=rx.color("gray", 11),
                        data_testid="plans-unknown",
                    ),
                ),
            ),
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell(_("Plan")),
                            rx.table.column_header_cell(_("State")),
                            rx.table.column_header_cell(_("Data")),
                            rx.table.column_header_cell(_("Validity")),
                        )
                    ),
                    rx.table.body(rx.foreach(EsimState.addons, _addon_row)),
                    size="1",
                    width="100%",
                ),
                display=rx.cond(EsimState.addons.length() == 0, "none", "block"),
                width="100%",
                style=STACKED_TABLE,
            ),
            rx.cond(
                EsimState.addons.length() > 0,
                rx.text(
                    _("A new plan waits until the current one is used up or expires."),
                    size="1",
                    color=rx.color("gray", 11),
                ),
            ),
            width="100%",
        ),
        width="100%",
    )


def _usage_bar(day: rx.Var) -> rx.Component:
    return rx.box(
        rx.box(
            height=day["height"],
            width="100%",
            background="#12a594",
            border_radius="3px 3px 0 0",
        ),
        title=day["label"],
        display="flex",
        align_items="flex-end",
        flex="1",
        height="100%",
        min_width="3px",
        data_testid="usage-bar",
    )


def usage_chart() -> rx.Component:
    """Bars of data used per day (plain elements: no chart library on this page)."""
    first = EsimState.daily[0]["day"]
    last = EsimState.daily[EsimState.daily.length() - 1]["day"]
    return rx.card(
        rx.vstack(
            rx.heading(_("Data used per day"), size="4"),
            rx.cond(
                EsimState.daily_summary != "",
                rx.vstack(
                    rx.text(
                        EsimState.daily_peak_text,
                        size="1",
                        color=rx.color("gray", 11),
                    ),
                    rx.hstack(
                        rx.foreach(EsimState.daily, _usage_bar),
                        spacing="1",
                        align="end",
                        height="160px",
                        width="100%",
                        border_bottom=f"1px solid {rx.color('gray', 7)}",
                        custom_attrs={"role": "img"},
                        aria_label=EsimState.daily_summary,
                    ),
                    rx.hstack(
                        rx.text(first, size="1", color=rx.color("gray", 11)),
                        rx.text(last, size="1", color=rx.color("gray", 11)),
                        justify="between",
                        width="100%",
                    ),
                    width="100%",
                    spacing="1",
                    data_testid="usage-chart",
                ),
                rx.cond(
                    EsimState.usage_known,
                    rx.text(
                        _("No data use reported yet."),
                        size="2",
                        color=rx.color("gray", 11),
                        data_testid="usage-none",
                    ),
                    rx.text(
                        _("Usage not reported by the network yet."),
                        size="2",
                        color=rx.color("gray", 11),
                        data_testid="usage-unknown",
                    ),
                ),
            ),
            width="100%",
        ),
        width="100%",
    )

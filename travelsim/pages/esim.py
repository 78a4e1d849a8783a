"""One eSIM: remaining data and validity gauges, add-ons, usage history, actions."""

from __future__ import annotations

import reflex as rx

from travelsim.components.gauges import countdown, radial_gauge
from travelsim.components.layout import page
from travelsim.state.esim import EsimState

#: Tables that become stacked rows below 48em (phones): the header row is hidden and
#: each cell shows its column name (its ``data-label``) before its value.
STACKED_TABLE = {
    "@media (max-width: 47.99em)": {
        "& thead": {"display": "none"},
        "& table, & tbody, & tr": {"display": "block", "width": "100%"},
        # Radix sizes its table with height 0 (a table-layout trick): as a block, say auto.
        "& table": {"height": "auto"},
        "& tr": {
            "padding": "0.5em 0",
            "border-bottom": "1px solid var(--gray-a6)",
        },
        "& td": {
            "display": "flex",
            "justify-content": "space-between",
            "align-items": "baseline",
            "gap": "1em",
            "padding": "0.2em 0",
            "box-shadow": "none",
            "text-align": "right",
            "overflow-wrap": "anywhere",
        },
        "& td::before": {
            "content": "attr(data-label)",
            "color": "var(--gray-11)",
            "text-align": "left",
            "flex-shrink": "0",
        },
    },
}


def stacked_cell(
    label: str, *children: rx.Component | rx.Var | str, **props: object
) -> rx.Component:
    """A table cell named ``label`` (shown before its value on phones: STACKED_TABLE)."""
    return rx.table.cell(*children, custom_attrs={"data-label": label}, **props)


def data_gauge() -> rx.Component:
    return radial_gauge(
        percent=EsimState.percent,
        known=EsimState.known,
        label="Data remaining",
        value_text=EsimState.data_text,
        center_top=rx.heading(EsimState.gauge_top, size="5"),
        center_bottom=rx.text(
            EsimState.gauge_bottom,
            size="1",
            color=rx.color("gray", 11),
        ),
        color="#12a594",
        testid="data-gauge",
    )


def validity_gauge() -> rx.Component:
    started = EsimState.expires_iso != ""
    return radial_gauge(
        percent=EsimState.validity_percent,
        known=started,
        label="Validity remaining",
        value_text=rx.cond(started, EsimState.time_left_text + " left", EsimState.validity_value),
        center_top=rx.cond(
            started,
            rx.heading(countdown(target=EsimState.expires_iso), size="4"),
            rx.heading(EsimState.validity_top, size="4"),
        ),
        center_bottom=rx.text(
            rx.cond(started, "validity left", EsimState.validity_bottom),
            size="1",
            color=rx.color("gray", 11),
        ),
        color="#f5a524",
        testid="validity-gauge",
    )


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
            "Plan", rx.text(a["name"], weight=rx.cond(a["current"] != "", "bold", "regular"))
        ),
        stacked_cell("State", rx.badge(a["state_label"], color_scheme=color)),
        stacked_cell("Data", a["data"], data_testid="addon-data"),
        stacked_cell("Validity", a["validity"], data_testid="addon-validity"),
        data_testid="addon",
        data_state=a["state"],
    )


def addons_table() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Data plans on this eSIM", size="4"),
            rx.cond(
                EsimState.addons.length() == 0,
                rx.cond(
                    EsimState.usage_known,
                    rx.text("No data plan on this eSIM yet.", size="2"),
                    rx.text(
                        "Your data plans show here once the network reports them.",
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
                            rx.table.column_header_cell("Plan"),
                            rx.table.column_header_cell("State"),
                            rx.table.column_header_cell("Data"),
                            rx.table.column_header_cell("Validity"),
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
                    "A new plan waits until the current one is used up or expires.",
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
            rx.heading("Data used per day", size="4"),
            rx.cond(
                EsimState.daily_summary != "",
                rx.vstack(
                    rx.text(
                        "Busiest day: " + EsimState.daily_peak_text,
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
                        "No data use reported yet.",
                        size="2",
                        color=rx.color("gray", 11),
                        data_testid="usage-none",
                    ),
                    rx.text(
                        "Usage not reported by the network yet.",
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


def _replacement(prominent: bool) -> rx.Component:
    """The replacement request: a button when ``prominent``, else a quiet link-like one."""
    return rx.cond(
        EsimState.replacement_open,
        rx.text("Replacement requested: our team will contact you.", weight="bold", size="2"),
        rx.cond(
            EsimState.can_request_replacement,
            rx.button(
                "Request a replacement",
                size="2" if prominent else "1",
                variant="solid" if prominent else "ghost",
                color_scheme="amber" if prominent else "gray",
                on_click=EsimState.request_replacement,
                width="fit-content",
            ),
        ),
    )


def install_status() -> rx.Component:
    """Installed/downloaded is good news (calm); deleted or in error offers a replacement
    prominently; otherwise the way to install."""
    return rx.cond(
        EsimState.install_problem,
        rx.callout(
            rx.vstack(
                rx.text(EsimState.install_problem_text),
                _replacement(prominent=True),
                spacing="2",
            ),
            icon="shield-alert",
            color_scheme="amber",
            data_testid="install-problem",
        ),
        rx.cond(
            EsimState.install_ok_text != "",
            rx.callout(
                rx.vstack(
                    rx.text(EsimState.install_ok_text, data_testid="install-ok"),
                    rx.hstack(
                        rx.text("Problem with this eSIM?", size="1", color=rx.color("gray", 11)),
                        _replacement(prominent=False),
                        spacing="2",
                        align="center",
                        wrap="wrap",
                    ),
                    spacing="1",
                ),
                icon="circle-check",
                color_scheme="green",
                variant="surface",
            ),
            rx.callout(
                rx.hstack(
                    rx.text(EsimState.install_label, ". "),
                    rx.link(
                        "Installation instructions",
                        href="/esims/" + EsimState.esim_id + "/install",
                    ),
                    wrap="wrap",
                ),
                icon="smartphone",
            ),
        ),
    )


def data_ended() -> rx.Component:
    """No data left (used up, expired, no plan): say so and lead to buying more."""
    return rx.cond(
        EsimState.ended_text != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("circle-alert")),
            rx.flex(
                rx.vstack(
                    rx.text(EsimState.ended_text, weight="bold"),
                    rx.text(
                        "Buy more data to keep using this eSIM: it stays on your phone.",
                        size="2",
                    ),
                    spacing="1",
                ),
                rx.link(
                    rx.button(rx.icon("plus", size=16), "Buy more data", size="3"),
                    href="/esims/" + EsimState.esim_id + "/topup",
                    flex_shrink="0",
                ),
                direction=rx.breakpoints(initial="column", sm="row"),
                spacing="3",
                align=rx.breakpoints(initial="start", sm="center"),
                justify="between",
                flex="1",
            ),
            size="2",
            width="100%",
            display="flex",  # not Radix's grid: the text and button use the whole width
            gap="var(--space-3)",
            data_testid="data-ended",
        ),
    )


def support_contact(support: rx.Var) -> rx.Component:
    """The line "Contact support: <email> · <phone> · <web page>" as links, from a
    ``{"email", "phone", "tel", "url"}`` dict (phone and url shown only when set)."""
    return rx.text(
        "Contact support: ",
        rx.link(support["email"], href="mailto:" + support["email"]),
        rx.cond(
            support["phone"] != "",
            rx.text.span(" · ", rx.link(support["phone"], href="tel:" + support["tel"])),
        ),
        rx.cond(
            support["url"] != "",
            rx.text.span(" · ", rx.link(support["url"], href=support["url"], is_external=True)),
        ),
        size="2",
        data_testid="support-contact",
    )


def esim_page() -> rx.Component:
    return page(
        rx.cond(
            EsimState.not_found,
            rx.vstack(rx.heading("eSIM not found", size="6"), rx.link("My eSIMs", href="/account")),
            rx.vstack(
                rx.flex(
                    rx.vstack(
                        rx.heading(EsimState.title, size="7", data_testid="esim-title"),
                        rx.text(
                            EsimState.destination,
                            " · ICCID ",
                            rx.code(EsimState.iccid),
                            size="2",
                            color=rx.color("gray", 11),
                        ),
                        spacing="1",
                    ),
                    rx.spacer(),
                    rx.hstack(
                        rx.button(
                            rx.icon("refresh-cw", size=16),
                            "Refresh now",
                            on_click=EsimState.refresh,
                            loading=EsimState.refreshing,
                            variant="soft",
                        ),
                        rx.cond(
                            ~EsimState.suspended_by_staff,
                            rx.link(
                                rx.button(rx.icon("plus", size=16), "Buy more data"),
                                href="/esims/" + EsimState.esim_id + "/topup",
                            ),
                        ),
                        spacing="2",
                    ),
                    direction=rx.breakpoints(initial="column", sm="row"),
                    spacing="3",
                    width="100%",
                ),
                rx.cond(
                    EsimState.refresh_message != "",
                    rx.text(EsimState.refresh_message, size="2", role="status"),
                ),
                rx.cond(
                    EsimState.suspended_by_staff,
                    rx.callout(
                        rx.vstack(
                            rx.text(EsimState.suspended_text, weight="bold"),
                            support_contact(EsimState.support),
                            spacing="1",
                        ),
                        icon="octagon-alert",
                        color_scheme="red",
                        data_testid="esim-suspended",
                    ),
                    rx.fragment(data_ended(), install_status()),
                ),
                rx.card(
                    rx.flex(
                        rx.vstack(
                            data_gauge(), rx.text(EsimState.data_text, size="2"), align="center"
                        ),
                        rx.vstack(
                            validity_gauge(),
                            rx.cond(
                                EsimState.expires_text != "",
                                rx.text(
                                    "Expires ",
                                    EsimState.expires_text,
                                    size="2",
                                    data_testid="expires",
                                ),
                            ),
                            align="center",
                        ),
                        rx.vstack(
                            rx.text(EsimState.clock_text, size="2", data_testid="clock-text"),
                            rx.cond(
                                EsimState.projection_text != "",
                                rx.callout(
                                    EsimState.projection_text,
                                    icon="trending-down",
                                    size="1",
                                    color_scheme=rx.cond(
                                        EsimState.projection_warning, "amber", "gray"
                                    ),
                                ),
                            ),
                            rx.text(
                                EsimState.updated_text,
                                size="1",
                                color=rx.color("gray", 11),
                                data_testid="updated",
                            ),
                            rx.text(
                                "Usage reaches us with a delay: networks report it after "
                                "rating, sometimes hours later.",
                                size="1",
                                color=rx.color("gray", 11),
                            ),
                            rx.cond(
                                EsimState.last_error != "",
                                rx.text(
                                    EsimState.last_error, size="1", color=rx.color("amber", 11)
                                ),
                            ),
                            spacing="2",
                            max_width="22em",
                        ),
                        direction=rx.breakpoints(initial="column", md="row"),
                        spacing="5",
                        align="center",
                        justify="between",
                        width="100%",
                    ),
                    width="100%",
                ),
                addons_table(),
                usage_chart(),
                rx.card(
                    rx.form(
                        rx.hstack(
                            rx.input(
                                name="nickname",
                                placeholder="Name this eSIM, e.g. Japan trip",
                                aria_label="eSIM name",
                                max_length=40,
                                width="min(18em, 60vw)",
                            ),
                            rx.button("Rename", type="submit", variant="soft"),
                        ),
                        on_submit=EsimState.rename,
                        reset_on_submit=True,
                    ),
                    rx.cond(
                        EsimState.rename_error != "",
                        rx.text(EsimState.rename_error, color=rx.color("red", 11), size="2"),
                    ),
                    width="100%",
                ),
                spacing="4",
                width="100%",
            ),
        )
    )

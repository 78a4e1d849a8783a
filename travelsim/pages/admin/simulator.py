"""``/admin/simulator``: the built-in simulator's clock and faults."""

from __future__ import annotations

from typing import Any

import reflex as rx

from travelsim.components.admin_widgets import card, mini_table, var_select
from travelsim.pages.admin.layout import admin_page
from travelsim.state.admin.base import AdminState
from travelsim.state.admin.simulator import AdminSimState


def _fault_row(f: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(f["id"]),
        rx.table.cell(f["operation"]),
        rx.table.cell(f["kind"]),
        rx.table.cell(f["count"]),
        rx.table.cell(f["fired"]),
        data_testid="fault-row",
    )


def _clock() -> rx.Component:
    """The simulator's time, and moving it forward by some hours."""
    s = AdminSimState
    return card(
        "Clock",
        rx.text("Simulator time: ", s.clock, data_testid="sim-clock"),
        rx.form(
            rx.flex(
                rx.input(
                    name="hours",
                    placeholder="Hours",
                    aria_label="Hours to advance",
                    type="number",
                    size="2",
                    width="8em",
                ),
                rx.button("Advance clock", type="submit"),
                spacing="2",
                wrap="wrap",
            ),
            on_submit=s.advance,
            reset_on_submit=True,
        ),
    )


def _faults() -> rx.Component:
    """Injecting a fault, the faults injected, and clearing them."""
    s = AdminSimState
    return card(
        "Faults",
        rx.form(
            rx.flex(
                rx.input(
                    name="operation",
                    placeholder="Operation (e.g. SubscribeAddon, *)",
                    aria_label="Operation",
                    size="2",
                ),
                var_select(s.fault_kinds, "kind", "Fault kind"),
                rx.input(
                    name="count",
                    default_value="1",
                    aria_label="Count",
                    type="number",
                    size="2",
                    width="6em",
                ),
                rx.button("Inject fault", type="submit"),
                spacing="2",
                wrap="wrap",
            ),
            on_submit=s.inject,
            reset_on_submit=False,
        ),
        mini_table(["Id", "Operation", "Kind", "Left", "Fired"], s.faults, _fault_row),
        rx.button(
            "Clear all faults",
            on_click=s.clear_faults,
            variant="soft",
            width="fit-content",
        ),
    )


def simulator_page() -> rx.Component:
    """``/admin/simulator``: the clock and the faults (on the simulator only)."""
    return admin_page(
        "Simulator",
        rx.cond(
            AdminState.on_simulator,
            rx.vstack(
                rx.text(
                    "The portal runs on the built-in SFT simulator. Data use and profile "
                    "status are set per eSIM on its page (eSIMs).",
                    size="2",
                ),
                _clock(),
                _faults(),
                width="100%",
                spacing="4",
            ),
            rx.text("Simulator controls exist only when the portal runs on the simulator."),
        ),
    )

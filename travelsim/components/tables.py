"""Tables that stay readable on a phone: below 48em each row becomes a stack of
"column name: value" lines (no horizontal scroll)."""

from __future__ import annotations

import reflex as rx

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

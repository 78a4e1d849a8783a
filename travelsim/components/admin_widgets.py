"""The staff admin's building blocks: filter forms and their fields, the sortable paged
table of a list state, small read-only tables, key-value lines, status badges, cards and
figures. Layout only: the states they are given hold the data and the handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx


def field(label: str, name: str, value: Any = "", **props: Any) -> rx.Component:
    """A labelled text input named ``name`` (id ``f-<name>``) showing ``value`` at first;
    ``props`` go to the input."""
    return rx.vstack(
        rx.el.label(label, html_for=f"f-{name}", font_size="12px", font_weight="500"),
        rx.input(
            id=f"f-{name}", name=name, default_value=value, size="2", aria_label=label, **props
        ),
        spacing="1",
        min_width="9em",
        flex="1",
    )


def choice(label: str, name: str, options: list[str], value: Any) -> rx.Component:
    """A labelled select named ``name`` of the fixed ``options``, ``value`` chosen at first."""
    return rx.vstack(
        rx.text(label, size="1", weight="medium"),
        rx.select.root(
            rx.select.trigger(aria_label=label),
            rx.select.content(*[rx.select.item(o, value=o) for o in options]),
            name=name,
            default_value=value,
            size="2",
        ),
        spacing="1",
        min_width="9em",
    )


def var_select(items: Any, name: str, label: str) -> rx.Component:
    """A select named ``name`` of the strings in the state list ``items``; ``label`` is its
    placeholder and accessible name."""
    return rx.select.root(
        rx.select.trigger(placeholder=label, aria_label=label),
        rx.select.content(rx.foreach(items, lambda o: rx.select.item(o, value=o))),
        name=name,
        size="2",
    )


def filters(on_submit: Any, *fields: rx.Component) -> rx.Component:
    """A list's filter form: ``fields`` then a Search button; the form's values go to
    ``on_submit`` (a ``search`` handler) and stay in the fields."""
    return rx.form(
        rx.flex(
            *fields,
            rx.button("Search", type="submit", size="2", align_self="end"),
            wrap="wrap",
            spacing="3",
            align="end",
            width="100%",
        ),
        on_submit=on_submit,
        reset_on_submit=False,
        width="100%",
    )


#: A table column: its label and the sort key the service accepts, or ``None`` (not sortable).
Column = tuple[str, str | None]


def _column_header(state: Any, label: str, key: str | None) -> rx.Component:
    """A column's header: a sort button showing the direction when ``key`` is set."""
    if key is None:
        return rx.table.column_header_cell(label)
    return rx.table.column_header_cell(
        rx.button(
            label,
            rx.cond(
                state.sort == key,
                rx.icon(rx.cond(state.desc, "arrow-down", "arrow-up"), size=12),
                rx.icon("arrow-up-down", size=12, color=rx.color("gray", 8)),
            ),
            variant="ghost",
            size="1",
            on_click=state.sort_by(key),
            aria_label=f"Sort by {label}",
        )
    )


def _pager(state: Any, testid: str) -> rx.Component:
    """Previous, "Page p of n · count" (``<testid>-count``), Next."""
    return rx.hstack(
        rx.button(
            rx.icon("chevron-left", size=14),
            "Previous",
            size="1",
            variant="soft",
            disabled=state.page <= 1,
            on_click=state.prev_page,
        ),
        rx.text(
            "Page ",
            state.page,
            " of ",
            state.pages,
            " · ",
            state.count_label,
            size="1",
            data_testid=f"{testid}-count",
        ),
        rx.button(
            "Next",
            rx.icon("chevron-right", size=14),
            size="1",
            variant="soft",
            disabled=state.page >= state.pages,
            on_click=state.next_page,
        ),
        align="center",
        spacing="3",
    )


def table(
    state: Any,
    columns: list[Column],
    row: Callable[[Any], rx.Component],
    testid: str,
) -> rx.Component:
    """A sortable table of ``state.rows`` (a list state, ``ListMixin``) with a pager:
    ``columns`` are (label, sort key or ``None``), ``row`` draws one row, ``testid`` names
    the table (and ``<testid>-count`` the page line); sorting and paging ask the server."""
    headers = [_column_header(state, label, key) for label, key in columns]
    return rx.vstack(
        rx.box(
            rx.table.root(
                rx.table.header(rx.table.row(*headers)),
                rx.table.body(rx.foreach(state.rows, row)),
                size="1",
                variant="surface",
                data_testid=testid,
            ),
            overflow_x="auto",
            width="100%",
        ),
        _pager(state, testid),
        width="100%",
        spacing="2",
    )


def kv(label: str, value: Any, testid: str | None = None) -> rx.Component:
    """One "label: value" line of a details card (``testid`` on the value)."""
    return rx.hstack(
        rx.text(label, size="2", color=rx.color("gray", 11), min_width="10em"),
        rx.text(value, size="2", data_testid=testid, word_break="break-all"),
        align="start",
        width="100%",
    )


def badge(value: Any) -> rx.Component:
    """A status as a soft badge, coloured by the status (green done, amber attention, red
    failed, gray otherwise)."""
    return rx.badge(
        value,
        variant="soft",
        color_scheme=rx.match(
            value,
            ("delivered", "green"),
            ("ok", "green"),
            ("done", "green"),
            ("active", "green"),
            ("Active", "green"),
            ("needs_attention", "amber"),
            ("refused", "amber"),
            ("failed", "red"),
            ("failing", "red"),
            ("degraded", "amber"),
            ("stale", "amber"),
            ("Suspended", "red"),
            "gray",
        ),
    )


def card(title: str, *children: rx.Component, **props: Any) -> rx.Component:
    """A full-width card headed ``title`` holding ``children``; ``props`` go to the card."""
    return rx.card(
        rx.vstack(rx.heading(title, size="4"), *children, spacing="2", width="100%"),
        width="100%",
        **props,
    )


def figure(label: str, value: Any, testid: str, **props: Any) -> rx.Component:
    """One headline figure of the overview: ``label`` above ``value`` (``testid`` on it)."""
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color=rx.color("gray", 11)),
            rx.heading(value, size="6", data_testid=testid),
            spacing="1",
        ),
        min_width="11em",
        flex="1",
        **props,
    )


def mini_row(*keys: str, link: tuple[str, str] | None = None) -> Callable[[Any], Any]:
    """A row renderer for :func:`mini_table`: one cell per key of the row dict, in order;
    with ``link=(href prefix, key)`` the first cell links to the prefix + that key's value."""

    def row(r: Any) -> rx.Component:
        cells = []
        for i, key in enumerate(keys):
            if i == 0 and link is not None:
                cells.append(rx.table.cell(rx.link(r[key], href=link[0] + r[link[1]])))
            else:
                cells.append(rx.table.cell(r[key]))
        return rx.table.row(*cells)

    return row


def mini_table(headers: list[str], rows: Any, row: Callable[[Any], Any]) -> rx.Component:
    """A small read-only table (scrolls sideways in its box): ``headers``, then ``row`` of
    each item of the state list ``rows``."""
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(rows, row)),
            size="1",
        ),
        overflow_x="auto",
        width="100%",
    )

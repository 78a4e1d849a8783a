"""The seller's legal pages: terms, privacy notice, legal notice (imprint) and cookies, one
component for the four routes (``state/content.py`` reads the page's file). The HTML comes
from ``services.content.render``, which escapes any raw HTML of the file."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page
from travelsim.i18n import _
from travelsim.state.content import ContentState

#: Readable prose: line length, table borders, spacing of the rendered Markdown.
PROSE = {
    "max_width": "46rem",
    "line_height": "1.6",
    "& h2": {"font_size": "1.25rem", "font_weight": "600", "margin": "1.6em 0 0.5em"},
    "& h3": {"font_size": "1.05rem", "font_weight": "600", "margin": "1.2em 0 0.4em"},
    "& p, & ul, & ol": {"margin": "0 0 0.8em"},
    "& ul, & ol": {"padding_left": "1.4em"},
    "& ul": {"list_style_type": "disc"},
    "& ol": {"list_style_type": "decimal"},
    "& li": {"margin_bottom": "0.3em"},
    "& blockquote p:last-child": {"margin_bottom": "0"},
    "& a": {"color": rx.color("accent", 11), "text_decoration": "underline"},
    "& blockquote": {
        "margin": "0 0 1em",
        "padding": "0.6em 1em",
        "border_left": f"4px solid {rx.color('amber', 9)}",
        "background": rx.color("amber", 3),
        "border_radius": "4px",
    },
    "& table": {"border_collapse": "collapse", "width": "100%", "margin": "0 0 1em"},
    "& th, & td": {
        "border": f"1px solid {rx.color('gray', 6)}",
        "padding": "0.4em 0.6em",
        "text_align": "left",
        "vertical_align": "top",
    },
    "& th": {"background": rx.color("gray", 3)},
    # A cookie name in a table cell breaks only when it cannot fit on a line of its own.
    "& td code": {"overflow_wrap": "break-word"},
    "& code": {
        "font_family": "monospace",
        "font_size": "0.9em",
        "background": rx.color("gray", 3),
        "padding": "0 0.25em",
        "border_radius": "3px",
        "overflow_wrap": "anywhere",
    },
}


def content_page() -> rx.Component:
    s = ContentState
    return page(
        rx.vstack(
            rx.heading(s.title, size="7", data_testid="content-title"),
            rx.cond(
                s.version != "",
                rx.text(s.version_label, size="2", color=rx.color("gray", 11)),
            ),
            rx.cond(
                s.in_english,
                rx.callout(
                    _("This page is not available in your language yet: here it is in English."),
                    icon="languages",
                    size="1",
                ),
            ),
            rx.cond(
                s.unavailable,
                rx.callout(
                    _("This page cannot be shown right now. Please try again later."),
                    icon="triangle-alert",
                    color_scheme="red",
                    role="alert",
                ),
            ),
            rx.box(
                rx.html(s.html),
                width="100%",
                overflow_x="auto",
                style=PROSE,
                data_testid="content-body",
                # A wide table scrolls sideways on a phone: the region takes the keyboard
                # focus so it can be scrolled without a mouse (WCAG 2.1.1, axe
                # scrollable-region-focusable; docs/accessibility.md).
                tab_index=0,
                role="region",
                aria_label=s.title,
            ),
            spacing="3",
            width="100%",
        )
    )

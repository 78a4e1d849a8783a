"""Home page: where travelers find a plan for their destination."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page


def home() -> rx.Component:
    return page(
        rx.vstack(
            rx.heading("Data abroad, without roaming bills", size="8"),
            rx.text(
                "Buy an eSIM with a data add-on, install it from a QR code, and watch your "
                "remaining data live.",
                size="4",
                color=rx.color("gray", 11),
            ),
            spacing="3",
            padding_y="6",
        )
    )

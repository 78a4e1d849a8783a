"""``/status``: is the portal up, is the eSIM platform reachable, when were data usage
figures last brought in. For travelers; machines read ``/healthz`` (JSON). Static texts are
translated when the page is built, the figures' words by the state (docs/i18n.md)."""

from __future__ import annotations

import reflex as rx

from travelsim.components.layout import page
from travelsim.i18n import _
from travelsim.state.status import StatusState


def _row(title: str, badge: rx.Component, *details: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(title, size="4"),
                rx.spacer(),
                badge,
                align="center",
                width="100%",
                wrap="wrap",
            ),
            *details,
            spacing="1",
            width="100%",
        ),
        width="100%",
    )


def _note(*children: rx.Component | str | rx.Var, **props: object) -> rx.Component:
    return rx.text(*children, size="2", color=rx.color("gray", 11), **props)


def status_page() -> rx.Component:
    portal = _row(
        _("Portal"),
        rx.badge(
            rx.cond(StatusState.portal_ok, _("Up"), _("Degraded")),
            color_scheme=rx.cond(StatusState.portal_ok, "green", "red"),
            size="3",
            data_testid="status-portal",
        ),
        _note(
            rx.cond(
                StatusState.portal_ok,
                _("Plans, checkout, sign-in and your eSIM pages are working."),
                _(
                    "Our database is not answering: sign-in and purchases may fail. "
                    "Nothing already paid for is lost."
                ),
            )
        ),
    )
    platform = _row(
        _("eSIM platform"),
        rx.badge(
            StatusState.platform_label,
            color_scheme=rx.match(
                StatusState.platform,
                ("reachable", "green"),
                ("unreachable", "red"),
                "gray",
            ),
            size="3",
            data_testid="status-platform",
        ),
        _note(
            _(
                "The mobile network platform (BICS SIM for Things) that activates eSIMs, adds "
                "data plans and counts data used."
            )
        ),
        rx.cond(
            StatusState.platform_checked != "",
            _note(
                _("Last checked:"),
                " ",
                rx.el.span(StatusState.platform_checked, data_testid="status-platform-checked"),
            ),
        ),
    )
    usage = _row(
        _("Data usage figures"),
        rx.cond(
            StatusState.usage_sync != "",
            rx.badge(StatusState.usage_sync_age, color_scheme="gray", size="3"),
            rx.badge(_("Not updated yet"), color_scheme="gray", size="3"),
        ),
        rx.cond(
            StatusState.usage_sync != "",
            _note(
                _("Last brought in from the platform:"),
                " ",
                rx.el.span(StatusState.usage_sync, data_testid="status-usage-sync"),
            ),
            _note(_("No update has completed yet since the portal started.")),
        ),
        _note(
            _(
                "The data left on your eSIM page is updated about every minute; the platform "
                "itself may report data used with a delay of a few minutes."
            )
        ),
    )
    return page(
        rx.vstack(
            rx.heading(_("Service status"), size="7"),
            rx.cond(
                StatusState.loaded,
                rx.vstack(portal, platform, usage, spacing="3", width="100%"),
                rx.center(rx.spinner(size="3"), width="100%", padding_y="6"),
            ),
            _note(_("Times are in your time zone.")),
            spacing="4",
            width="100%",
            max_width="44em",
        )
    )
